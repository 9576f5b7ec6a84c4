defmodule Hourglass.Faults.RandomTerms do
  @moduledoc """
  Random terms — nested lists, improper lists, maps with the keys the API expects and others,
  tuples, pids, references, functions, bitstrings, invalid UTF-8, huge integers — fed to the
  public entry points: `Hourglass.Native.start_child/1`,
  `Hourglass.ActivityExecutor.DynamicSupervisor.start_child/1`, `Hourglass.ActivityRunner.run/3`,
  `Hourglass.Client` functions and the worker's option validation.

  Each call must return (a clear `{:error, reason}` for bad input), never raise, and the VM and
  the NIF must keep going. The terms come from a seeded generator, so a finding is repeatable.
  """

  alias Hourglass.{ActivityExecutor, ActivityRunner, Client, Native, PayloadCodec}
  alias Hourglass.Faults.Support

  @keys [
    :task_token,
    :activity_type,
    :input,
    :task_queue,
    :activity_task,
    :attempt,
    :heartbeat_details,
    :heartbeat_timeout,
    :start_to_close_timeout,
    :activity_id,
    :workflow_id,
    :run_id,
    :payload_codec,
    :address,
    :namespace,
    :tls,
    :max_concurrent_activities
  ]

  @doc "Runs `count` random calls with `seed`."
  def run(%{client: client}, count, seed \\ 1) do
    :rand.seed(:exsss, {seed, seed * 7, seed * 13})
    queue = Support.queue("random")
    native_before = Native.stats().live
    # Completions of the random tasks that do run go to a sink, not to a server.
    sink = spawn(fn -> drain() end)
    :ok = Hourglass.BridgeHolder.register(queue, {:sink, sink})

    raised =
      Enum.reduce(1..count, %{}, fn index, raised ->
        {name, call} = call(rem(index, length(targets(client, queue))), client, queue)

        try do
          call.()
          raised
        rescue
          exception ->
            Map.update(raised, name, [sample(exception)], &Enum.take([sample(exception) | &1], 3))
        catch
          kind, reason ->
            Map.update(raised, name, [{kind, reason}], &Enum.take([{kind, reason} | &1], 3))
        end
      end)

    # Whatever random tasks started must finish; nothing may be left running.
    settled? =
      Support.wait_until(fn ->
        Native.stats().live == native_before and
          DynamicSupervisor.count_children(ActivityExecutor.DynamicSupervisor).active == 0
      end)

    Hourglass.BridgeHolder.unregister(queue)
    Process.exit(sink, :kill)

    %{
      scenario: "random terms into the API",
      inputs: count,
      seed: seed,
      entry_points: length(targets(client, queue)),
      raised: raised,
      leftovers_cleared: settled?,
      ok: raised == %{} and settled?
    }
  end

  defp drain do
    receive do
      _ -> drain()
    end
  end

  defp sample(exception), do: Exception.format_banner(:error, exception) |> String.slice(0, 200)

  defp call(index, client, queue), do: Enum.at(targets(client, queue), index)

  defp targets(client, queue) do
    complete = fn _queue, _completion -> :ok end

    [
      {"Native.start_child/1", fn -> Native.start_child(term()) end},
      {"Native.start_child/1 (task map)",
       fn -> Native.start_child(%{activity_task: task(), task_queue: pick([queue, term()])}) end},
      {"DynamicSupervisor.start_child/1",
       fn ->
         ActivityExecutor.DynamicSupervisor.start_child(%{
           activity_task: task(),
           task_queue: pick([queue, term()])
         })
       end},
      {"ActivityRunner.run/3", fn -> ActivityRunner.run(task(), queue, complete) end},
      {"Client.start_activity/4",
       fn -> Client.start_activity(client, term(), term(), bad_options()) end},
      {"Client.complete_activity/3",
       fn -> Client.complete_activity(client, bad_target(), term()) end},
      {"Client.fail_activity/3", fn -> Client.fail_activity(client, bad_target(), term()) end},
      {"Client.heartbeat_activity/3",
       fn -> Client.heartbeat_activity(client, bad_target(), term()) end},
      {"Client.result/3", fn -> Client.result(client, bad_target(), timeout: 100) end},
      {"Client.connect/1", fn -> Client.connect([{:not_an_option, term()} | list()]) end},
      {"Worker options", fn -> Hourglass.Worker.Options.validate(term()) end},
      {"Worker options (keyword)",
       fn -> Hourglass.Worker.Options.validate(for key <- sample_keys(), do: {key, term()}) end},
      {"PayloadCodec.validate/1", fn -> PayloadCodec.validate(term()) end},
      {"Payload.to_values/1", fn -> Hourglass.Payload.to_values(list()) end}
    ]
  end

  # Targets that never name a real attempt: the server is asked only about tokens and ids it
  # never issued.
  defp bad_target,
    do: pick([term(), "no-such-token-#{:rand.uniform(1_000)}", %{activity_id: term()}])

  # Never a valid start: without a task queue, nothing reaches the server.
  defp bad_options,
    do: [{:task_queue, pick([nil, 1, :x, ""])} | for(key <- sample_keys(), do: {key, term()})]

  # Depth only grows, so every term is finite (a task inside a term is one level deeper).
  defp task(depth \\ 0) do
    base = %{
      task_token: pick(["t-#{:rand.uniform(100)}", term(depth + 1)]),
      activity_type: pick(["hourglass.echo", "hourglass.sha256", "unknown", term(depth + 1)]),
      input: pick([[], [1], list(depth + 1), term(depth + 1)])
    }

    extra = for key <- sample_keys(), into: %{}, do: {key, term(depth + 1)}
    pick([Map.merge(base, extra), Map.drop(base, [Enum.random(Map.keys(base))]), term(depth + 1)])
  end

  defp sample_keys, do: Enum.take_random(@keys, :rand.uniform(4) - 1)

  defp pick(options), do: Enum.random(options)

  defp term(depth \\ 0) do
    choice = if depth > 3, do: :rand.uniform(10), else: :rand.uniform(16)

    case choice do
      1 -> :rand.uniform(1_000) - 500
      2 -> Integer.pow(2, 64 + :rand.uniform(200)) * pick([1, -1])
      3 -> :rand.uniform() * 1.0e10
      4 -> pick([nil, true, false, :ok, :error, :x])
      5 -> :crypto.strong_rand_bytes(:rand.uniform(20) - 1)
      6 -> pick(["", "text", "hourglass.echo", "ünïcødé", "task"])
      7 -> pick([<<1::3>>, <<0xFF, 0xFE>>])
      8 -> pick([self(), make_ref(), fn -> :ok end, &Kernel.is_atom/1])
      9 -> -0.0
      10 -> String.duplicate("x", :rand.uniform(3) * 1_000)
      11 -> list(depth + 1)
      12 -> [term(depth + 1) | term(depth + 1)]
      13 -> List.to_tuple(for _ <- 1..:rand.uniform(3), do: term(depth + 1))
      14 -> for _ <- 1..:rand.uniform(3), into: %{}, do: {pick(@keys), term(depth + 1)}
      15 -> for _ <- 1..:rand.uniform(3), into: %{}, do: {term(depth + 1), term(depth + 1)}
      16 -> task(depth + 1)
    end
  end

  defp list(depth \\ 0), do: for(_ <- 1..:rand.uniform(4), do: term(depth + 1))
end
