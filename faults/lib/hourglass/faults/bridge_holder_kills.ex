defmodule Hourglass.Faults.BridgeHolderKills do
  @moduledoc """
  `Hourglass.BridgeHolder` killed again and again while activities run. Completions in flight
  at a kill are lost by design; the worker registers again, reports the lost attempts failed,
  and the server retries them. Every activity must complete.

  Kills are spaced 3 s apart: the application's supervisor (OTP's default
  intensity, 3 restarts in 5 s) gives up on a child killed faster than that, as it should, and
  the spacing leaves room for one more restart caused elsewhere in the same window.
  """

  alias Hourglass.Faults.Activities.Work
  alias Hourglass.Faults.Support

  @spacing_ms 3_000

  @doc "Runs the scenario with `count` activities and `kills` kills."
  def run(%{address: address, client: client}, count, kills) do
    queue = Support.queue("bridge")

    worker =
      Support.start_worker(
        task_queue: queue,
        address: address,
        activities: [Work],
        max_concurrent_activities: 100
      )

    # Short bodies, started over the whole window of kills.
    killer = Task.async(fn -> kill_repeatedly(kills) end)
    window = kills * @spacing_ms

    handles =
      Support.start_batch(client, queue, "faults.work", count, fn _ -> [:rand.uniform(300)] end,
        in_flight: max(div(count * 300, window), 5),
        start_to_close_timeout: 10_000
      )

    done = Task.await(killer, :infinity)
    results = Support.await_all(client, handles)
    tally = Support.tally(results)
    Support.stop_worker(worker)

    %{
      scenario: "BridgeHolder killed repeatedly",
      activities: count,
      faults: done,
      completed: tally.completed,
      lost: count - tally.completed,
      retried_attempts: Enum.count(results, &match?({:ok, %{"attempt" => n}} when n > 1, &1)),
      ok: tally.completed == count and done == kills
    }
  end

  defp kill_repeatedly(kills) do
    Enum.reduce(1..kills, 0, fn _, done ->
      Process.sleep(@spacing_ms)

      case Process.whereis(Hourglass.BridgeHolder) do
        nil ->
          done

        pid ->
          Process.exit(pid, :kill)
          done + 1
      end
    end)
  end
end
