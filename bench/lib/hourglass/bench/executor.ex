defmodule Hourglass.Bench.Executor do
  @moduledoc """
  Executor overhead, no server: how many activities per second go from `start_child/1` to a
  completion routed by `Hourglass.BridgeHolder.complete_activity_task/2` (to a sink).

    * native no-ops (`hourglass.echo`) through `Hourglass.Native.start_child/1`, their completion
      sent from tokio back to the owner, which routes it;
    * Elixir no-ops through `Hourglass.ActivityExecutor.DynamicSupervisor.start_child/1`;
    * the baseline: a bare `Task.Supervisor` child sending one message.

  Between the baseline and the native path, the steps of a native attempt one at a time (its
  owner under the executor supervisor; its completion routed by
  `Hourglass.BridgeHolder.complete_activity_task/2`; the task checked by the NIF in the caller;
  the body on tokio, its completion sent back to the owner), to show where the cost goes.

  The variants alternate for several rounds; each reports its median rate.
  """

  alias Hourglass.{ActivityExecutor, ActivityRegistry, Bench, BridgeHolder, Native}

  @native_task %{task_token: "t", activity_type: "hourglass.echo", input: [nil]}

  @doc "Runs the suite; `:count` activities per round (default 100_000), `:rounds` (default 3)."
  def run(opts \\ []) do
    count = Keyword.get(opts, :count, 100_000)
    rounds = Keyword.get(opts, :rounds, 3)
    queue = "bench-executor"
    :ok = ActivityRegistry.register(queue, activities: [Bench.Activities.Noop])
    {:ok, task_sup} = Task.Supervisor.start_link()

    variants = [
      native: fn ->
        Native.start_child(%{
          activity_task: @native_task,
          task_queue: queue
        })
      end,
      elixir: fn ->
        ActivityExecutor.DynamicSupervisor.start_child(%{
          activity_task: %{task_token: "t", activity_type: "bench.noop", input: [nil]},
          task_queue: queue
        })
      end,
      baseline: fn sink ->
        Task.Supervisor.start_child(task_sup, fn ->
          send(sink, {:hourglass_completion, queue, %{}})
        end)
      end,
      step_owner: fn sink -> start_owner(:send_to_sink, [sink, queue]) end,
      step_routed: fn _sink -> start_owner(:route, [queue]) end,
      step_checked: fn _sink ->
        {:ok, _prepared} = Native.native_task_prepare(@native_task, queue)
        start_owner(:route, [queue])
      end,
      step_tokio: fn _sink -> start_owner(:run_native, [queue]) end
    ]

    rates =
      for _round <- 1..rounds, {name, start} <- variants, reduce: %{} do
        acc ->
          Map.update(
            acc,
            name,
            [measure(queue, count, start)],
            &[measure(queue, count, start) | &1]
          )
      end

    result =
      Map.new(rates, fn {name, samples} ->
        {name, %{per_second: Bench.median(samples), rounds: Enum.reverse(samples)}}
      end)
      |> Map.put(:count, count)
      |> Map.put(
        :native_vs_baseline,
        Float.round(Bench.median(rates.native) / Bench.median(rates.baseline), 2)
      )

    BridgeHolder.unregister(queue)
    ActivityRegistry.unregister(queue)

    Bench.chart(
      "executor",
      :bars,
      [
        {"Task.Supervisor baseline", Bench.median(rates.baseline)},
        {"step: owner child", Bench.median(rates.step_owner)},
        {"step: + routed", Bench.median(rates.step_routed)},
        {"step: + checked", Bench.median(rates.step_checked)},
        {"step: + tokio body", Bench.median(rates.step_tokio)},
        {"native (start_child)", Bench.median(rates.native)},
        {"Elixir", Bench.median(rates.elixir)}
      ],
      title: "Executor throughput, no server (#{System.schedulers_online()} cores)",
      ylabel: "activities per second"
    )

    result
  end

  # The steps: a proc_lib child of the executor supervisor, like a native owner, that does one
  # more part of a native attempt's work each time.
  defp start_owner(what, args) do
    DynamicSupervisor.start_child(ActivityExecutor.DynamicSupervisor, %{
      id: :step,
      start: {__MODULE__, :start_step, [what, args]},
      restart: :temporary
    })
  end

  @doc false
  def start_step(what, args), do: {:ok, :proc_lib.spawn_link(__MODULE__, what, args)}

  @doc false
  def send_to_sink(sink, queue), do: send(sink, {:hourglass_completion, queue, %{}})

  @doc false
  def route(queue) do
    :ok =
      BridgeHolder.complete_activity_task(queue, %{task_token: "t", result: {:completed, nil}})
  end

  @doc false
  # The body on tokio, its completion sent back to this process (a completion function other
  # than the BridgeHolder's own), which then routes it: no hop through the BridgeHolder.
  def run_native(queue) do
    :ok = Native.TaskOwner.run(@native_task, queue, &route_completion/2)
  end

  defp route_completion(queue, completion),
    do: BridgeHolder.complete_activity_task(queue, completion)

  # Starts `count` activities from one producer per scheduler and times them until the sink
  # has every completion.
  defp measure(queue, count, start) do
    test = self()
    sink = spawn_link(fn -> sink(count, test) end)
    :ok = BridgeHolder.register(queue, {:sink, sink})
    producers = System.schedulers_online() * 2
    per_producer = div(count, producers)
    started = System.monotonic_time(:microsecond)

    for _ <- 1..producers do
      spawn_link(fn ->
        for _ <- 1..per_producer do
          {:ok, _} = if is_function(start, 1), do: start.(sink), else: start.()
        end
      end)
    end

    send(sink, {:expect, per_producer * producers})

    receive do
      :all_done -> :ok
    after
      120_000 -> raise "the executor benchmark did not finish"
    end

    elapsed = System.monotonic_time(:microsecond) - started
    BridgeHolder.unregister(queue)
    wait_idle()
    Float.round(per_producer * producers / (elapsed / 1_000_000), 1)
  end

  defp sink(_count, test) do
    receive do
      {:expect, expected} -> sink_loop(expected, test)
    end
  end

  defp sink_loop(0, test), do: send(test, :all_done)

  defp sink_loop(left, test) do
    receive do
      {:hourglass_completion, _, _} -> sink_loop(left - 1, test)
    end
  end

  defp wait_idle do
    if DynamicSupervisor.count_children(ActivityExecutor.DynamicSupervisor).active > 0 or
         Native.stats().live > 0 do
      Process.sleep(20)
      wait_idle()
    end
  end
end
