defmodule Hourglass.Faults.SlotChurn do
  @moduledoc """
  Slot churn: Core frees one of `max_concurrent_activities` slots only when the task that took
  it gets its completion, so every task it hands out must get exactly one, whatever happens to
  the attempt. Activities run through a worker with 50 slots while executors are killed at
  random moments — many as soon as they appear, often before the worker has monitored them —
  some activities are cancelled (half of those then killed a moment after the request), and
  the BridgeHolder is killed every 3 s.

  Every activity must end (completed, or, when asked to cancel, cancelled, failed or timed out);
  afterwards all 50 slots must serve new work at once (50 activities counted running together,
  from inside), and a graceful shutdown must finish well before its graceful period, which it
  would wait out for a task still holding a slot.
  """

  alias Hourglass.{ActivityExecutor, Client}
  alias Hourglass.Faults.Activities.Work
  alias Hourglass.Faults.Support

  @slots 50
  # Of the executors seen for the first time (polled every few ms), the share killed at once.
  @kill_new 0.08
  # Each poll, the chance that one running executor is killed.
  @kill_running 0.04
  @poll_ms 5
  # The application supervisor's default intensity allows 3 restarts in 5 s (see
  # Hourglass.Faults.BridgeHolderKills).
  @bridge_holder_every_ms 3_000
  @graceful_ms 30_000

  @doc "Runs the scenario with `count` activities."
  def run(%{address: address, client: client}, count) do
    table = :ets.new(Work.table(), [:named_table, :public, :set])
    :ets.insert(table, [{:in_flight, 0}, {:max, 0}])
    queue = Support.queue("churn")

    worker =
      Support.start_worker(
        task_queue: queue,
        address: address,
        activities: [Work],
        max_concurrent_activities: @slots,
        graceful_shutdown_timeout: @graceful_ms
      )

    # The chaos goes on until 90% of the activities have ended: past that, it would only keep
    # hitting the last few, the scenario's length growing with every kill.
    ended = :counters.new(1, [])
    until = div(count * 9, 10)

    chaos =
      spawn_link(fn -> chaos(%{seen: MapSet.new(), last_kill: now(), ended: {ended, until}}) end)

    # Most attempts are short; every tenth runs 2 s, and those are the ones asked to cancel,
    # so that cancellations reach running attempts (through heartbeats, sent at most every
    # 0.8 s with a 1 s heartbeat timeout).
    handles =
      Support.start_batch(client, queue, "faults.work", count, &[duration(&1)],
        in_flight: 2 * @slots,
        start_to_close_timeout: 30_000,
        heartbeat_timeout: 1_000
      )

    cancelled = for {handle, index} <- Enum.with_index(handles, 1), long?(index), do: handle
    canceller = Task.async(fn -> cancel_some(client, cancelled) end)

    results =
      Support.await_all(client, handles, 4 * @slots, fn _ -> :counters.add(ended, 1, 1) end)

    Task.await(canceller, :infinity)
    faults = stop(chaos)
    tally = Support.tally(results)

    # Nothing runs, and every completion has been acknowledged (one lost to a BridgeHolder
    # kill is reported lost 10 s after its attempt ended, freeing its slot).
    idle? =
      Support.wait_until(fn ->
        match?(%{running: 0, unacknowledged: 0}, Hourglass.Worker.info(worker))
      end)

    # No slot leaked: all of them are busy at once again. (Killed executors never counted
    # themselves out; `slots_usable/3` starts from zero, now that none runs.)
    again = Support.slots_usable(client, queue, @slots)
    started = now()
    Support.stop_worker(worker)
    shutdown_ms = now() - started
    :ets.delete(table)

    # Once its cancellation was asked for, an activity whose attempt fails or times out (killed
    # before the worker learned of the request) ends so, instead of being retried.
    asked = MapSet.new(cancelled)

    {finished, odd} =
      Enum.zip(handles, results)
      |> Enum.split_with(fn
        {_handle, {:ok, _}} -> true
        {handle, {:error, {_outcome, _}}} -> handle in asked
        _ -> false
      end)

    %{
      scenario: "slot churn",
      activities: count,
      attempts: attempts(results),
      faults: faults,
      completed: tally.completed,
      cancelled: tally.cancelled,
      failed_after_cancel_request: tally.failed,
      # What ended otherwise, for the diagnosis (the first few).
      unexpected: odd |> Enum.take(3) |> Enum.map(fn {_handle, result} -> result end),
      lost: length(odd),
      max_concurrent_activities: @slots,
      slots_usable_after: again,
      graceful_shutdown_ms: shutdown_ms,
      ok: length(finished) == count and idle? and again == @slots and shutdown_ms < @graceful_ms
    }
  end

  defp chaos(state, counts \\ %{killed_at_start: 0, killed_running: 0, bridge_holder_kills: 0}) do
    receive do
      {:stop, from} -> send(from, {:chaos_done, counts})
    after
      @poll_ms ->
        {ended, until} = state.ended

        if :counters.get(ended, 1) >= until do
          chaos_over(counts)
        else
          {state, counts} = strike(state, counts)
          chaos(state, counts)
        end
    end
  end

  # Past the chaos: waits to be asked for the counts.
  defp chaos_over(counts) do
    receive do
      {:stop, from} -> send(from, {:chaos_done, counts})
    end
  end

  # One poll: kills some executors that appeared since the last one, maybe one that runs, and
  # the BridgeHolder when its turn has come.
  defp strike(state, counts) do
    pids =
      for {_, pid, _, _} <- DynamicSupervisor.which_children(ActivityExecutor.DynamicSupervisor),
          is_pid(pid),
          do: pid

    {new, running} = Enum.split_with(pids, &(not MapSet.member?(state.seen, &1)))
    at_start = for pid <- new, :rand.uniform() < @kill_new, do: kill(pid)

    running_kills =
      if running != [] and :rand.uniform() < @kill_running,
        do: [kill(Enum.random(running))],
        else: []

    {state, bridge_holder_kills} = maybe_kill_bridge_holder(state)

    counts = %{
      counts
      | killed_at_start: counts.killed_at_start + length(at_start),
        killed_running: counts.killed_running + length(running_kills),
        bridge_holder_kills: counts.bridge_holder_kills + bridge_holder_kills
    }

    {%{state | seen: MapSet.new(pids)}, counts}
  end

  defp kill(pid), do: Process.exit(pid, :kill)

  defp maybe_kill_bridge_holder(state) do
    with true <- now() - state.last_kill >= @bridge_holder_every_ms,
         pid when is_pid(pid) <- Process.whereis(Hourglass.BridgeHolder) do
      Process.exit(pid, :kill)
      {%{state | last_kill: now()}, 1}
    else
      _ -> {state, 0}
    end
  end

  defp stop(chaos) do
    send(chaos, {:stop, self()})

    receive do
      {:chaos_done, counts} -> counts
    end
  end

  defp long?(index), do: rem(index, 10) == 0
  defp duration(index), do: if(long?(index), do: 2_000, else: :rand.uniform(300))

  # Cancellations at random moments: before, during or after the attempt (after it, the
  # activity's completion stands). Half of the attempts asked to cancel are then killed a
  # moment later, often before they could report the cancellation.
  defp cancel_some(client, handles) do
    handles
    |> Task.async_stream(
      fn handle ->
        Process.sleep(:rand.uniform(1_500))
        Client.cancel(client, handle, "churn")

        with true <- :rand.uniform() < 0.5,
             [{_, pid}] <- :ets.lookup(Work.table(), {:pid, handle.activity_id}) do
          Process.sleep(:rand.uniform(1_000))
          Process.exit(pid, :kill)
        end
      end,
      max_concurrency: 50,
      timeout: :infinity
    )
    |> Stream.run()
  end

  # Attempts of the completed activities (each reports its own number); a cancelled one counts
  # as one.
  defp attempts(results) do
    Enum.reduce(results, 0, fn
      {:ok, %{"attempt" => attempt}}, sum -> sum + attempt
      _, sum -> sum + 1
    end)
  end

  defp now, do: System.monotonic_time(:millisecond)
end
