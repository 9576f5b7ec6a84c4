defmodule Hourglass.ActivityRunnerTest do
  use ExUnit.Case, async: true
  import ExUnit.CaptureLog
  import Hourglass.TestHelpers

  alias Hourglass.{ActivityRegistry, ActivityRunner, ApplicationError, BridgeHolder}

  alias Hourglass.TestActivities.{
    Greet,
    Introspect,
    LogMetadata,
    Outcome,
    Plain,
    PollCancelled,
    WaitForCancel
  }

  setup do
    queue = unique_queue()

    :ok =
      ActivityRegistry.register(queue,
        activities: [Greet, Plain, Outcome, Introspect, WaitForCancel, PollCancelled, LogMetadata],
        native_activities: ["hourglass.echo", "hourglass.sleep"]
      )

    on_exit(fn -> ActivityRegistry.unregister(queue) end)
    %{queue: queue}
  end

  defp collect(queue, task) do
    test = self()

    result =
      ActivityRunner.run(task, queue, fn q, completion ->
        send(test, {:done, q, completion}) && :ok
      end)

    assert_receive {:done, ^queue, completion}, 5_000
    refute_received {:done, _, _}
    {result, completion}
  end

  defp result_of(queue, type, input) do
    task = %{task_token: token(), activity_type: type, input: input}
    {:ok, %{task_token: token, result: result}} = collect(queue, task)
    assert token == task.task_token
    result
  end

  test "an Elixir activity completes with its value", %{queue: queue} do
    assert result_of(queue, "greet", ["Ada"]) == {:completed, "Hello, Ada!"}
  end

  test "the default name is the module name without Elixir.", %{queue: queue} do
    assert Hourglass.Activity.name(Plain) == "Hourglass.TestActivities.Plain"
    assert result_of(queue, "Hourglass.TestActivities.Plain", []) == {:completed, nil}
  end

  test "return values and errors become completions as documented", %{queue: queue} do
    assert {:failed,
            %ApplicationError{type: "Error", message: ":out_of_stock", non_retryable: false}} =
             result_of(queue, "outcome", ["error_tuple"])

    assert {:failed, %ApplicationError{type: "Error", message: "out of stock"}} =
             result_of(queue, "outcome", ["error_string"])

    assert {:failed,
            %ApplicationError{
              type: "CardDeclined",
              message: "declined",
              non_retryable: true,
              details: [%{"code" => 51}],
              next_retry_delay: 2_000
            }} = result_of(queue, "outcome", ["app_error"])

    assert {:failed, %ApplicationError{type: "Raised", message: "raised it", stack_trace: trace}} =
             result_of(queue, "outcome", ["raise_app_error"])

    assert trace =~ "test_activities.ex"

    assert {:failed,
            %ApplicationError{
              type: "ArgumentError",
              message: "bad argument here",
              non_retryable: false,
              stack_trace: trace
            }} = result_of(queue, "outcome", ["raise"])

    assert trace =~ "Hourglass.TestActivities.Outcome.execute/1"

    assert {:failed, %ApplicationError{type: "Throw", message: "throw: :ball"}} =
             result_of(queue, "outcome", ["throw"])

    assert {:failed, %ApplicationError{type: "Exit", message: "exit: :gone"}} =
             result_of(queue, "outcome", ["exit"])

    assert {:failed, %ApplicationError{type: "InvalidReturnValue", message: message}} =
             result_of(queue, "outcome", ["weird"])

    assert message =~ ":weird"
  end

  test "a wrong number of arguments fails the attempt and names the arities", %{queue: queue} do
    assert {:failed, %ApplicationError{type: "ArgumentError", message: message}} =
             result_of(queue, "greet", ["a", "b"])

    assert message =~ "got 2 argument(s)"
    assert message =~ "execute/1"
  end

  test "an unknown activity type fails the attempt and lists what is registered", %{queue: queue} do
    assert {:failed, %ApplicationError{type: "NotFoundError", message: message}} =
             result_of(queue, "nope", [])

    assert message =~ ~s("nope")
    assert message =~ ~s("greet")
  end

  test "info/0 and heartbeats inside an activity", %{queue: queue} do
    :ok = BridgeHolder.register(queue, {:sink, self()})
    on_exit(fn -> BridgeHolder.unregister(queue) end)

    task = %{
      task_token: "tok-info",
      activity_type: "introspect",
      input: [],
      activity_id: "act-1",
      attempt: 3,
      heartbeat_details: [%{"step" => 0}],
      workflow_id: "wf-1",
      start_to_close_timeout: 30_000
    }

    assert :ok = ActivityRunner.run(task, queue)

    assert_receive {:hourglass_heartbeat, ^queue,
                    %{task_token: "tok-info", details: [%{"step" => 1}]}}

    assert_receive {:hourglass_heartbeat, ^queue, %{task_token: "tok-info", details: []}}

    assert_receive {:hourglass_completion, ^queue,
                    %{task_token: "tok-info", result: {:completed, info}}}

    assert %{
             activity_id: "act-1",
             activity_type: "introspect",
             attempt: 3,
             task_queue: ^queue,
             task_token: "tok-info",
             heartbeat_details: [%{"step" => 0}],
             workflow_id: "wf-1",
             workflow_run_id: nil,
             start_to_close_timeout: 30_000
           } = info
  end

  test "attempt defaults to 1", %{queue: queue} do
    assert {:completed, %{attempt: 1, heartbeat_details: []}} = result_of(queue, "introspect", [])
  end

  test "log lines of an activity carry its metadata", %{queue: queue} do
    task = %{
      task_token: token(),
      activity_type: "log_metadata",
      input: [],
      activity_id: "a-9",
      workflow_id: "wf-9",
      attempt: 2
    }

    {:ok, %{result: {:completed, metadata}}} = collect(queue, task)

    assert metadata == %{
             "activity_id" => "a-9",
             "activity_type" => "log_metadata",
             "attempt" => 2,
             "task_queue" => queue,
             "workflow_id" => "wf-9"
           }
  end

  test "outside an activity the context functions raise a clear error" do
    for fun <- [
          &Hourglass.Activity.info/0,
          &Hourglass.Activity.heartbeat/0,
          &Hourglass.Activity.cancelled?/0
        ] do
      error = assert_raise Hourglass.Activity.NotInActivityError, fun
      assert Exception.message(error) =~ "outside an activity"
    end

    assert_raise Hourglass.Activity.NotInActivityError, fn -> Hourglass.Activity.heartbeat(1) end
  end

  test "cancelling an Elixir activity makes heartbeat raise and reports it cancelled", %{
    queue: queue
  } do
    test = self()
    task = %{task_token: "tok-cancel", activity_type: "wait_for_cancel", input: [pid_arg(self())]}

    {:ok, runner} =
      Task.start(fn ->
        ActivityRunner.run(task, queue, fn q, c -> send(test, {:done, q, c}) && :ok end)
      end)

    assert_receive {:running, ^runner}
    ActivityRunner.cancel(runner, "stop please")

    assert_receive {:done, ^queue,
                    %{task_token: "tok-cancel", result: {:cancelled, "stop please"}}},
                   5_000
  end

  test "an activity polling cancelled?/0 can stop with its own result", %{queue: queue} do
    test = self()
    task = %{task_token: "tok-poll", activity_type: "poll_cancelled", input: [pid_arg(self())]}

    {:ok, runner} =
      Task.start(fn ->
        ActivityRunner.run(task, queue, fn q, c -> send(test, {:done, q, c}) && :ok end)
      end)

    assert_receive {:running, ^runner}
    ActivityRunner.cancel(runner)
    assert_receive {:done, ^queue, %{result: {:completed, "stopped cleanly"}}}, 5_000
  end

  test "the default complete_fn reports an unregistered queue, logged, without raising", %{
    queue: queue
  } do
    log =
      capture_log(fn ->
        assert {:error, :worker_not_registered} =
                 ActivityRunner.run(
                   %{task_token: token(), activity_type: "greet", input: ["x"]},
                   queue
                 )
      end)

    assert log =~ "no worker is registered for task queue"
  end

  test "a complete_fn that crashes or misbehaves is logged, not raised", %{queue: queue} do
    task = %{task_token: token(), activity_type: "greet", input: ["x"]}

    log =
      capture_log(fn ->
        assert {:error, {:complete_fn_crashed, {:error, %RuntimeError{}}}} =
                 ActivityRunner.run(task, queue, fn _, _ -> raise "sink exploded" end)

        assert {:error, {:unexpected_return, :whatever}} =
                 ActivityRunner.run(task, queue, fn _, _ -> :whatever end)
      end)

    assert log =~ "sink exploded"
  end

  describe "native activities through run/3" do
    test "with a custom complete_fn the completion comes back to the runner", %{queue: queue} do
      assert {:completed, %{"deep" => [1, 2.5, nil, true]}} =
               result_of(queue, "hourglass.echo", [%{"deep" => [1, 2.5, nil, true]}])
    end

    test "with the default complete_fn it goes straight to the BridgeHolder", %{queue: queue} do
      :ok = BridgeHolder.register(queue, {:sink, self()})
      on_exit(fn -> BridgeHolder.unregister(queue) end)

      assert :ok =
               ActivityRunner.run(
                 %{task_token: "tok-n", activity_type: "hourglass.sleep", input: [5]},
                 queue
               )

      assert_receive {:hourglass_completion, ^queue,
                      %{task_token: "tok-n", result: {:completed, 5}}}
    end

    test "cancelling a native body reports it cancelled", %{queue: queue} do
      test = self()
      task = %{task_token: "tok-ncancel", activity_type: "hourglass.sleep", input: [60_000]}

      {:ok, runner} =
        Task.start(fn ->
          ActivityRunner.run(task, queue, fn q, c -> send(test, {:done, q, c}) && :ok end)
        end)

      Process.sleep(50)
      ActivityRunner.cancel(runner, "timeout")

      assert_receive {:done, ^queue,
                      %{task_token: "tok-ncancel", result: {:cancelled, "timeout"}}},
                     5_000
    end

    test "an argument the NIF cannot convert fails the attempt, non-retryable", %{queue: queue} do
      assert {:failed,
              %ApplicationError{
                type: "InvalidActivityTask",
                non_retryable: true,
                message: message
              }} = result_of(queue, "hourglass.echo", [{:tuple}])

      assert message =~ "tuple"
    end
  end

  describe "malformed tasks" do
    test "with a token, the attempt fails with a non-retryable error naming the field", %{
      queue: queue
    } do
      for {task, field} <- [
            {%{task_token: "t", activity_type: "greet"}, ":input"},
            {%{task_token: "t", activity_type: 42, input: []}, "activity_type"},
            {%{task_token: "t", activity_type: "greet", input: "x"}, "input"},
            {%{task_token: "t", activity_type: "greet", input: [], attempt: 0}, "attempt"},
            {%{task_token: "t", activity_type: "greet", input: [], heartbeat_timeout: -1},
             "heartbeat_timeout"}
          ] do
        {_, %{task_token: "t", result: {:failed, error}}} = collect(queue, task)
        assert %ApplicationError{type: "InvalidActivityTask", non_retryable: true} = error
        assert error.message =~ field
      end
    end

    test "without a token, nothing can be shipped: an error is returned and logged", %{
      queue: queue
    } do
      for task <- [nil, "task", %{}, %{task_token: 123, activity_type: "greet", input: []}] do
        log =
          capture_log(fn ->
            assert {:error, {:invalid_activity_task, _}} =
                     ActivityRunner.run(task, queue, fn _, _ -> flunk("shipped") end)
          end)

        assert log =~ "cannot run activity task"
      end
    end
  end
end
