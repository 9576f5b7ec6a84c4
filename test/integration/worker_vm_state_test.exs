defmodule Hourglass.Integration.WorkerVmStateTest do
  # Worker tests that look at state the whole VM shares — the count of live native tasks, the
  # BridgeHolder, every log line — so they run alone (Hourglass.Integration.WorkerTest has the
  # rest).
  use Hourglass.IntegrationCase, async: false

  alias Hourglass.{BridgeHolder, Client, Worker}
  alias Hourglass.IntegrationActivities, as: A

  describe "with a worker" do
    setup ctx do
      start_worker(ctx,
        activities: [A.Echo],
        native_activities: ["hourglass.echo", "hourglass.sleep"]
      )

      :ok
    end

    test "a start-to-close timeout fails the attempt and stops the executor", ctx do
      assert {:error, {:timed_out, :start_to_close}} =
               run_activity(ctx, "hourglass.sleep", [30_000], start_to_close_timeout: 1_000)

      assert_no_live_native_tasks(10_000)
    end

    test "cancellation aborts a native body", ctx do
      {:ok, handle} =
        Client.start_activity(ctx.client, "hourglass.sleep", [60_000],
          task_queue: ctx.queue,
          start_to_close_timeout: 120_000,
          heartbeat_timeout: 1_000
        )

      eventually(fn -> Hourglass.Native.stats().live == 1 end, 10_000)
      :ok = Client.cancel(ctx.client, handle)
      assert {:error, {:cancelled, _}} = Client.result(ctx.client, handle)
      assert_no_live_native_tasks()
    end

    test "a result/3 that times out, or whose caller dies, stops waiting on the server", ctx do
      calls = fn -> Hourglass.Native.stats().client_calls end
      before = calls.()

      {:ok, handle} =
        Client.start_activity(ctx.client, "hourglass.sleep", [2_000],
          task_queue: ctx.queue,
          start_to_close_timeout: 10_000
        )

      assert {:error, :timeout} = Client.result(ctx.client, handle, timeout: 200)
      eventually(fn -> calls.() == before end)

      waiter = spawn(fn -> Client.result(ctx.client, handle) end)
      eventually(fn -> calls.() == before + 1 end)
      Process.exit(waiter, :kill)
      eventually(fn -> calls.() == before end)

      # The activity goes on; its answer reaches only the caller still waiting.
      assert {:ok, 2_000} = Client.result(ctx.client, handle)
      Process.sleep(200)
      refute_received {:"$hourglass_client_reply", _, _}
    end

    test "a few hundred concurrent activities, each completed exactly once", ctx do
      log =
        ExUnit.CaptureLog.capture_log(fn ->
          # A generous start-to-close timeout: a busy CI machine must not fail an attempt that
          # is slow but not lost (a lost completion still fails it, within the stream's timeout).
          results =
            1..300
            |> Task.async_stream(
              fn i ->
                type = if(rem(i, 2) == 0, do: "echo", else: "hourglass.echo")
                {i, run_activity(ctx, type, [i], start_to_close_timeout: 60_000)}
              end,
              max_concurrency: 300,
              timeout: 120_000
            )
            |> Enum.map(fn {:ok, result} -> result end)

          # Named, so that a failure shows which attempts went wrong and how.
          assert [] == for({i, result} <- results, result != {:ok, i}, do: {i, result})
          # Core would warn about a second completion of the same attempt.
          Process.sleep(500)
        end)

      refute log =~ "not tracking"
      refute log =~ "ExecutorExit"
    end
  end

  test "a completion lost to a BridgeHolder restart is redelivered: nothing is lost", ctx do
    worker = start_worker(ctx, activities: [A.Blocked])
    test = register_test()

    {:ok, handle} =
      Client.start_activity(ctx.client, "blocked", [test, 60_000],
        task_queue: ctx.queue,
        start_to_close_timeout: 30_000,
        retry_policy: [initial_interval: 100]
      )

    assert_receive {:started, executor, %{attempt: 1}}, 10_000

    # Hold the worker so it cannot register again before attempt 1 completes.
    :sys.suspend(worker)
    old = Process.whereis(BridgeHolder)
    ref = Process.monitor(executor)
    Process.exit(old, :kill)
    eventually(fn -> Process.whereis(BridgeHolder) not in [nil, old] end)

    log =
      ExUnit.CaptureLog.capture_log(fn ->
        send(executor, :go)
        assert_receive {:DOWN, ^ref, :process, _, :normal}, 5_000
      end)

    assert log =~ "no worker is registered"
    :sys.resume(worker)
    eventually(fn -> BridgeHolder.registered?(ctx.queue) end)

    assert_receive {:started, second, %{attempt: 2}}, 30_000
    send(second, :go)
    assert {:ok, 2} = Client.result(ctx.client, handle)
  end

  test "an attempt that outlives its worker's Core worker is reported by task token: attempt 1",
       ctx do
    test = register_test()
    logs = send_logs()
    on_exit(fn -> stop_sending_logs(logs) end)
    # Core workers are counted VM-wide: let those of earlier tests finish shutting down (and
    # be freed: a process may hold a worker's resource as garbage until it is collected).
    eventually(fn -> core_workers_freed() == 0 end, 60_000)

    first =
      start_supervised!(
        Supervisor.child_spec(
          {Worker,
           task_queue: ctx.queue,
           address: ctx.address,
           activities: [A.Blocked],
           graceful_shutdown_timeout: 0,
           cancel_grace_period: 0},
          restart: :permanent
        )
      )

    {:ok, handle} =
      Client.start_activity(ctx.client, "blocked", [test, 300_000],
        task_queue: ctx.queue,
        start_to_close_timeout: 300_000
      )

    assert_receive {:started, executor, %{attempt: 1}}, 30_000
    Process.exit(first, :kill)
    eventually(fn -> BridgeHolder.registered?(ctx.queue) end, 30_000)

    # The killed worker's Core worker waits for the attempt it handed out, then gives up (5 s
    # after its graceful period and cancel grace) and is gone; the restarted worker has one of
    # its own.
    assert_logged(["Core worker shutdown gave up", "task_queue=#{inspect(ctx.queue)}"], 60_000)

    # No live Core worker tracks the attempt: its completion reaches the server by task token,
    # long before the start-to-close timeout would have the server retry it.
    send(executor, :go)
    assert_logged(["its completion goes to the server by task token"], 30_000)
    assert {:ok, 1} = Client.result(ctx.client, handle, timeout: 30_000)

    # The abandoned Core worker is freed once no process holds its resource, even as garbage
    # (the BridgeHolder keeps a registration term until its next collection): only the
    # restarted worker's own is left.
    eventually(fn -> core_workers_freed() == 1 end, 20_000)
  end

  # The Core workers that exist once every process has collected its garbage.
  defp core_workers_freed do
    for pid <- Process.list(), do: :erlang.garbage_collect(pid)
    Hourglass.Native.stats().core_workers
  end

  test "an activity still running after the graceful period is cancelled and retried elsewhere",
       ctx do
    {:ok, worker} =
      Worker.start(
        task_queue: ctx.queue,
        address: ctx.address,
        native_activities: ["hourglass.sleep"],
        graceful_shutdown_timeout: 500
      )

    {:ok, handle} =
      Client.start_activity(ctx.client, "hourglass.sleep", [3_000],
        task_queue: ctx.queue,
        start_to_close_timeout: 30_000,
        retry_policy: [initial_interval: 100]
      )

    eventually(fn -> Hourglass.Native.stats().live == 1 end, 10_000)
    :ok = Worker.stop(worker)
    assert_no_live_native_tasks()

    start_worker(ctx, native_activities: ["hourglass.sleep"])
    assert {:ok, 3_000} = Client.result(ctx.client, handle)

    assert {:ok, %{attempt: 2, last_failure: nil}} =
             Client.describe(ctx.client, handle)
             |> then(fn {:ok, info} -> {:ok, %{info | last_failure: nil}} end)
  end
end
