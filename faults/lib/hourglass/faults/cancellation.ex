defmodule Hourglass.Faults.Cancellation do
  @moduledoc """
  A cancellation storm: activities running — half native sleeps, half Elixir activities that
  heartbeat — are all cancelled at once. Every one must be reported cancelled, and no executor
  process or native task may be left behind.
  """

  alias Hourglass.{ActivityExecutor, Client, Native}
  alias Hourglass.Faults.Activities.Work
  alias Hourglass.Faults.Support

  @doc "Runs the scenario with `count` activities."
  def run(%{address: address, client: client}, count) do
    queue = Support.queue("cancel")

    worker =
      Support.start_worker(
        task_queue: queue,
        address: address,
        activities: [Work],
        native_activities: ["hourglass.sleep"],
        max_concurrent_activities: count
      )

    native_before = Native.stats().live
    half = div(count, 2)
    # Cancellations reach a worker through heartbeats: a native body's owner heartbeats for it.
    opts = [start_to_close_timeout: 600_000, heartbeat_timeout: 4_000, in_flight: 100]

    handles =
      Support.start_batch(client, queue, "hourglass.sleep", half, [600_000], opts) ++
        Support.start_batch(client, queue, "faults.work", count - half, [600_000], opts)

    all_running? =
      Support.wait_until(fn -> Hourglass.Worker.info(worker).running == count end, 120_000)

    handles
    |> Task.async_stream(&Client.cancel(client, &1, "storm"), max_concurrency: 100)
    |> Stream.run()

    tally = client |> Support.await_all(handles) |> Support.tally()

    clean? =
      Support.wait_until(fn ->
        Native.stats().live == native_before and Hourglass.Worker.info(worker).running == 0
      end)

    Support.stop_worker(worker)

    %{
      scenario: "cancellation storm",
      activities: count,
      faults: count,
      all_running_before_cancel: all_running?,
      cancelled: tally.cancelled,
      lost: count - tally.cancelled,
      native_tasks_left: Native.stats().live - native_before,
      executors_left: DynamicSupervisor.count_children(ActivityExecutor.DynamicSupervisor).active,
      ok: all_running? and clean? and tally.cancelled == count
    }
  end
end
