defmodule Hourglass.Bench.Memory do
  @moduledoc """
  Memory per in-flight activity: `:count` (default 10_000) native sleeps, then as many Elixir
  sleeps, held in flight while memory is measured.

  The BEAM side is the growth of `:erlang.memory(:total)`; the Rust side is the growth of the
  NIF's own heap, which its counting allocator reports (`Hourglass.Native.stats/0`,
  `rust_heap_bytes`). Both are divided by the count.
  """

  alias Hourglass.{ActivityExecutor, ActivityRegistry, Bench, BridgeHolder, Native}

  @doc "Runs the suite."
  def run(opts \\ []) do
    count = Keyword.get(opts, :count, 10_000)
    queue = "bench-memory"
    :ok = ActivityRegistry.register(queue, activities: [Bench.Activities.Sleep])
    sink = spawn(fn -> Process.sleep(:infinity) end)
    :ok = BridgeHolder.register(queue, {:sink, sink})

    native =
      measure(count, fn ->
        Native.start_child(%{
          activity_task: %{task_token: "t", activity_type: "hourglass.sleep", input: [600_000]},
          task_queue: queue
        })
      end)

    elixir =
      measure(count, fn ->
        ActivityExecutor.DynamicSupervisor.start_child(%{
          activity_task: %{task_token: "t", activity_type: "bench.sleep", input: [600_000]},
          task_queue: queue
        })
      end)

    Process.exit(sink, :kill)
    ActivityRegistry.unregister(queue)

    Bench.chart(
      "memory",
      :bars,
      [
        {"native: BEAM", native.beam_bytes},
        {"native: Rust", native.rust_bytes},
        {"Elixir: BEAM", elixir.beam_bytes},
        {"Elixir: Rust", elixir.rust_bytes}
      ],
      title: "Bytes per in-flight activity (#{count} in flight)",
      ylabel: "bytes"
    )

    %{count: count, native: native, elixir: elixir}
  end

  defp measure(count, start) do
    settle()
    {beam_before, rust_before} = {:erlang.memory(:total), Native.stats().rust_heap_bytes}
    pids = for _ <- 1..count, do: elem(start.(), 1)
    Process.sleep(500)
    settle()
    {beam_after, rust_after} = {:erlang.memory(:total), Native.stats().rust_heap_bytes}
    live = Native.stats().live
    Enum.each(pids, &DynamicSupervisor.terminate_child(ActivityExecutor.DynamicSupervisor, &1))
    wait_empty()
    beam = beam_after - beam_before
    rust = rust_after - rust_before

    %{
      beam_bytes: div(beam, count),
      rust_bytes: div(rust, count),
      total_bytes: div(beam + rust, count),
      native_tasks_live: live
    }
  end

  defp settle do
    for pid <- Process.list(), do: :erlang.garbage_collect(pid)
    Process.sleep(200)
  end

  defp wait_empty do
    if DynamicSupervisor.count_children(ActivityExecutor.DynamicSupervisor).active > 0 or
         Native.stats().live > 0 do
      Process.sleep(50)
      wait_empty()
    end
  end
end
