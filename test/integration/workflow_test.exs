defmodule Hourglass.Integration.WorkflowTest do
  # Elixir workflows on a worker, started, signalled, queried and cancelled by the official
  # Python SDK's client against the dev server.
  use Hourglass.IntegrationCase, async: true

  alias Hourglass.IntegrationActivities, as: A
  alias Hourglass.IntegrationWorkflows, as: W

  @script Path.expand("../support/python/workflow_client.py", __DIR__)

  # Runs the steps through the Python client; the outcome of each, in order.
  defp python(ctx, steps) do
    {:ok, [%{data: json}]} = Hourglass.Payload.from_values([steps])
    {out, status} = System.cmd("python3", [@script, ctx.address, json], stderr_to_stdout: true)
    assert status == 0, out
    python_results(out)
  end

  defp start(ctx, id, workflow, args),
    do: %{op: "start", id: id, workflow: workflow, task_queue: ctx.queue, args: args}

  setup ctx do
    start_worker(ctx,
      workflows: [
        W.Approval,
        W.FanOut,
        W.Failing,
        W.PassesOn,
        W.Replayed,
        W.Cancellable,
        W.Crashing,
        W.Stuck,
        W.Looping,
        W.LateHandlers,
        W.CrossQueue,
        W.AwaitTimeout,
        W.Counter,
        W.Parent,
        W.ParentOfLong,
        W.PythonChild,
        W.Tagged,
        W.Clock,
        W.Locals,
        W.LocalBackoff,
        W.SignalStarts,
        W.WaitingUpdates
      ],
      activities: [A.Echo, A.NonRetryable, A.FailUntil],
      native_activities: ["hourglass.sleep"]
    )

    :ok
  end

  test "a run's clock: workflow time from each activation and its start time, as DateTimes",
       ctx do
    alias Hourglass.Client

    id = "clock-#{ctx.queue}"
    {:ok, handle} = Client.start_workflow(ctx.client, "Clock", [], id: id, task_queue: ctx.queue)

    assert {:ok, %{"micros" => [first, second, started], "as_elixir_makes_them" => true}} =
             Client.workflow_result(ctx.client, handle)

    {:ok, %{start_time: start_time}} = Client.describe_workflow(ctx.client, handle)
    assert started == DateTime.to_unix(start_time, :microsecond)
    # Workflow time is the server's time of each workflow task: after the start, moving on
    # past the 10 ms timer, and not far from this clock.
    assert started <= first and first + 10_000 <= second
    assert abs(second - System.os_time(:microsecond)) < 60_000_000
  end

  test "signals, queries, a condition and an activity: the README's workflow", ctx do
    id = "approval-#{ctx.queue}"

    assert [
             %{"ok" => nil},
             %{"ok" => nil},
             %{"ok" => nil},
             %{"ok" => %{"receipt" => "order-1", "approver" => "ada"}},
             %{"ok" => "ada"}
           ] =
             python(ctx, [
               start(ctx, id, "Approval", ["order-1"]),
               %{op: "query", id: id, name: "approver"},
               %{op: "signal", id: id, name: "approve", args: ["ada"]},
               %{op: "result", id: id},
               %{op: "query", id: id, name: "approver"}
             ])
  end

  test "the Elixir client: start, query, signal, result; cancel; terminate; errors", ctx do
    alias Hourglass.Client
    alias Hourglass.Client.WorkflowHandle

    id = "client-#{ctx.queue}"

    assert {:ok, %WorkflowHandle{workflow_id: ^id} = handle} =
             Client.start_workflow(ctx.client, "Approval", ["order-9"],
               id: id,
               task_queue: ctx.queue,
               execution_timeout: 60_000
             )

    assert {:error, {:already_exists, _}} =
             Client.start_workflow(ctx.client, "Approval", ["again"],
               id: id,
               task_queue: ctx.queue
             )

    assert {:ok, nil} = Client.query_workflow(ctx.client, handle, "approver")
    assert {:error, {_code, message}} = Client.query_workflow(ctx.client, id, "nope", [])
    assert message =~ "unknown query"
    assert :ok = Client.signal_workflow(ctx.client, id, "approve", ["bob"])

    assert {:ok, %{"receipt" => "order-9", "approver" => "bob"}} =
             Client.workflow_result(ctx.client, handle)

    assert {:ok,
            %{
              workflow_id: ^id,
              workflow_type: "Approval",
              status: :completed,
              task_queue: queue,
              history_length: length,
              start_time: %DateTime{},
              close_time: %DateTime{}
            }} = Client.describe_workflow(ctx.client, handle)

    assert queue == ctx.queue and length > 5

    assert {:error, {:failed, %Hourglass.ApplicationError{type: "Rejected"}}} =
             Client.execute_workflow(ctx.client, "Failing", [],
               id: "client-failing-#{ctx.queue}",
               task_queue: ctx.queue
             )

    {:ok, cancellable} =
      Client.start_workflow(ctx.client, "Cancellable", [],
        id: "client-cancel-#{ctx.queue}",
        task_queue: ctx.queue
      )

    assert :ok = Client.cancel_workflow(ctx.client, cancellable, "changed my mind")
    assert {:error, {:cancelled, _}} = Client.workflow_result(ctx.client, cancellable)

    {:ok, terminated} =
      Client.start_workflow(ctx.client, "Cancellable", [],
        id: "client-terminate-#{ctx.queue}",
        task_queue: ctx.queue
      )

    assert :ok = Client.terminate_workflow(ctx.client, terminated, "enough")
    assert {:error, {:terminated, "enough"}} = Client.workflow_result(ctx.client, terminated)
    assert {:error, {:not_found, _}} = Client.workflow_result(ctx.client, "client-nobody")

    {:ok, waiting} =
      Client.start_workflow(ctx.client, "Approval", ["o"],
        id: "client-waiting-#{ctx.queue}",
        task_queue: ctx.queue
      )

    assert {:error, :timeout} = Client.workflow_result(ctx.client, waiting, timeout: 200)
    assert :ok = Client.terminate_workflow(ctx.client, waiting)

    assert {:error, {:invalid_option, :id, _}} =
             Client.start_workflow(ctx.client, "Approval", [], task_queue: ctx.queue)
  end

  test "start options: id conflict and reuse policies, signal-with-start, memo, search attributes",
       ctx do
    alias Hourglass.Client

    id = "options-#{ctx.queue}"
    opts = [id: id, task_queue: ctx.queue]
    wide_memo = Map.new(1..129, &{"note-#{&1}", %{"n" => &1}})

    assert {:ok, first} =
             Client.start_workflow(
               ctx.client,
               "Approval",
               ["o1"],
               opts ++
                 [
                   memo: Map.put(wide_memo, :owner, "ada"),
                   search_attributes: %{"HourglassCustomer" => "gold", HourglassPriority: 7}
                 ]
             )

    # A running workflow with the id: joined, signalled, replaced.
    assert {:ok, ^first} =
             Client.start_workflow(
               ctx.client,
               "Approval",
               ["x"],
               opts ++ [id_conflict_policy: :use_existing]
             )

    assert {:ok, %{run_id: run_id}} =
             Client.signal_with_start_workflow(
               ctx.client,
               "Approval",
               ["x"],
               {"approve", ["bob"]},
               opts
             )

    assert run_id == first.run_id

    assert {:ok, %{"receipt" => "o1", "approver" => "bob"}} =
             Client.workflow_result(ctx.client, first)

    assert {:ok, %{memo: memo, search_attributes: attributes}} =
             Client.describe_workflow(ctx.client, first)

    assert memo == Map.put(wide_memo, "owner", "ada")
    assert %{"HourglassCustomer" => "gold", "HourglassPriority" => 7} = attributes

    # A closed one: its id refused, or started again by signal-with-start, which the new run sees.
    assert {:error, {:already_exists, _}} =
             Client.start_workflow(
               ctx.client,
               "Approval",
               ["x"],
               opts ++ [id_reuse_policy: :reject_duplicate]
             )

    assert {:ok, second} =
             Client.signal_with_start_workflow(
               ctx.client,
               "Approval",
               ["o2"],
               {"approve", ["eve"]},
               opts
             )

    assert second.run_id != first.run_id

    assert {:ok, %{"receipt" => "o2", "approver" => "eve"}} =
             Client.workflow_result(ctx.client, second)

    assert {:ok, waiting} = Client.start_workflow(ctx.client, "Approval", ["o3"], opts)

    assert {:ok, replacing} =
             Client.start_workflow(
               ctx.client,
               "Approval",
               ["o4"],
               opts ++ [id_conflict_policy: :terminate_existing]
             )

    assert {:error, {:terminated, _}} = Client.workflow_result(ctx.client, waiting)
    assert :ok = Client.signal_workflow(ctx.client, replacing, "approve", ["joe"])
    assert {:ok, %{"receipt" => "o4"}} = Client.workflow_result(ctx.client, replacing)

    for {key, value} <- [
          id_reuse_policy: :sometimes,
          id_conflict_policy: "fail",
          memo: [1],
          search_attributes: %{1 => 2},
          cron_schedule: 5,
          start_delay: -1
        ] do
      assert {:error, {:invalid_option, ^key, _}} =
               Client.start_workflow(ctx.client, "Approval", [], opts ++ [{key, value}])
    end

    assert {:error, {:invalid_signal, "approve"}} =
             Client.signal_with_start_workflow(ctx.client, "Approval", [], "approve", opts)
  end

  test "the Elixir client's updates: executed, started then awaited, rejected, failed, once per id",
       ctx do
    alias Hourglass.ApplicationError
    alias Hourglass.Client
    alias Hourglass.Client.UpdateHandle

    {:ok, run} =
      Client.start_workflow(ctx.client, "Counter", [1],
        id: "updates-#{ctx.queue}",
        task_queue: ctx.queue
      )

    assert {:ok, 3} = Client.execute_update(ctx.client, run, "add", [2])

    assert {:error, {:failed, %ApplicationError{type: "UpdateRejected", message: message}}} =
             Client.execute_update(ctx.client, run, "add", [0])

    assert message =~ "add takes a positive integer, got 0"

    assert {:error, {:failed, %ApplicationError{type: "Refused", details: ["why"]}}} =
             Client.execute_update(ctx.client, run.workflow_id, "fail", [])

    # The same update id is the same update: applied once, answered twice.
    assert {:ok, 13} = Client.execute_update(ctx.client, run, "add", [10], update_id: "once")
    assert {:ok, 13} = Client.execute_update(ctx.client, run, "add", [10], update_id: "once")

    assert {:ok, %UpdateHandle{update_id: id} = handle} =
             Client.start_update(ctx.client, run, "add", [1])

    assert is_binary(id)
    assert {:ok, 14} = Client.update_result(ctx.client, handle)

    assert {:error, {:failed, %ApplicationError{}}} =
             Client.start_update(ctx.client, run, "add", [-5])

    assert {:ok, 14} = Client.query_workflow(ctx.client, run, "count")
    assert {:ok, 14} = Client.execute_update(ctx.client, run, "finish", [])
    assert {:ok, 14} = Client.workflow_result(ctx.client, run)

    assert {:error, {:invalid_option, :update_id, _}} =
             Client.execute_update(ctx.client, run, "add", [1], update_id: "")
  end

  test "update handlers that wait: an activity, a signal, a timer; the main routine waits for them",
       ctx do
    alias Hourglass.Client

    {:ok, run} =
      Client.start_workflow(ctx.client, "WaitingUpdates", [],
        id: "waiting-updates-#{ctx.queue}",
        task_queue: ctx.queue
      )

    {:ok, first} = Client.start_update(ctx.client, run, "charge", [1])
    {:ok, second} = Client.start_update(ctx.client, run, "charge", [2])
    # The same update id while its handler waits is the same update.
    {:ok, again} = Client.start_update(ctx.client, run, "charge", [1], update_id: first.update_id)
    assert again.update_id == first.update_id
    {:ok, nap} = Client.start_update(ctx.client, run, "nap", [50])
    assert {:ok, false} = Client.query_workflow(ctx.client, run, "handlers_finished")

    # Closed, but the handlers still wait: the run does not end.
    :ok = Client.signal_workflow(ctx.client, run, "close", [])
    assert {:ok, nap_value} = Client.update_result(ctx.client, nap)
    assert is_float(nap_value)
    assert {:ok, false} = Client.query_workflow(ctx.client, run, "handlers_finished")

    :ok = Client.signal_workflow(ctx.client, run, "proceed", [])
    :ok = Client.signal_workflow(ctx.client, run, "proceed", [])

    for {handle, amount} <- [{first, 1}, {again, 1}, {second, 2}] do
      assert {:ok, %{"receipt" => receipt, "all_finished" => false}} =
               Client.update_result(ctx.client, handle)

      assert receipt == "receipt-#{amount}"
    end

    assert {:ok, charged} = Client.workflow_result(ctx.client, run)
    assert Enum.sort(charged) == [1, 2]
    assert {:ok, true} = Client.query_workflow(ctx.client, run, "handlers_finished")

    # Three updates accepted and completed; the handlers' activities and timer in the history.
    assert count_history_events(ctx, run.workflow_id, "WORKFLOW_EXECUTION_UPDATE_COMPLETED") == 3
    assert count_history_events(ctx, run.workflow_id, "ACTIVITY_TASK_COMPLETED") == 2
    assert count_history_events(ctx, run.workflow_id, "TIMER_FIRED") == 1

    {:ok, history} = Client.fetch_history(ctx.client, run.workflow_id)
    assert :ok = Hourglass.Replayer.replay_workflow(history, workflows: [W.WaitingUpdates])
  end

  test "continue-as-new three times: the client follows the runs to the last one's result",
       ctx do
    assert {:ok, %{"seen" => [3, 2, 1], "continued" => true}} =
             Hourglass.Client.execute_workflow(ctx.client, "Looping", [3, []],
               id: "looping-#{ctx.queue}",
               task_queue: ctx.queue
             )
  end

  test "a second answer to an activation is refused; a deadline that passes after the run answered changes nothing",
       ctx do
    alias Hourglass.Client
    id = "answered-#{ctx.queue}"

    log =
      ExUnit.CaptureLog.capture_log(fn ->
        {:ok, run} =
          Client.start_workflow(ctx.client, "Approval", ["o"], id: id, task_queue: ctx.queue)

        # The run waits for its signal: its first activation was answered.
        find = fn ->
          Enum.find_value(
            DynamicSupervisor.which_children(Hourglass.WorkflowExecutor.DynamicSupervisor),
            fn {_, pid, _, _} ->
              with {:dictionary, dictionary} <- Process.info(pid, :dictionary),
                   %{info: %{workflow_id: ^id}} = context <-
                     dictionary[:"$hourglass_workflow_run"],
                   {:current_function, {_, :next_activation, _}} <-
                     Process.info(pid, :current_function),
                   do: {pid, context},
                   else: (_ -> nil)
            end
          )
        end

        eventually(fn -> find.() != nil end)
        {pid, context} = find.()

        assert {:error, :already_answered} =
                 Hourglass.Native.worker_complete_activation(
                   context.core,
                   context.run_id,
                   context.activation_token,
                   {:failed, "twice"}
                 )

        # The worker is not told that the run answered: the activation's deadline (2 s) passes
        # while the run waits, and the worker's answer for it is refused; the run lives on.
        Process.sleep(3_000)
        assert Process.alive?(pid)
        assert {^pid, _} = find.()

        # The run carries on.
        :ok = Client.signal_workflow(ctx.client, run, "approve", ["ada"])

        assert {:ok, %{"approver" => "ada"}} =
                 Client.workflow_result(ctx.client, run, timeout: 30_000)
      end)

    refute log =~ "did not finish handling an activation"
  end

  test "a signal handler starts activities that the main routine awaits", ctx do
    alias Hourglass.Client
    id = "signal-starts-#{ctx.queue}"

    {:ok, run} =
      Client.start_workflow(ctx.client, "SignalStarts", [], id: id, task_queue: ctx.queue)

    :ok = Client.signal_workflow(ctx.client, run, "fetch", ["a"])
    :ok = Client.signal_workflow(ctx.client, run, "fetch", ["b"])
    assert {:ok, ["a", "b"]} = Client.workflow_result(ctx.client, run, timeout: 30_000)
  end

  test "signals that come before their handler are kept and handed to it in order", ctx do
    id = "late-#{ctx.queue}"
    item = &%{op: "signal", id: id, name: "item", args: [&1]}

    assert [
             %{"ok" => nil},
             %{"ok" => nil},
             %{"ok" => nil},
             %{"ok" => nil},
             %{"error" => %{"message" => unknown}},
             %{"ok" => nil},
             %{"ok" => [1, 2, 3]},
             %{"ok" => nil},
             %{"ok" => [1, 2, 3, 4]}
           ] =
             python(ctx, [
               start(ctx, id, "LateHandlers", []),
               item.(1),
               item.(2),
               item.(3),
               %{op: "query", id: id, name: "items"},
               %{op: "signal", id: id, name: "ready"},
               %{op: "query", id: id, name: "items"},
               item.(4),
               %{op: "result", id: id}
             ])

    assert unknown =~ "unknown query \"items\""
  end

  test "an unknown query is answered with an error that names it", ctx do
    id = "approval-q-#{ctx.queue}"

    assert [_, %{"error" => %{"message" => message}}, _, _] =
             python(ctx, [
               start(ctx, id, "Approval", ["o"]),
               %{op: "query", id: id, name: "nope"},
               %{op: "signal", id: id, name: "approve", args: ["x"]},
               %{op: "result", id: id}
             ])

    assert message =~ "unknown query \"nope\""
  end

  test "activities started together run together; a timer waits workflow time", ctx do
    id = "fanout-#{ctx.queue}"

    assert [_, %{"ok" => result}] =
             python(ctx, [start(ctx, id, "FanOut", [20, 1_000]), %{op: "result", id: id}])

    assert result["results"] == List.duplicate(1_000, 20)
    # 20 activities of 1 s one after another would take 20 s of workflow time.
    assert result["activities_ms"] < 10_000
    assert result["timer_ms"] >= 1_000
  end

  test "await/2 with a timeout gives up in workflow time; the activity can be awaited again",
       ctx do
    assert {:ok, %{"gave_up" => "{:error, :timeout}", "quick" => true}} =
             Hourglass.Client.execute_workflow(ctx.client, "AwaitTimeout", [],
               id: "await-#{ctx.queue}",
               task_queue: ctx.queue,
               timeout: 60_000
             )
  end

  test "an activity's failure reaches the workflow; the workflow's failure reaches Python", ctx do
    id = "failing-#{ctx.queue}"

    assert [_, %{"error" => error}] =
             python(ctx, [start(ctx, id, "Failing", []), %{op: "result", id: id}])

    assert %{
             "kind" => "ApplicationError",
             "type" => "Rejected",
             "message" => "the activity said: give up",
             "details" => [%{"activity_error_type" => "Fatal"}],
             "non_retryable" => true
           } = error
  end

  test "a workflow that fails with an activity's or a child's error keeps its causes", ctx do
    alias Hourglass.Client
    opts = fn name -> [id: "#{name}-#{ctx.queue}", task_queue: ctx.queue] end

    for how <- ["return", "raise"] do
      assert {:error, {:failed, %Hourglass.ActivityError{} = error}} =
               Client.execute_workflow(ctx.client, "PassesOn", [how], opts.(how))

      assert %{
               activity_type: "non_retryable",
               activity_id: "1",
               retry_state: :non_retryable_failure,
               cause:
                 {:failed,
                  %Hourglass.ApplicationError{
                    type: "Fatal",
                    message: "give up",
                    non_retryable: true,
                    details: [%{"why" => "testing"}]
                  }}
             } = error

      assert error.started_event_id > error.scheduled_event_id
      assert error.scheduled_event_id > 0
    end

    assert {:error, {:failed, %Hourglass.ChildWorkflowError{} = error}} =
             Client.execute_workflow(ctx.client, "PassesOn", ["child"], opts.("child"))

    child_id = "child-#{ctx.queue}-child"

    assert %{
             workflow_type: "PassesOn",
             workflow_id: ^child_id,
             namespace: "default",
             cause:
               {:failed,
                %Hourglass.ActivityError{
                  activity_type: "non_retryable",
                  cause: {:failed, %Hourglass.ApplicationError{type: "Fatal"}}
                }}
           } = error

    assert is_binary(error.run_id) and error.initiated_event_id > 0

    # The official Python client sees the same chain.
    assert [%{"error" => returned}, %{"error" => of_child}] =
             python(ctx, [
               %{op: "result", id: "return-#{ctx.queue}"},
               %{op: "result", id: "child-#{ctx.queue}"}
             ])

    assert %{
             "kind" => "ActivityError",
             "activity_type" => "non_retryable",
             "retry_state" => "NON_RETRYABLE_FAILURE",
             "cause" => %{"kind" => "ApplicationError", "type" => "Fatal", "message" => "give up"}
           } = returned

    assert %{
             "kind" => "ChildWorkflowError",
             "workflow_type" => "PassesOn",
             "cause" => %{
               "kind" => "ActivityError",
               "cause" => %{"kind" => "ApplicationError", "message" => "give up"}
             }
           } = of_child
  end

  test "a cancelled workflow ends cancelled", ctx do
    id = "cancel-#{ctx.queue}"

    assert [_, _, _, %{"error" => %{"kind" => "cancelled"}}] =
             python(ctx, [
               start(ctx, id, "Cancellable", []),
               %{op: "sleep", seconds: 0.5},
               %{op: "cancel", id: id},
               %{op: "result", id: id}
             ])
  end

  test "Python and Elixir across task queues: activities one way, a child workflow the other",
       ctx do
    alias Hourglass.{Client, WorkerNode}

    python_queue = ctx.queue <> "-py"
    script = Path.expand("../support/python/cross_worker.py", __DIR__)

    node =
      WorkerNode.start_program(System.find_executable("python3"), [
        script,
        ctx.address,
        python_queue
      ])

    on_exit(fn -> WorkerNode.kill(node) end)

    assert {:ok,
            %{
              "greeting" => "hello ada, from " <> ^python_queue,
              "refused" => %{
                "type" => "PyRefused",
                "message" => "refused in Python",
                "details" => [%{"why" => "because"}],
                "non_retryable" => true
              }
            }} =
             Client.execute_workflow(ctx.client, "CrossQueue", [python_queue],
               id: "cross-#{ctx.queue}",
               task_queue: ctx.queue,
               timeout: 60_000
             )

    assert {:ok, %{"results" => [_, _, _]}} =
             Client.execute_workflow(ctx.client, "PyParent", [ctx.queue, 3],
               id: "py-parent-#{ctx.queue}",
               task_queue: python_queue,
               timeout: 60_000
             )

    assert {:ok, "python child of elixir (elixir-parent-" <> _} =
             Client.execute_workflow(ctx.client, "PythonChild", [python_queue],
               id: "elixir-parent-#{ctx.queue}",
               task_queue: ctx.queue,
               timeout: 60_000
             )
  end

  test "memo and search attributes: seen at start, upserted, described; a child sees its parent",
       ctx do
    alias Hourglass.Client
    id = "tagged-#{ctx.queue}"
    # More names than a map made off a scheduler may have (the activation is then deferred).
    memo = Map.new(1..129, &{"m#{&1}", %{"n" => &1}}) |> Map.put("owner", "ada")

    assert {:ok, result} =
             Client.execute_workflow(ctx.client, "Tagged", ["parent"],
               id: id,
               task_queue: ctx.queue,
               execution_timeout: 60_000,
               memo: memo,
               search_attributes: %{"HourglassCustomer" => "gold", "HourglassPriority" => 1},
               timeout: 60_000
             )

    assert %{
             "memo_before" => ^memo,
             "attributes_before" => %{"HourglassCustomer" => "gold", "HourglassPriority" => 1},
             "execution_timeout" => 60_000,
             "memo_after" => names_after,
             "attributes_after" => %{"HourglassCustomer" => "gold", "HourglassPriority" => 9},
             "child_saw_parent" => %{"workflow_id" => ^id, "namespace" => "default"}
           } = result

    assert Enum.sort(names_after) == Enum.sort(["stage", "wide" | Map.keys(memo)])

    assert {:ok, %{memo: described, search_attributes: attributes}} =
             Client.describe_workflow(ctx.client, id)

    assert %{"owner" => "ada", "m129" => %{"n" => 129}, "stage" => "tagged"} = described
    assert %{"wide" => %{"k40" => 40}} = described
    assert %{"HourglassCustomer" => "gold", "HourglassPriority" => 9} = attributes
  end

  test "local activities: Elixir and native, retried within the threshold and past it, failed",
       ctx do
    id = "locals-#{ctx.queue}"

    assert {:ok,
            %{
              "echoed" => "local",
              "attempt_within" => 3,
              "attempt_past" => 2,
              "failed" => ["Fatal", [%{"why" => "testing"}]]
            }} =
             Hourglass.Client.execute_workflow(ctx.client, "Locals", [],
               id: id,
               task_queue: ctx.queue,
               timeout: 60_000
             )

    # Local activities leave markers (the five, and the attempt that backed off), not activity
    # events; the backoff, a timer.
    assert count_history_events(ctx, id, "MARKER_RECORDED") == 6
    assert count_history_events(ctx, id, "ACTIVITY_TASK_SCHEDULED") == 0
    assert count_history_events(ctx, id, "TIMER_STARTED") == 1
    {:ok, history} = Hourglass.Client.fetch_history(ctx.client, id)
    assert :ok = Hourglass.Replayer.replay_workflow(history, workflows: [W.Locals])
  end

  test "a workflow cancelled while a local activity waits out its backoff ends cancelled",
       ctx do
    id = "local-backoff-#{ctx.queue}"

    {:ok, run} =
      Hourglass.Client.start_workflow(ctx.client, "LocalBackoff", [],
        id: id,
        task_queue: ctx.queue
      )

    eventually(fn -> count_history_events(ctx, id, "TIMER_STARTED") == 1 end, 20_000)
    :ok = Hourglass.Client.cancel_workflow(ctx.client, run)

    assert {:error, {:cancelled, _}} =
             Hourglass.Client.workflow_result(ctx.client, run, timeout: 30_000)

    assert count_history_events(ctx, id, "TIMER_CANCELED") == 1
  end

  test "a cancelled parent cancels its child and ends cancelled", ctx do
    alias Hourglass.Client
    id = "parent-of-long-#{ctx.queue}"

    {:ok, parent} =
      Client.start_workflow(ctx.client, "ParentOfLong", [], id: id, task_queue: ctx.queue)

    eventually(
      fn ->
        match?({:ok, %{status: :running}}, Client.describe_workflow(ctx.client, id <> "-long"))
      end,
      20_000
    )

    :ok = Client.cancel_workflow(ctx.client, parent)
    assert {:error, {:cancelled, _}} = Client.workflow_result(ctx.client, parent, timeout: 30_000)
    assert {:ok, %{status: :cancelled}} = Client.describe_workflow(ctx.client, id <> "-long")
  end

  test "child workflows: completed, failed, signalled, refused, cancelled; a signal to nobody",
       ctx do
    id = "parent-#{ctx.queue}"

    assert {:ok, result} =
             Hourglass.Client.execute_workflow(ctx.client, "Parent", [],
               id: id,
               task_queue: ctx.queue,
               timeout: 120_000
             )

    assert %{
             "fanned" => [_, _],
             "failed" => ["Failing", failing_id, "Rejected", "the activity said: " <> _],
             "approved" => %{"receipt" => "from parent", "approver" => "parent"},
             "approval_id" => approval_id,
             "refused" => ":already_exists",
             "cancelled" => "{:cancelled, nil}",
             "nobody" => nobody
           } = result

    assert failing_id == id <> "-failing"
    assert String.starts_with?(approval_id, id <> "-child-3-")
    assert nobody =~ ~s(type: "ExternalWorkflowExecutionNotFound")
  end

  test "the temporal CLI starts an Elixir workflow and gets its result", ctx do
    {out, status} =
      cli(ctx, [
        "workflow",
        "execute",
        "--type",
        "FanOut",
        "--task-queue",
        ctx.queue,
        "--workflow-id",
        "cli-#{ctx.queue}",
        "--input",
        "2",
        "--input",
        "50",
        "--output",
        "json"
      ])

    assert status == 0, out
    assert out =~ ~r/"results":\s*\[\s*50,\s*50\s*\]/
  end

  test "a run that blocks its process fails its task after 2 s; the worker carries on", ctx do
    key = ctx.queue
    id = "stuck-#{key}"
    on_exit(fn -> :persistent_term.erase({W.Stuck, key}) end)

    log =
      ExUnit.CaptureLog.capture_log(fn ->
        assert [_] = python(ctx, [start(ctx, id, "Stuck", [key])])
        eventually(fn -> live_runs("Stuck") == 1 end)
        # The deadlock timeout stops the blocked process.
        eventually(fn -> live_runs("Stuck") == 0 end, 10_000)
        :persistent_term.put({W.Stuck, key}, true)
        assert [%{"ok" => "released"}] = python(ctx, [%{op: "result", id: id}])
      end)

    assert log =~ "did not finish handling an activation within 2000 ms"
  end

  defp live_runs(type) do
    for {_, pid, _, _} <-
          DynamicSupervisor.which_children(Hourglass.WorkflowExecutor.DynamicSupervisor),
        info = Process.info(pid, :dictionary),
        info != nil,
        run = elem(info, 1)[:"$hourglass_workflow_run"],
        run != nil and run.info[:workflow_type] == type,
        reduce: 0,
        do: (count -> count + 1)
  end

  test "a workflow task that raises is retried, and the fixed code finishes the run", ctx do
    key = ctx.queue
    id = "crashing-#{key}"
    on_exit(fn -> :persistent_term.erase({W.Crashing, key}) end)

    log =
      ExUnit.CaptureLog.capture_log(fn ->
        assert [_] = python(ctx, [start(ctx, id, "Crashing", [key])])
        Process.sleep(1_000)
        :persistent_term.put({W.Crashing, key}, true)
        assert [%{"ok" => "fixed"}] = python(ctx, [%{op: "result", id: id}])
      end)

    assert log =~ "not fixed yet"
  end
