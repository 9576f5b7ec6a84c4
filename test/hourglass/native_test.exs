defmodule Hourglass.NativeTest do
  # Native task counters are global to the VM, so these tests run one at a time.
  use ExUnit.Case, async: false
  import ExUnit.CaptureLog
  import Hourglass.TestHelpers

  alias Hourglass.{
    ActivityExecutor,
    ActivityRegistry,
    ActivityRunner,
    ApplicationError,
    BridgeHolder,
    Native
  }

  setup do
    queue = unique_queue()
    :ok = BridgeHolder.register(queue, {:sink, self()})
    on_exit(fn -> BridgeHolder.unregister(queue) end)
    assert_no_live_native_tasks()
    %{queue: queue}
  end

  defp start(queue, type, input, token \\ token()) do
    Native.start_child(%{
      activity_task: %{task_token: token, activity_type: type, input: input},
      task_queue: queue
    })
  end

  test "lists the built-in activity types" do
    types = Native.activity_types()
    assert Enum.all?(["hourglass.echo", "hourglass.sleep", "hourglass.sha256"], &(&1 in types))
  end

  test "the NIF's heap is counted: nif!() installs the counting allocator" do
    assert Native.stats().rust_heap_bytes > 0
  end

  test "the benchmarks' baselines, which hold a scheduler, are not in a NIF outside MIX_ENV=bench" do
    assert_raise ErlangError, ~r/nif_not_loaded/, fn ->
      Native.bench_sha256_on_scheduler("x", 1)
    end

    assert_raise ErlangError, ~r/nif_not_loaded/, fn -> Native.bench_sha256_dirty_cpu("x", 1) end

    assert_raise ErlangError, ~r/nif_not_loaded/, fn ->
      Native.bench_payloads_from_values_on_scheduler([1])
    end
  end

  test "built-ins complete into the registered sink and their owner exits normally", %{
    queue: queue
  } do
    {:ok, echo} = start(queue, "hourglass.echo", [%{"a" => [1, 2]}], "t-echo")
    {:ok, sleep} = start(queue, "hourglass.sleep", [20], "t-sleep")
    {:ok, sha} = start(queue, "hourglass.sha256", [%{"data" => "abc", "rounds" => 1}], "t-sha")
    refs = for pid <- [echo, sleep, sha], do: Process.monitor(pid)

    assert_receive {:hourglass_completion, ^queue,
                    %{task_token: "t-echo", result: {:completed, %{"a" => [1, 2]}}}}

    assert_receive {:hourglass_completion, ^queue,
                    %{task_token: "t-sleep", result: {:completed, 20}}}

    assert_receive {:hourglass_completion, ^queue,
                    %{
                      task_token: "t-sha",
                      result:
                        {:completed,
                         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}
                    }}

    # The echo may be gone before it could be monitored (:noproc); the others end :normal.
    for ref <- refs,
        do: assert_receive({:DOWN, ^ref, :process, _, reason} when reason in [:normal, :noproc])

    assert_no_live_native_tasks()
  end

  test "sha256 hashes the raw digest in later rounds", %{queue: queue} do
    expected =
      Enum.reduce(1..3, "abc", fn _, data -> :crypto.hash(:sha256, data) end)
      |> Base.encode16(case: :lower)

    {:ok, _} = start(queue, "hourglass.sha256", [%{"data" => "abc", "rounds" => 3}], "t-3")

    assert_receive {:hourglass_completion, ^queue,
                    %{task_token: "t-3", result: {:completed, ^expected}}}
  end

  test "bad arguments to a built-in fail the attempt, non-retryable", %{queue: queue} do
    {:ok, _} = start(queue, "hourglass.sha256", [%{"data" => "abc", "rounds" => 0}], "t-bad")

    assert_receive {:hourglass_completion, ^queue,
                    %{
                      task_token: "t-bad",
                      result:
                        {:failed, %ApplicationError{type: "InvalidArgument", non_retryable: true}}
                    }}
  end

  test "terms round-trip: big integers, floats, unicode, nesting, atoms as strings", %{
    queue: queue
  } do
    value = %{
      "big" => 123_456_789_012_345_678_901_234_567_890,
      "neg" => -98_765_432_109_876_543_210,
      "float" => 1.5e-7,
      "text" => "zażółć 🦀",
      "list" => [[], %{}, nil, true, false],
      atom_key: :atom_value
    }

    {:ok, _} = start(queue, "hourglass.echo", [value], "t-rt")

    assert_receive {:hourglass_completion, ^queue,
                    %{task_token: "t-rt", result: {:completed, echoed}}}

    assert echoed == %{
             "big" => 123_456_789_012_345_678_901_234_567_890,
             "neg" => -98_765_432_109_876_543_210,
             "float" => 1.5e-7,
             "text" => "zażółć 🦀",
             "list" => [[], %{}, nil, true, false],
             "atom_key" => "atom_value"
           }
  end

  test "killing the owner aborts its tokio task and sends nothing", %{queue: queue} do
    {:ok, pid} = start(queue, "hourglass.sleep", [60_000])
    eventually(fn -> Native.stats().live == 1 end)
    aborted = Native.stats().aborted
    Process.exit(pid, :kill)
    assert_no_live_native_tasks()
    assert Native.stats().aborted == aborted + 1
    refute_receive {:hourglass_completion, _, _}, 100
  end

  test "terminate_child aborts a busy CPU body promptly", %{queue: queue} do
    {:ok, pid} = start(queue, "hourglass.sha256", [%{"data" => "x", "rounds" => 1_000_000_000}])
    eventually(fn -> Native.stats().live == 1 end)
    :ok = DynamicSupervisor.terminate_child(ActivityExecutor.DynamicSupervisor, pid)
    assert_no_live_native_tasks(2_000)
    refute_receive {:hourglass_completion, _, _}, 100
  end

  test "a panicking body fails the attempt with type Panic, logged, and the VM carries on", %{
    queue: queue
  } do
    log =
      capture_log(fn ->
        {:ok, _} = start(queue, "hourglass.test.panic", ["kaboom"], "t-panic")

        assert_receive {:hourglass_completion, ^queue,
                        %{
                          task_token: "t-panic",
                          result: {:failed, %ApplicationError{type: "Panic", message: message}}
                        }},
                       5_000

        assert message =~ "kaboom"
        # The Rust tracing event reaches Logger through the log forwarder.
        Process.sleep(200)
      end)

    # Logged once, by the executor, with where it happened (not also by the panic hook, and not
    # on standard error).
    assert log =~
             ~r/native activity panicked: kaboom \(at native\/hourglass_test_nif\/src\/lib.rs:\d+\)/

    assert length(String.split(log, "kaboom")) == 2
    {:ok, _} = start(queue, "hourglass.echo", ["still alive"], "t-after")

    assert_receive {:hourglass_completion, ^queue,
                    %{task_token: "t-after", result: {:completed, "still alive"}}}
  end

  test "a panic on a NIF thread outside any body reaches Logger, with its thread and place", %{
    queue: queue
  } do
    log =
      capture_log(fn ->
        {:ok, _} = start(queue, "hourglass.test.panic_detached", ["adrift"], "t-detached")

        assert_receive {:hourglass_completion, ^queue,
                        %{task_token: "t-detached", result: {:completed, %{"panicked" => true}}}},
                       5_000

        # The Rust tracing event reaches Logger through the log forwarder.
        Process.sleep(200)
      end)

    assert log =~
             ~r/\[error\].*thread 'hourglass-io' panicked at native\/hourglass_test_nif\/src\/lib.rs:\d+: adrift/
  end

  test "10,000 concurrent native sleeps all complete and leave no live task", %{queue: queue} do
    count = 10_000

    for i <- 1..count do
      {:ok, _} = start(queue, "hourglass.sleep", [200], "t-#{i}")
    end

    tokens =
      for _ <- 1..count do
        assert_receive {:hourglass_completion, ^queue,
                        %{task_token: token, result: {:completed, 200}}},
                       30_000

        token
      end

    assert length(Enum.uniq(tokens)) == count
    assert_no_live_native_tasks()

    eventually(fn ->
      DynamicSupervisor.count_children(ActivityExecutor.DynamicSupervisor).active == 0
    end)
  end

  test "busy CPU bodies do not hold up a BEAM process's message round trip", %{queue: queue} do
    bodies = 2 * System.schedulers_online()

    for _ <- 1..bodies do
      {:ok, _} = start(queue, "hourglass.sha256", [%{"data" => "x", "rounds" => 50_000_000}])
    end

    eventually(fn -> Native.stats().live == bodies end)
    echo = spawn_link(fn -> echo_loop() end)

    worst =
      for _ <- 1..200, reduce: 0 do
        worst ->
          started = System.monotonic_time(:microsecond)
          send(echo, {:ping, self()})
          assert_receive :pong, 5_000
          Process.sleep(2)
          max(worst, System.monotonic_time(:microsecond) - started)
      end

    # Generous, because a CI machine may be busy with more than this test: the benchmark
    # measures the round trip properly. A body of 50 million rounds (~4 s of one core) on a
    # scheduler would stall it for seconds; the low-priority pool keeps it far below this bound.
    assert worst < 1_000_000, "worst round trip #{worst} µs"
    assert Native.stats().live == bodies

    DynamicSupervisor.which_children(ActivityExecutor.DynamicSupervisor)
    |> Enum.each(fn {_, pid, _, _} ->
      DynamicSupervisor.terminate_child(ActivityExecutor.DynamicSupervisor, pid)
    end)

    assert_no_live_native_tasks()
  end

  defp echo_loop do
    receive do
      {:ping, from} ->
        send(from, :pong)
        echo_loop()
    end
  end

  test "completions are converted and routed in their owners: a stalled BridgeHolder holds up none",
       %{queue: queue} do
    # Wide values arrive deferred and are built by whoever receives them: the owners, not the
    # BridgeHolder (which before this held every native completion in its mailbox).
    wide = for i <- 1..200, into: %{}, do: {"k#{i}", i}
    :ok = :sys.suspend(BridgeHolder)

    try do
      for i <- 1..20, do: {:ok, _} = start(queue, "hourglass.echo", [wide], "t-stalled-#{i}")

      for i <- 1..20 do
        token = "t-stalled-#{i}"

        assert_receive {:hourglass_completion, ^queue, %{task_token: ^token, result: result}},
                       10_000

        assert result == {:completed, wide}
      end
    after
      :sys.resume(BridgeHolder)
    end

    assert_no_live_native_tasks()
  end

  test "with no worker registered for the queue the completion is logged as dropped, nothing crashes" do
    queue = unique_queue()

    log =
      capture_log(fn ->
        # A sleep, not an echo: an echo can end before the monitor is set (a :noproc DOWN).
        {:ok, pid} = start(queue, "hourglass.sleep", [100])
        ref = Process.monitor(pid)
        assert_receive {:DOWN, ^ref, :process, _, :normal}, 5_000
        Process.sleep(50)
      end)

    assert log =~ "no worker is registered for task queue #{inspect(queue)}"
  end

  describe "bad input" do
    test "start_child refuses malformed arguments with a clear error", %{queue: queue} do
      children = DynamicSupervisor.count_children(ActivityExecutor.DynamicSupervisor).active

      assert {:error, {:invalid_child_args, :nope}} = Native.start_child(:nope)
      assert {:error, {:invalid_child_args, %{}}} = Native.start_child(%{})

      assert {:error, {:invalid_activity_task, "the activity task must be a map"}} =
               Native.start_child(%{activity_task: [1], task_queue: queue})

      assert {:error, :invalid_task_queue} =
               Native.start_child(%{
                 activity_task: %{task_token: "t", activity_type: "hourglass.echo", input: []},
                 task_queue: 7
               })

      for {task, needle} <- [
            {%{activity_type: "hourglass.echo", input: []}, ":task_token"},
            {%{task_token: 1, activity_type: "hourglass.echo", input: []},
             "task_token must be a binary"},
            {%{task_token: "t", activity_type: <<255>>, input: []}, "activity_type"},
            {%{task_token: "t", activity_type: "hourglass.echo"}, ":input"},
            {%{task_token: "t", activity_type: "hourglass.echo", input: :x},
             "input must be a list"},
            {%{task_token: "t", activity_type: "hourglass.echo", input: [1 | 2]},
             "improper list"},
            {%{task_token: "t", activity_type: "hourglass.echo", input: [], attempt: 0},
             "attempt"},
            {%{task_token: "t", activity_type: "hourglass.echo", input: [self()]},
             "a pid cannot be converted"},
            {%{task_token: "t", activity_type: "hourglass.echo", input: [<<255, 0>>]},
             "not valid UTF-8"},
            {%{task_token: "t", activity_type: "hourglass.echo", input: [%{{1} => 1}]},
             "map key"},
            {%{task_token: "t", activity_type: "hourglass.echo", input: [[1 | 2]]},
             "improper list"},
            {%{task_token: "t", activity_type: "hourglass.echo", input: [&Kernel.+/2]},
             "function"},
            {%{task_token: "t", activity_type: "hourglass.echo", input: [<<1::3>>]}, "bitstring"}
          ] do
        assert {:error, {:invalid_activity_task, message}} =
                 Native.start_child(%{activity_task: task, task_queue: queue})

        assert message =~ needle
      end

      assert {:error, {:unknown_activity_type, "nope"}} = start(queue, "nope", [])

      assert DynamicSupervisor.count_children(ActivityExecutor.DynamicSupervisor).active ==
               children

      assert Native.stats().live == 0
    end

    test "deeply nested and oversized arguments are refused", %{queue: queue} do
      deep = Enum.reduce(1..1_000, 0, fn _, acc -> [acc] end)
      assert {:error, {:invalid_activity_task, message}} = start(queue, "hourglass.echo", [deep])
      assert message =~ "nested deeper than 100 levels"

      big = String.duplicate("x", 17 * 1024 * 1024)
      assert {:error, {:invalid_activity_task, message}} = start(queue, "hourglass.echo", [big])
      assert message =~ "larger than"
    end

    test "the same inputs through ActivityRunner.run/3 fail the attempt instead", %{queue: queue} do
      :ok = ActivityRegistry.register(queue, native_activities: ["hourglass.echo"])

      assert :ok =
               ActivityRunner.run(
                 %{task_token: "t-r", activity_type: "hourglass.echo", input: [self()]},
                 queue
               )

      assert_receive {:hourglass_completion, ^queue,
                      %{
                        task_token: "t-r",
                        result: {:failed, %ApplicationError{type: "InvalidActivityTask"}}
                      }}
    end
  end

  test "log records never pile up in the forwarder's mailbox: the rest are dropped, counted",
       %{queue: queue} do
    forwarder = Process.whereis(Hourglass.Native.LogForwarder)
    dropped = Native.stats().log_dropped

    capture_log(fn ->
      # A Logger that cannot keep up, at its worst: the forwarder handles nothing.
      :sys.suspend(forwarder)

      try do
        {:ok, _} = start(queue, "hourglass.test.log", [20_000])
        assert_receive {:hourglass_completion, ^queue, %{result: {:completed, 20_000}}}, 30_000
        eventually(fn -> Native.stats().log_dropped >= dropped + 20_000 - 2 * 4_096 end)
        {:message_queue_len, waiting} = Process.info(forwarder, :message_queue_len)
        assert waiting <= 4_096
        assert Native.native_log_in_mailbox() <= 4_096
      after
        :sys.resume(forwarder)
      end

      eventually(fn -> Native.native_log_in_mailbox() == 0 end, 30_000)
    end)
  end

  test "the log level can be changed at run time: events below it are not forwarded",
       %{queue: queue} do
    assert {:error, :log_level} = Native.set_log_level(:loud)
    handler = send_logs(:warning)

    try do
      capture_log(fn ->
        # One warning while the level is :error, then three at :warning.
        assert :ok = Native.set_log_level(:error)
        {:ok, _} = start(queue, "hourglass.test.log", [1])
        assert_receive {:hourglass_completion, ^queue, %{result: {:completed, 1}}}
        assert :ok = Native.set_log_level(:warning)
        {:ok, _} = start(queue, "hourglass.test.log", [3])
        assert_receive {:hourglass_completion, ^queue, %{result: {:completed, 3}}}
      end)

      # Records arrive in order: by the time the last is logged, the first would have been.
      assert ["index=0", "index=1", "index=2"] = floods_until("index=2", [])
    after
      Native.set_log_level(:warning)
      stop_sending_logs(handler)
    end
  end

  defp floods_until(last, seen) do
    receive do
      {:logged, message, _meta} ->
        case Regex.run(~r/hourglass\.test\.log flood (index=\d+)/, message) do
          [_, ^last] -> Enum.reverse([last | seen])
          [_, index] -> floods_until(last, [index | seen])
          nil -> floods_until(last, seen)
        end
    after
      5_000 -> flunk("#{last} was not logged in time; seen: #{inspect(Enum.reverse(seen))}")
    end
  end
end
