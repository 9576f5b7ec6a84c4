defmodule Hourglass.Faults.Load do
  @moduledoc """
  Load: many activities through a worker with `max_concurrent_activities: 200`, driven with
  twice that many in flight. The limit must never be exceeded (counted inside the activities),
  BEAM and Rust memory must return to their baseline, and afterwards every slot must still be
  usable (200 activities run at once again).
  """

  alias Hourglass.Native
  alias Hourglass.Faults.Activities.Work
  alias Hourglass.Faults.Support

  @max 200

  @doc "Runs the scenario with `count` activities."
  def run(%{address: address, client: client}, count) do
    table = :ets.new(Work.table(), [:named_table, :public, :set])
    :ets.insert(table, [{:in_flight, 0}, {:max, 0}])
    queue = Support.queue("load")

    worker =
      Support.start_worker(
        task_queue: queue,
        address: address,
        activities: [Work],
        max_concurrent_activities: @max
      )

    # Warm up, then take the baseline.
    client |> Support.await_all(Support.start_batch(client, queue, "faults.work", 50, [0]))
    baseline = memory()

    results =
      client
      |> Support.start_batch(queue, "faults.work", count, [2_000], in_flight: 2 * @max)
      |> then(&Support.await_all(client, &1, 2 * @max))

    tally = Support.tally(results)
    [{:max, most}] = :ets.lookup(table, :max)
    after_load = settle_memory(baseline)

    # No slot leaked: all of them can be busy at once again.
    again = Support.slots_usable(client, queue, @max)
    Support.stop_worker(worker)
    :ets.delete(table)

    beam_growth = after_load.beam - baseline.beam
    rust_growth = after_load.rust - baseline.rust

    %{
      scenario: "load",
      activities: count,
      completed: tally.completed,
      lost: count - tally.completed,
      max_concurrent_activities: @max,
      most_running_at_once: most,
      slots_usable_after: again,
      beam_bytes_growth: beam_growth,
      rust_bytes_growth: rust_growth,
      ok:
        tally.completed == count and most <= @max and again == @max and
          beam_growth < 20_000_000 and rust_growth < 5_000_000
    }
  end

  defp memory do
    for pid <- Process.list(), do: :erlang.garbage_collect(pid)
    %{beam: :erlang.memory(:total), rust: Native.stats().rust_heap_bytes}
  end

  # Memory is back once it stops shrinking towards the baseline (processes that ended are
  # reclaimed a little later); whatever remains after that is growth.
  defp settle_memory(baseline, tries \\ 20) do
    now = memory()

    if tries == 0 or
         (now.beam - baseline.beam < 5_000_000 and now.rust - baseline.rust < 1_000_000) do
      now
    else
      Process.sleep(250)
      settle_memory(baseline, tries - 1)
    end
  end
end