end

defmodule Hourglass.Integration.WorkflowCacheTest do
  # Runs evicted from a small cache (or left by a stopped worker) and replayed from history:
  # deterministic values come out the same, updates are applied again, patches keep their path.
  use Hourglass.IntegrationCase, async: true

  alias Hourglass.IntegrationActivities, as: A
  alias Hourglass.IntegrationWorkflows, as: W

  @script Path.expand("../support/python/workflow_client.py", __DIR__)

  test "with max_cached_workflows: 1, fifty waiting runs are replayed and each finishes right",
       ctx do
    if :ets.whereis(:hourglass_replayed_inits) == :undefined do
      :ets.new(:hourglass_replayed_inits, [:public, :named_table, :set])
    end

    worker =
      start_supervised!(
        {Hourglass.Worker,
         task_queue: ctx.queue,
         address: ctx.address,
         workflows: [W.Replayed],
         max_cached_workflows: 1}
      )

    count = 50
    ids = for i <- 1..count, do: "replayed-#{i}-#{ctx.queue}"

    steps =
      Enum.flat_map(ids, fn id ->
        [%{op: "start", id: id, workflow: "Replayed", task_queue: ctx.queue, args: [id]}]
      end) ++
        Enum.flat_map(ids, &[%{op: "query", id: &1, name: "values"}]) ++
        Enum.flat_map(ids, &[%{op: "signal", id: &1, name: "done"}]) ++
        Enum.flat_map(ids, &[%{op: "result", id: &1}])

    {:ok, [%{data: json}]} = Hourglass.Payload.from_values([steps])
    {out, status} = System.cmd("python3", [@script, ctx.address, json], stderr_to_stdout: true)
    assert status == 0, out
    results = python_results(out)

    queried = results |> Enum.slice(count, count) |> Enum.map(& &1["ok"])
    finished = results |> Enum.slice(3 * count, count) |> Enum.map(& &1["ok"])

    # The runs were evicted and replayed: more processes than runs.
    inits = Enum.sum(for id <- ids, do: :ets.lookup_element(:hourglass_replayed_inits, id, 2))
    assert inits > length(ids)
    # Each run's values, made again on every replay, are the ones it showed before.
    assert queried == finished
    assert Enum.map(finished, & &1["name"]) == ids
    assert Enum.all?(finished, & &1["patched"])
    assert finished |> Enum.map(& &1["uuid"]) |> Enum.uniq() |> length() == count
    # Finished runs leave the cache, and their processes end.
    eventually(fn -> Hourglass.Worker.info(worker).cached_runs == 0 end, 10_000)

    for %{"uuid" => uuid} <- finished,
        do:
          assert(
            uuid =~ ~r/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
          )
  end

  test "updates: validated, answered, failed, unknown; replayed from a cache of one", ctx do
    start_supervised!(
      {Hourglass.Worker,
       task_queue: ctx.queue,
       address: ctx.address,
       workflows: [W.Counter],
       max_cached_workflows: 1}
    )

    [a, b] = for name <- ["a", "b"], do: "counter-#{name}-#{ctx.queue}"
    update = &%{op: "update", id: &1, name: &2, args: &3}

    # The two runs take turns through a cache of one: each update of one replays the other's
    # accepted updates (without their validators) before it runs.
    steps =
      [
        %{op: "start", id: a, workflow: "Counter", task_queue: ctx.queue, args: [10]},
        %{op: "start", id: b, workflow: "Counter", task_queue: ctx.queue, args: [100]}
      ] ++
        Enum.flat_map(1..3, &[update.(a, "add", [&1]), update.(b, "add", [&1 * 10])]) ++
        [
          update.(a, "add", [-1]),
          update.(b, "fail", []),
          update.(a, "nope", []),
          update.(a, "big", []),
          %{op: "query", id: b, name: "count"},
          update.(a, "finish", []),
          update.(b, "finish", []),
          %{op: "result", id: a},
          %{op: "result", id: b}
        ]

    {:ok, [%{data: json}]} = Hourglass.Payload.from_values([steps])
    {out, status} = System.cmd("python3", [@script, ctx.address, json], stderr_to_stdout: true)
    assert status == 0, out

    assert [
             %{"ok" => nil},
             %{"ok" => nil},
             %{"ok" => 11},
             %{"ok" => 110},
             %{"ok" => 13},
             %{"ok" => 130},
             %{"ok" => 16},
             %{"ok" => 160},
             %{"error" => %{"kind" => "update_failed", "message" => rejected}},
             %{"error" => %{"type" => "Refused", "message" => "as asked", "details" => ["why"]}},
             %{"error" => %{"type" => "UnknownUpdate", "message" => unknown}},
             %{"error" => %{"kind" => "update_failed", "message" => too_large}},
             %{"ok" => 160},
             %{"ok" => 16},
             %{"ok" => 160},
             %{"ok" => 16},
             %{"ok" => 160}
           ] = python_results(out)

    assert rejected =~ "add takes a positive integer, got -1"
    assert unknown =~ ~s(unknown update "nope")
    assert too_large =~ "over the payload size limit"

    # Rejected updates leave no trace in the history; accepted ones do, failed or not.
    assert count_history_events(ctx, a, "WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == 5
    assert count_history_events(ctx, b, "WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == 5
  end

  test "patched?/1 keeps the old path for a run begun before the patch, the new for new runs",
       ctx do
    alias Hourglass.Client

    worker = fn workflow ->
      {Hourglass.Worker,
       task_queue: ctx.queue,
       address: ctx.address,
       workflows: [workflow],
       activities: [A.Echo],
       max_cached_workflows: 1}
    end

    start_supervised!(worker.(W.PatchyBefore), id: :before)

    {:ok, old} =
      Client.start_workflow(ctx.client, "Patchy", [],
        id: "patchy-old-#{ctx.queue}",
        task_queue: ctx.queue
      )

    # The old run has echoed "old" and waits.
    eventually(
      fn ->
        match?(
          {:ok, %{history_length: length}} when length >= 10,
          Client.describe_workflow(ctx.client, old)
        )
      end,
      20_000
    )

    :ok = stop_supervised(:before)
    start_supervised!(worker.(W.PatchyAfter), id: :after)

    {:ok, new} =
      Client.start_workflow(ctx.client, "Patchy", [],
        id: "patchy-new-#{ctx.queue}",
        task_queue: ctx.queue
      )

    # The patched code replays the old run's history (no marker: the old path, or the replay
    # would not match it) and runs the new one on the new path.
    for handle <- [old, new], do: :ok = Client.signal_workflow(ctx.client, handle, "go", [])

    assert {:ok, %{"path" => "old", "echoed" => "old"}} =
             Client.workflow_result(ctx.client, old, timeout: 60_000)

    assert {:ok, %{"path" => "new", "echoed" => "new"}} =
             Client.workflow_result(ctx.client, new, timeout: 60_000)
  end
end

defmodule Hourglass.Integration.WorkflowCodecTest do
  # A worker and a client with the same payload codec: workflow inputs, activity arguments and
  # results, signals, queries, results and failure details all go through it.
  use Hourglass.IntegrationCase, async: true

  alias Hourglass.Client
  alias Hourglass.IntegrationActivities, as: A
  alias Hourglass.IntegrationWorkflows, as: W
  alias Hourglass.PayloadCodec.Encryption

  @codec {Encryption, key_id: "workflow-test", key: :binary.copy(<<7>>, 32)}

  test "an encrypted workflow runs as a clear one does", ctx do
    start_worker(ctx,
      workflows: [W.Approval, W.Failing, W.PassesOn],
      activities: [A.Echo, A.NonRetryable],
      payload_codec: @codec
    )

    {:ok, client} = Client.connect(address: ctx.address, payload_codec: @codec)
    id = "codec-#{ctx.queue}"

    {:ok, handle} =
      Client.start_workflow(client, "Approval", ["secret order"], id: id, task_queue: ctx.queue)

    assert {:ok, nil} = Client.query_workflow(client, handle, "approver")
    assert :ok = Client.signal_workflow(client, handle, "approve", ["eve"])

    assert {:ok, %{"receipt" => "secret order", "approver" => "eve"}} =
             Client.workflow_result(client, handle)

    assert {:error,
            {:failed, %Hourglass.ApplicationError{details: [%{"activity_error_type" => "Fatal"}]}}} =
             Client.execute_workflow(client, "Failing", [],
               id: "codec-failing-#{ctx.queue}",
               task_queue: ctx.queue
             )

    # A failure's details inside its chain of causes are encoded and decoded too.
    assert {:error,
            {:failed,
             %Hourglass.ActivityError{
               cause: {:failed, %Hourglass.ApplicationError{details: [%{"why" => "testing"}]}}
             }}} =
             Client.execute_workflow(client, "PassesOn", ["return"],
               id: "codec-passes-on-#{ctx.queue}",
               task_queue: ctx.queue
             )

    # The server holds only ciphertext: a client without the codec cannot read the result.
    assert {:error, {:undecodable_result, message}} = Client.workflow_result(ctx.client, handle)
    assert message =~ "binary/encrypted"

    # The replayer decodes the histories with the codec it is given, and only with it.
    {:ok, history} = Client.fetch_history(client, id)
    {:ok, failing} = Client.fetch_history(client, "codec-failing-#{ctx.queue}")
    workflows = [W.Approval, W.Failing]

    assert {:ok, [{^id, :ok}, {_, :ok}]} =
             Hourglass.Replayer.replay_workflows([history, failing],
               workflows: workflows,
               payload_codec: @codec
             )

    assert {:error, {:workflow_task_failed, message}} =
             Hourglass.Replayer.replay_workflow(history, workflows: workflows)

    assert message =~ "binary/encrypted"

    # The codec option as the worker takes it; a module that is no codec is a bad option.
    assert {:error, {:invalid_option, :payload_codec, _}} =
             Hourglass.Replayer.replay_workflow(history, workflows: workflows, payload_codec: URI)
  end
end

defmodule Hourglass.Integration.WorkflowEarlyCancelTest do
  # A cancellation that arrives with the run's first activation reaches the run's first wait.
  use Hourglass.IntegrationCase, async: true

  alias Hourglass.Client
  alias Hourglass.IntegrationWorkflows, as: W

  test "a workflow cancelled before any worker ran it ends cancelled at its first wait", ctx do
    {:ok, handle} =
      Client.start_workflow(ctx.client, "Cancellable", [],
        id: "early-cancel-#{ctx.queue}",
        task_queue: ctx.queue
      )

    :ok = Client.cancel_workflow(ctx.client, handle)
    start_worker(ctx, workflows: [W.Cancellable])
    assert {:error, {:cancelled, _}} = Client.workflow_result(ctx.client, handle, timeout: 60_000)
  end
end

defmodule Hourglass.Integration.WorkflowWideValuesTest do
  # The value shapes that crashed the VM through activities (a map of more than 128 keys made
  # on a tokio thread, erlang/otp#8208), and the largest and deepest the converter accepts,
  # through every place a workflow holds a value (Hourglass.IntegrationWorkflows.WideEcho).
  use Hourglass.IntegrationCase, async: true

  alias Hourglass.{ActivityError, ApplicationError, ChildWorkflowError, Client}
  alias Hourglass.IntegrationWorkflows.WideEcho
  alias Hourglass.ValueGenerator, as: Gen
  alias Hourglass.WideValueActivities.{Echo, Fail}

  setup_all do
    Gen.seed(1_201)
    # The server's default blob limit is 2 MB a payload: every case stays below it.
    %{cases: Gen.cases(:ci)}
  end

  test "every case through input, signal, query, continue-as-new, activity, child and causes",
       %{cases: cases} = ctx do
    start_worker(ctx, workflows: [WideEcho], activities: [Echo, Fail])

    cases
    |> Enum.with_index()
    |> Task.async_stream(
      fn {{name, value}, i} ->
        id = "wide-#{ctx.queue}-#{i}"

        {:ok, handle} =
          Client.start_workflow(ctx.client, "WideEcho", [value, "first run"],
            id: id,
            task_queue: ctx.queue
          )

        assert :ok = Client.signal_workflow(ctx.client, handle, "value", [value]), name
        assert {:ok, ^value} = Client.query_workflow(ctx.client, handle, "value"), name
        assert :ok = Client.signal_workflow(ctx.client, handle, "continue", []), name

        assert {:error,
                {:failed,
                 %ChildWorkflowError{
                   cause:
                     {:failed,
                      %ActivityError{
                        cause: {:failed, %ApplicationError{type: "Wide", details: [^value]}}
                      }}
                 }}} = Client.workflow_result(ctx.client, handle, timeout: 120_000),
               name
      end,
      max_concurrency: 4,
      timeout: 240_000
    )
    |> Enum.each(&assert({:ok, _} = &1))
  end
end

defmodule Hourglass.Integration.ReplayerTest do
  # Histories of runs on the dev server, replayed by Hourglass.Replayer against the code that
  # made them, against changed code, and against broken code.
  use Hourglass.IntegrationCase, async: true

  alias Hourglass.{Client, Replayer, WorkflowHistory}
  alias Hourglass.IntegrationActivities, as: A
  alias Hourglass.IntegrationWorkflows, as: W

  @workflows [W.Approval, W.FanOut, W.Counter, W.Parent, W.Failing, W.Cancellable, W.Tagged]

  test "the code that made the histories replays them; changed and broken code do not", ctx do
    start_worker(ctx,
      workflows: @workflows,
      activities: [A.Echo, A.NonRetryable],
      native_activities: ["hourglass.sleep"]
    )

    opts = &[id: "#{&1}-#{ctx.queue}", task_queue: ctx.queue, timeout: 60_000]

    {:ok, approval} = Client.start_workflow(ctx.client, "Approval", ["o"], opts.("approval"))
    :ok = Client.signal_workflow(ctx.client, approval, "approve", ["ada"])
    {:ok, _} = Client.workflow_result(ctx.client, approval)
    {:ok, _} = Client.execute_workflow(ctx.client, "FanOut", [5, 20], opts.("fan-out"))
    {:ok, counter} = Client.start_workflow(ctx.client, "Counter", [0], opts.("counter"))
    {:ok, 2} = Client.execute_update(ctx.client, counter, "add", [2])
    {:error, _} = Client.execute_update(ctx.client, counter, "add", [-2])
    {:ok, 2} = Client.execute_update(ctx.client, counter, "finish", [])
    {:ok, _} = Client.execute_workflow(ctx.client, "Parent", [], opts.("parent"))
    {:ok, _} = Client.execute_workflow(ctx.client, "Tagged", ["parent"], opts.("tagged"))

    ids =
      for name <- ["approval", "fan-out", "counter", "parent", "tagged"],
          do: "#{name}-#{ctx.queue}"

    histories =
      for id <- ids do
        {:ok, %WorkflowHistory{workflow_id: ^id, data: data} = history} =
          Client.fetch_history(ctx.client, id)

        assert byte_size(data) > 0
        history
      end

    assert {:ok, outcomes} = Replayer.replay_workflows(histories, workflows: @workflows)
    assert outcomes == Enum.map(ids, &{&1, :ok})

    [approval_history | _] = histories
    # A history kept as bytes replays the same.
    kept = WorkflowHistory.from_protobuf(approval_history.data, approval_history.workflow_id)
    assert :ok = Replayer.replay_workflow(kept, workflows: [W.Approval])

    assert {:error, {:nondeterminism, message}} =
             Replayer.replay_workflow(approval_history, workflows: [W.ApprovalChanged])

    # Core's message names the event the changed code did not match.
    assert message =~ "Nondeterminism error"
    assert message =~ "ActivityTaskScheduled"

    assert {:error, {:workflow_task_failed, failed}} =
             Replayer.replay_workflow(approval_history, workflows: [W.ApprovalBroken])

    assert failed =~ "** (RuntimeError) broken after the signal\n"

    assert {:error, message} =
             Replayer.replay_workflow(WorkflowHistory.from_protobuf("nope", "x"),
               workflows: [W.Approval]
             )

    assert message =~ ~s("x")

    assert {:error, {:invalid_option, :workflows, _}} =
             Replayer.replay_workflow(kept, workflows: [])

    # mix hourglass.replay, on files, as CI runs it.
    dir = Path.join(System.tmp_dir!(), "hourglass-replay-#{ctx.queue}")
    File.mkdir_p!(dir)
    on_exit(fn -> File.rm_rf!(dir) end)
    file = Path.join(dir, "approval.pb")
    File.write!(file, approval_history.data)

    replay = fn workflows ->
      files = Path.wildcard(Path.join(dir, "*"))

      System.cmd("mix", ["hourglass.replay" | files] ++ ["--workflows", workflows],
        env: [{"MIX_ENV", "test"}],
        stderr_to_stdout: true
      )
    end

    # The JSON the CLI writes (payloads in its shorthand, and in full), as users keep histories.
    for shorthand <- [[], ["--no-json-shorthand-payloads"]] do
      {json, 0} =
        System.cmd(
          "temporal",
          ["workflow", "show", "--address", ctx.address, "-w", approval_history.workflow_id] ++
            ["-o", "json" | shorthand]
        )

      assert {:ok, from_json} = WorkflowHistory.from_json(json, approval_history.workflow_id)
      assert :ok = Replayer.replay_workflow(from_json, workflows: [W.Approval])
      File.write!(Path.join(dir, "approval-cli#{length(shorthand)}.json"), json)
    end

    assert {:error, "not JSON" <> _} = WorkflowHistory.from_json("{", "x")

    assert {out, 0} = replay.("Hourglass.IntegrationWorkflows.Approval")
    assert out =~ "ok      approval\n"
    assert out =~ "ok      approval-cli0\n"
    assert out =~ "ok      approval-cli1\n"
    assert {out, status} = replay.("Hourglass.IntegrationWorkflows.ApprovalChanged")
    assert status != 0
    assert out =~ "FAILED  approval: nondeterminism: [TMPRL1100] Nondeterminism error"
  end
end
