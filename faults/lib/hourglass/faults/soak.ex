defmodule Hourglass.Faults.Soak do
  @moduledoc """
  A soak: activities started at a steady rate for a while, Elixir and native alike, while
  random faults strike every few seconds — the BridgeHolder killed, a running executor killed,
  the worker itself stopped and started again. At the end every activity must have completed;
  the figures say how many attempts the faults cost (duplicates: attempts after the first).
  """

  alias Hourglass.{ActivityExecutor, BridgeHolder}
  alias Hourglass.Faults.Activities.Work
  alias Hourglass.Faults.Support

  @rate_per_second 20
  # The application's supervisor allows 3 restarts of a child in 5 s: faults stay sparser, with
  # room for one more restart from elsewhere in the same window.
  @fault_every_ms 3_000

  @doc "Runs the soak for `seconds` with a random seed `seed`."
  def run(%{address: address, client: client}, seconds, seed \\ 1) do
    :rand.seed(:exsss, {seed, seed + 1, seed + 2})
    queue = Support.queue("soak")

    worker_opts = [
      task_queue: queue,
      address: address,
      activities: [Work],
      native_activities: ["hourglass.sleep"]
    ]

    Support.start_worker(worker_opts)
    deadline = System.monotonic_time(:millisecond) + seconds * 1_000
    chaos = Task.async(fn -> strike_until(deadline, worker_opts, []) end)

    handles = produce(client, queue, deadline, [])
    faults = Task.await(chaos, :infinity)
    results = Support.await_all(client, handles)
    Support.stop_worker(current_worker(queue))
    tally = Support.tally(results)

    # Native sleeps return their input, not the attempt: ask the server how many it took.
    duplicates =
      handles
      |> Task.async_stream(&Hourglass.Client.describe(client, &1), max_concurrency: 50)
      |> Enum.count(&match?({:ok, {:ok, %{attempt: attempt}}} when attempt > 1, &1))

    %{
      scenario: "soak",
      seconds: seconds,
      activities: length(handles),
      faults: length(faults),
      fault_kinds: Enum.frequencies(faults),
      completed: tally.completed,
      lost: length(handles) - tally.completed,
      duplicate_attempts: duplicates,
      ok: tally.completed == length(handles)
    }
  end

  # One activity every 1/rate seconds, alternating Elixir and native, each started without
  # waiting for the previous one.
  defp produce(client, queue, deadline, handles) do
    if System.monotonic_time(:millisecond) >= deadline do
      handles |> Enum.reverse() |> Enum.map(&Task.await(&1, :infinity))
    else
      {type, args} =
        if rem(length(handles), 2) == 0,
          do: {"faults.work", [:rand.uniform(1_000)]},
          else: {"hourglass.sleep", [:rand.uniform(1_000)]}

      starter =
        Task.async(fn ->
          [handle] =
            Support.start_batch(client, queue, type, 1, args,
              start_to_close_timeout: 10_000,
              heartbeat_timeout: 3_000
            )

          handle
        end)

      Process.sleep(div(1_000, @rate_per_second))
      produce(client, queue, deadline, [starter | handles])
    end
  end

  defp strike_until(deadline, worker_opts, faults) do
    Process.sleep(@fault_every_ms)

    if System.monotonic_time(:millisecond) >= deadline,
      do: faults,
      else: strike_until(deadline, worker_opts, [strike(worker_opts) | faults])
  end

  defp strike(worker_opts) do
    case Enum.random([:kill_bridge_holder, :kill_executor, :restart_worker]) do
      :kill_bridge_holder ->
        if pid = Process.whereis(BridgeHolder), do: Process.exit(pid, :kill)
        :kill_bridge_holder

      :kill_executor ->
        case DynamicSupervisor.which_children(ActivityExecutor.DynamicSupervisor) do
          [] -> :none_running
          children -> children |> Enum.random() |> elem(1) |> Process.exit(:kill)
        end

        :kill_executor

      :restart_worker ->
        # Stopped gracefully (in-flight attempts finish or are handed back), then replaced.
        Support.stop_worker(current_worker(worker_opts[:task_queue]))
        Support.start_worker(worker_opts)
        :restart_worker
    end
  end

  defp current_worker(queue) do
    Enum.find_value(Supervisor.which_children(Hourglass.Supervisor), fn
      {{Hourglass.Worker, ^queue}, pid, _, _} when is_pid(pid) -> pid
      _ -> nil
    end)
  end
end
