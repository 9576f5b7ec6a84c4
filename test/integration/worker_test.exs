defmodule Hourglass.Integration.WorkerTest do
  # Each test on a task queue of its own, so they run beside other modules; what looks at
  # VM-wide state (native task counts, the BridgeHolder, every log line) is in
  # Hourglass.Integration.WorkerVmStateTest.
  use Hourglass.IntegrationCase, async: true

  alias Hourglass.{ApplicationError, BridgeHolder, Client, Worker}
  alias Hourglass.IntegrationActivities, as: A

  @all [
    A.Echo,
    A.FailUntil,
    A.NonRetryable,
    A.Resume,
    A.Silent,
    A.Heartbeating,
    A.Blocked,
    A.Concurrency,
    A.Unencodable
  ]
  @natives ["hourglass.echo", "hourglass.sleep", "hourglass.sha256"]

  describe "with a worker" do
    setup ctx do
      %{worker: start_worker(ctx, activities: @all, native_activities: @natives)}
    end

    test "Elixir and native activities complete with their results", ctx do
      value = %{
        "list" => [1, 2.5, nil, true],
        "big" => 123_456_789_012_345_678_901_234_567_890,
        "text" => "zażółć"
      }

      assert {:ok, ^value} = run_activity(ctx, "echo", [value])
      assert {:ok, ^value} = run_activity(ctx, "hourglass.echo", [value])
      assert {:ok, 5} = run_activity(ctx, "hourglass.sleep", [5])

      assert {:ok, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"} =
               run_activity(ctx, "hourglass.sha256", [%{"data" => "abc", "rounds" => 1}])

      assert {:ok, nil} = run_activity(ctx, "echo", [nil])
      assert {:ok, <<0, 255>>} = run_activity(ctx, "echo", [<<0, 255>>])

      # Core's acknowledgements are looked up rather than sent: every one is found.
      eventually(fn -> match?(%{running: 0, unacknowledged: 0}, Worker.info(ctx.worker)) end)
    end

    test "the CLI runs a Standalone Activity on it", ctx do
      {out, 0} =
        cli(ctx, [
          "activity",
          "execute",
          "--activity-id",
          "cli-#{ctx.queue}",
          "--type",
          "echo",
          "--task-queue",
          ctx.queue,
          "--start-to-close-timeout",
          "10s",
          "--input",
          ~s({"from":"cli"})
        ])

      assert out =~ "COMPLETED"
      assert out =~ ~s({"from":"cli"})
    end

    test "the server owns retries: attempts count up", ctx do
      assert {:ok, 3} =
               run_activity(ctx, "fail_until", [3], retry_policy: [initial_interval: 100])

      assert {:error, {:failed, %ApplicationError{type: "Error", message: "attempt 2 fails"}}} =
               run_activity(ctx, "fail_until", [5],
                 retry_policy: [initial_interval: 100, maximum_attempts: 2]
               )
    end

    test "a non-retryable error stops retries at once", ctx do
      {:ok, handle} =
        Client.start_activity(ctx.client, "non_retryable", [],
          task_queue: ctx.queue,
          start_to_close_timeout: 10_000,
          retry_policy: [maximum_attempts: 10]
        )

      assert {:error,
              {:failed,
               %ApplicationError{
                 type: "Fatal",
                 message: "give up",
                 non_retryable: true,
                 details: [%{"why" => "testing"}],
                 stack_trace: trace
               }}} = Client.result(ctx.client, handle)

      assert trace =~ "integration_activities.ex"
      assert {:ok, %{attempt: 1, status: :failed}} = Client.describe(ctx.client, handle)
    end

    test "heartbeat details reach the next attempt", ctx do
      assert {:ok, [%{"done" => 41}]} =
               run_activity(ctx, "resume", [],
                 heartbeat_timeout: 5_000,
                 retry_policy: [initial_interval: 100, maximum_attempts: 2]
               )
    end

    test "an activity that stops heartbeating times out", ctx do
      assert {:error, {:timed_out, :heartbeat}} =
               run_activity(ctx, "silent", [3_000], heartbeat_timeout: 1_000)
    end

    test "an attempt's times reach the activity as the DateTimes Elixir makes of them", ctx do
      test = register_test()
      before = DateTime.utc_now()
      assert {:ok, 1} = run_activity(ctx, "blocked", [test, 0])
      assert_receive {:started, _pid, info}, 10_000

      for key <- [:scheduled_time, :current_attempt_scheduled_time, :started_time] do
        time = Map.fetch!(info, key)
        assert %DateTime{time_zone: "Etc/UTC", microsecond: {_, 6}} = time, inspect(key)
        assert time == DateTime.from_unix!(DateTime.to_unix(time, :microsecond), :microsecond)
        assert abs(DateTime.diff(time, before, :second)) < 60, inspect({key, time, before})
      end

      assert DateTime.compare(info.scheduled_time, info.started_time) in [:lt, :eq]
    end

    test "cancellation reaches an Elixir activity through its heartbeat", ctx do
      test = register_test()

      {:ok, handle} =
        Client.start_activity(ctx.client, "heartbeating", [test],
          task_queue: ctx.queue,
          start_to_close_timeout: 60_000,
          heartbeat_timeout: 2_000
        )

      assert_receive {:started, pid, _info}, 10_000
      :ok = Client.cancel(ctx.client, handle, "no longer needed")
      assert_receive {:cancelled, ^pid, :cancelled}, 10_000
      assert {:error, {:cancelled, _details}} = Client.result(ctx.client, handle)

      assert {:ok, %{status: :cancelled, canceled_reason: "no longer needed"}} =
               Client.describe(ctx.client, handle)
    end

    test "a 1 MiB payload travels both ways", ctx do
      big = String.duplicate("x", 1024 * 1024)
      assert {:ok, ^big} = run_activity(ctx, "echo", [big])
      assert {:ok, ^big} = run_activity(ctx, "hourglass.echo", [big])
    end

    test "an unknown activity type fails the attempt with a clear message", ctx do
      assert {:error, {:failed, %ApplicationError{type: "NotFoundError", message: message}}} =
               run_activity(ctx, "no_such_activity", [])

      assert message =~ "no_such_activity"
    end

    test "a payload that cannot be decoded fails the attempt, non-retryable", ctx do
      {out, _} =
        cli(ctx, [
          "activity",
          "execute",
          "--activity-id",
          "enc-#{ctx.queue}",
          "--type",
          "echo",
          "--task-queue",
          ctx.queue,
          "--start-to-close-timeout",
          "10s",
          "--input",
          ~s("x"),
          "--input-meta",
          "encoding=binary/encrypted"
        ])

      assert out =~ "FAILED"
      assert out =~ "binary/encrypted"

      assert {:ok,
              %{
                attempt: 1,
                last_failure:
                  {:failed, %ApplicationError{type: "PayloadDecodingError", non_retryable: true}}
              }} = Client.describe(ctx.client, "enc-#{ctx.queue}")
    end

    test "a result that cannot be encoded fails the attempt clearly", ctx do
      assert {:error,
              {:failed,
               %ApplicationError{
                 type: "PayloadEncodingError",
                 message: message,
                 non_retryable: true
               }}} = run_activity(ctx, "unencodable", [])

      assert message =~ "tuple"
    end
  end

  test "max_concurrent_activities is never exceeded", ctx do
    table = :"concurrency_#{System.unique_integer([:positive])}"
    :ets.new(table, [:named_table, :public])
    :ets.insert(table, [{:running, 0}, {:max, 0}])
    start_worker(ctx, activities: [A.Concurrency], max_concurrent_activities: 3)

    1..30
    |> Task.async_stream(
      fn _ -> {:ok, nil} = run_activity(ctx, "concurrency", [Atom.to_string(table)]) end,
      max_concurrency: 30,
      timeout: 120_000
    )
    |> Stream.run()

    assert [{:max, max}] = :ets.lookup(table, :max)
    assert max in 1..3
  end

  test "an Elixir activity that ignores its cancellation is killed after the grace period", ctx do
    start_worker(ctx, activities: [A.Blocked], cancel_grace_period: 300)
    test = register_test()

    {:ok, handle} =
      Client.start_activity(ctx.client, "blocked", [test, 60_000],
        task_queue: ctx.queue,
        start_to_close_timeout: 1_000,
        retry_policy: [maximum_attempts: 1]
      )

    assert_receive {:started, executor, _}, 10_000
    ref = Process.monitor(executor)
    # The start-to-close timeout cancels it; it only waits for :go, so it is killed.
    assert_receive {:DOWN, ^ref, :process, _, :killed}, 10_000
    assert {:error, {:timed_out, :start_to_close}} = Client.result(ctx.client, handle)
  end

  test "a worker that crashes and restarts: its in-flight activities complete on attempt 1",
       ctx do
    test = register_test()

    first =
      start_supervised!(
        Supervisor.child_spec(
          {Worker, task_queue: ctx.queue, address: ctx.address, activities: [A.Blocked]},
          restart: :permanent
        )
      )

    handles =
      for _ <- 1..50 do
        {:ok, handle} =
          Client.start_activity(ctx.client, "blocked", [test, 120_000],
            task_queue: ctx.queue,
            start_to_close_timeout: 120_000
          )

        handle
      end

    executors =
      for _ <- 1..50 do
        assert_receive {:started, executor, %{attempt: 1}}, 30_000
        executor
      end

    Process.exit(first, :kill)

    eventually(fn ->
      match?(
        [{worker, _}] when worker != first,
        Registry.lookup(Hourglass.Worker.Registry, ctx.queue)
      ) and
        BridgeHolder.registered?(ctx.queue)
    end)

    # Completed through the new worker, but reported by the Core worker that issued them,
    # which still waits for them: attempt 1, long before the start-to-close timeout.
    Enum.each(executors, &send(&1, :go))

    for handle <- handles do
      assert {:ok, 1} = Client.result(ctx.client, handle, timeout: 30_000)
    end
  end

  test "killing the worker does not kill in-flight activities", ctx do
    {:ok, worker} =
      Worker.start(task_queue: ctx.queue, address: ctx.address, activities: [A.Blocked])

    test = register_test()

    {:ok, _handle} =
      Client.start_activity(ctx.client, "blocked", [test, 60_000],
        task_queue: ctx.queue,
        start_to_close_timeout: 30_000
      )

    assert_receive {:started, executor, _}, 10_000
    Process.exit(worker, :kill)
    Process.sleep(100)
    assert Process.alive?(executor)
    send(executor, :go)
  end

  test "stopping a worker lets in-flight activities finish on their first attempt", ctx do
    {:ok, worker} =
      Worker.start(
        task_queue: ctx.queue,
        address: ctx.address,
        activities: [A.Blocked],
        graceful_shutdown_timeout: 10_000
      )

    test = register_test()

    handles =
      for _ <- 1..3 do
        {:ok, handle} =
          Client.start_activity(ctx.client, "blocked", [test, 1_000],
            task_queue: ctx.queue,
            start_to_close_timeout: 30_000
          )

        handle
      end

    for _ <- 1..3, do: assert_receive({:started, _, _}, 10_000)
    :ok = Worker.stop(worker)

    for handle <- handles, do: assert({:ok, 1} = Client.result(ctx.client, handle))
    refute BridgeHolder.registered?(ctx.queue)
  end

  test "without gRPC compression, a worker and a client serve as with it", ctx do
    start_worker(ctx,
      activities: [A.Echo],
      native_activities: ["hourglass.echo"],
      grpc_compression: :none
    )

    {:ok, client} = Client.connect(address: ctx.address, grpc_compression: :none)
    big = String.duplicate("compressible ", 80_000)

    for type <- ["echo", "hourglass.echo"] do
      assert {:ok, ^big} = run_activity(%{ctx | client: client}, type, [big])
    end
  end

  test "Prometheus metrics are served when asked for", ctx do
    {:ok, _} = Application.ensure_all_started(:inets)
    worker = start_worker(ctx, activities: [A.Echo], metrics_address: "127.0.0.1:0")
    assert {:ok, _} = run_activity(ctx, "echo", [1])
    %{metrics_address: address} = Worker.info(worker)

    {:ok, {{_, 200, _}, _, body}} =
      :httpc.request(:get, {String.to_charlist("http://#{address}/metrics"), []}, [], [])

    assert to_string(body) =~ "temporal_"
  end

  describe "start errors" do
    test "bad options", _ctx do
      assert {:error, {:invalid_option, :task_queue, _}} = Worker.start_link(activities: [A.Echo])

      assert {:error, {:invalid_option, :max_concurrent_activities, message}} =
               Worker.start_link(
                 task_queue: "q",
                 activities: [A.Echo],
                 max_concurrent_activities: 0
               )

      assert message =~ "positive integer"

      assert {:error, {:invalid_option, :activities, _}} =
               Worker.start_link(task_queue: "q", activities: [String])

      assert {:error, {:invalid_option, :deadlock_timeout, _}} =
               Worker.start_link(task_queue: "q", activities: [A.Echo], deadlock_timeout: 0)

      for not_exceptions <- [[String], ArgumentError, ["ArgumentError"]] do
        assert {:error, {:invalid_option, :workflow_failure_exception_types, message}} =
                 Worker.start_link(
                   task_queue: "q",
                   activities: [A.Echo],
                   workflow_failure_exception_types: not_exceptions
                 )

        assert message =~ "exception modules"
      end

      # A workflow's own: checked as it compiles.
      assert_raise ArgumentError, ~r/:failure_exception_types must be a list of exception/, fn ->
        Code.compile_string("""
        defmodule HourglassBadFailureTypes do
          use Hourglass.Workflow, failure_exception_types: [String]
          def run, do: {:ok, 1}
        end
        """)
      end

      assert_raise ArgumentError, ~r/:unfinished_policies must map signal or update names/, fn ->
        Code.compile_string("""
        defmodule HourglassBadPolicies do
          use Hourglass.Workflow, unfinished_policies: %{"u" => :later}
          def run, do: {:ok, 1}
        end
        """)
      end

      assert {:error, {:invalid_option, :native_activities, _}} =
               Worker.start_link(task_queue: "q", native_activities: ["nope"])

      assert {:error, {:invalid_option, :bogus, _}} =
               Worker.start_link(task_queue: "q", activities: [A.Echo], bogus: 1)

      assert {:error, {:invalid_option, :tls, _}} =
               Worker.start_link(task_queue: "q", activities: [A.Echo], tls: [client_cert: "x"])

      assert {:error, {:invalid_option, :metrics_address, _}} =
               Worker.start_link(
                 task_queue: "q",
                 activities: [A.Echo],
                 metrics_address: "nowhere"
               )

      assert {:error,
              {:invalid_option, :grpc_compression,
               ":grpc_compression must be :gzip or :none" <> _}} =
               Worker.start_link(task_queue: "q", activities: [A.Echo], grpc_compression: :zstd)

      assert {:error, {:invalid_option, :grpc_compression, _}} =
               Client.connect(grpc_compression: "none")

      assert {:error, {:invalid_option, :activities, _}} = Worker.start_link(task_queue: "q")
    end

    test "a second worker for a task queue in use is refused; the first serves on", ctx do
      first = start_worker(ctx, activities: [A.Echo])
      queue = ctx.queue

      assert {:error, {:task_queue_in_use, ^queue, ^first}} =
               Worker.start(task_queue: queue, activities: [A.Silent], address: ctx.address)

      # Nor can a test hook take the live worker's queue over.
      assert {:error, {:task_queue_in_use, ^queue, ^first}} =
               BridgeHolder.register(queue, {:sink, self()})

      assert {:error, {:task_queue_in_use, ^queue, ^first}} =
               Hourglass.ActivityRegistry.register(queue, activities: [A.Echo])

      # The refused worker and hooks removed nothing of the first one's.
      assert BridgeHolder.registered?(queue)
      assert {:ok, "still here"} = run_activity(ctx, "echo", ["still here"])

      # Once the first is gone, the name is free again.
      :ok = stop_supervised({Worker, queue})
      second = start_worker(ctx, activities: [A.Echo])
      assert second != first
      assert {:ok, "second"} = run_activity(ctx, "echo", ["second"])
    end

    test "an unreachable server or an unknown namespace, with require_connection", ctx do
      assert {:error, {:connect_failed, message}} =
               Worker.start(
                 task_queue: ctx.queue,
                 activities: [A.Echo],
                 address: "127.0.0.1:1",
                 connect_timeout: 2_000,
                 require_connection: true
               )

      assert message =~ "cannot connect"

      assert {:error, {:connect_failed, message}} =
               Worker.start(
                 # A queue of its own: the first refused worker's claim on ctx.queue ends when
                 # its process is gone, which the Registry learns asynchronously.
                 task_queue: ctx.queue <> "-namespace",
                 activities: [A.Echo],
                 address: ctx.address,
                 namespace: "no-such-namespace",
                 require_connection: true
               )

      assert message =~ "no-such-namespace"
    end
  end

  test "a worker started while the server is down starts, keeps trying and serves once it is up",
       ctx do
    # A free port, with nothing listening on it yet.
    {:ok, socket} = :gen_tcp.listen(0, ip: {127, 0, 0, 1})
    {:ok, port} = :inet.port(socket)
    :ok = :gen_tcp.close(socket)
    address = "127.0.0.1:#{port}"

    log =
      ExUnit.CaptureLog.capture_log(fn ->
        worker = start_worker(ctx, activities: [A.Echo], address: address, connect_timeout: 1_000)

        assert %{connected: false} = Worker.info(worker)
        refute BridgeHolder.registered?(ctx.queue)

        # The server comes up on that port; the worker connects on a later try.
        start_supervised!({Hourglass.DevServer, port: port})
        eventually(fn -> Worker.info(worker).connected end, 60_000)
        assert BridgeHolder.registered?(ctx.queue)

        {:ok, client} = Client.connect(address: address)
        assert {:ok, "late"} = run_activity(%{ctx | client: client}, "echo", ["late"])
      end)

    assert log =~ "cannot connect"
    assert log =~ "trying again in 1000 ms"
  end
end
