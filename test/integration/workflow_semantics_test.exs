defmodule Hourglass.Integration.WorkflowSemanticsTest do
  # How a workflow ends when its code meets a failure, a cancellation or bad input, as the
  # official SDKs decide it: workflow code written the way users write it (the README's
  # `{:ok, x} =` matches), on an Hourglass worker beside the same code on a Python SDK worker.
  use Hourglass.IntegrationCase, async: true

  import ExUnit.CaptureLog

  alias Hourglass.{ActivityError, ApplicationError, ChildWorkflowError, Client, Replayer}
  alias Hourglass.IntegrationActivities, as: A
  alias Hourglass.IntegrationWorkflows, as: W
  alias Hourglass.SemanticsWorkflows, as: S

  @peer Path.expand("../support/python/semantics_peer.py", __DIR__)

  setup ctx do
    workflows = [W.Approval, W.Cancellable, Hourglass.RecordedWorkflows.PendingAtCancel | S.all()]
    worker = start_worker(ctx, workflows: workflows, activities: activities())
    %{worker: worker}
  end

  defp activities, do: [A.Echo, A.NonRetryable, A.FailUntil, S.Bytes]

  defp start(ctx, type, args \\ [], opts \\ []) do
    id = "#{type}-#{ctx.queue}-#{System.unique_integer([:positive])}"
    opts = Keyword.merge([id: id, task_queue: ctx.queue, execution_timeout: 120_000], opts)
    {:ok, handle} = Client.start_workflow(ctx.client, type, args, opts)
    handle
  end

  # Until the workflow's history has `count` events of `type`.
  defp wait_for_events(ctx, handle, type, count \\ 1) do
    Enum.find(1..600, fn _ ->
      count_history_events(ctx, handle.workflow_id, type) >= count or Process.sleep(50)
    end) || flunk("#{handle.workflow_id}: no #{count} #{type} events")
  end

  defp task_failures(ctx, handle),
    do: count_history_events(ctx, handle.workflow_id, "WORKFLOW_TASK_FAILED")

  test "the README's workflow and its peers end as on a Python worker: cancelled while waiting, " <>
         "failed with an activity's error, a bad signal dropped, cleanup after a cancel",
       ctx do
    {out, status} = System.cmd("python3", [@peer, ctx.address, ctx.queue], stderr_to_stdout: true)
    assert status == 0, out
    %{"python" => python, "hourglass" => hourglass} = python_results(out)

    for {name, results} <- [python: python, hourglass: hourglass] do
      assert %{
               "outcome" => %{"error" => %{"kind" => "cancelled"}},
               "workflow_task_failures" => 0
             } = results["cancel_waiting"],
             "#{name}: #{inspect(results)}"

      assert %{
               "outcome" => %{
                 "error" => %{
                   "kind" => "ActivityError",
                   "activity_type" => "non_retryable",
                   "retry_state" => "NON_RETRYABLE_FAILURE",
                   "cause" => %{
                     "kind" => "ApplicationError",
                     "type" => "Fatal",
                     "message" => "give up"
                   }
                 }
               },
               "workflow_task_failures" => 0
             } = results["activity_fails"],
             "#{name}: #{inspect(results)}"

      assert %{
               "outcome" => %{"ok" => %{"approver" => "eve", "receipt" => "order-2"}},
               "workflow_task_failures" => 0
             } = results["bad_signal"],
             "#{name}: #{inspect(results)}"

      assert %{
               "outcome" => %{"error" => %{"kind" => "cancelled"}},
               "workflow_task_failures" => 0,
               "activities_completed" => 1
             } = results["cleanup"],
             "#{name}: #{inspect(results)}"
    end

    # The two workers' failures say the same, cause for cause.
    assert python["activity_fails"]["outcome"] == hourglass["activity_fails"]["outcome"]
  end

  test "a failed activity or child matched by `=`, `case` or `with` fails the workflow with its " <>
         "error; a bug fails the task until the code is past it",
       ctx do
    for type <- ["ActivityFails", "WithClauseFails"] do
      handle = start(ctx, type)

      assert {:error,
              {:failed,
               %ActivityError{
                 activity_type: "non_retryable",
                 cause: {:failed, %ApplicationError{type: "Fatal", non_retryable: true}}
               }}} = Client.workflow_result(ctx.client, handle)

      assert task_failures(ctx, handle) == 0
    end

    handle = start(ctx, "ChildFails")

    assert {:error,
            {:failed,
             %ChildWorkflowError{
               workflow_type: "ActivityFails",
               cause: {:failed, %ActivityError{cause: {:failed, %ApplicationError{}}}}
             }}} = Client.workflow_result(ctx.client, handle)

    assert task_failures(ctx, handle) == 0

    # A MatchError on anything else is a bug: the task fails (and is retried) until a signal
    # lets the code past it.
    log =
      capture_log(fn ->
        handle = start(ctx, "NotAWorkflowError")
        :ok = Client.signal_workflow(ctx.client, handle, "go", ["broken"])
        wait_for_events(ctx, handle, "WORKFLOW_TASK_FAILED")
        :ok = Client.signal_workflow(ctx.client, handle, "go", ["fixed"])
        assert {:ok, "fixed"} = Client.workflow_result(ctx.client, handle)
      end)

    assert log =~ "MatchError"
  end

  test "failure exception types: a workflow's own, and nondeterminism on a changed deploy", ctx do
    handle = start(ctx, "StrictArguments", ["ten"])

    assert {:error, {:failed, %ApplicationError{type: "ArgumentError", message: message}}} =
             Client.workflow_result(ctx.client, handle)

    assert message =~ "not a textual representation of an integer"
    assert task_failures(ctx, handle) == 0

    # A run begun by the first deploy, carried on by a changed one that replays it.
    queue = "#{ctx.queue}-drift"
    opts = [task_queue: queue, address: ctx.address, activities: activities()]

    before =
      Supervisor.child_spec({Hourglass.Worker, [{:workflows, [S.DriftBefore]} | opts]},
        id: :before
      )

    start_supervised!(before, restart: :temporary)
    handle = start(ctx, "Drift", [], task_queue: queue)
    wait_for_events(ctx, handle, "TIMER_FIRED")
    wait_for_events(ctx, handle, "WORKFLOW_TASK_COMPLETED", 2)
    :ok = stop_supervised(:before)

    capture_log(fn ->
      changed =
        Supervisor.child_spec({Hourglass.Worker, [{:workflows, [S.DriftAfter]} | opts]},
          id: :after
        )

      start_supervised!(changed, restart: :temporary)
      :ok = Client.signal_workflow(ctx.client, handle, "go", [])

      assert {:error, {:failed, %ApplicationError{message: message}}} =
               Client.workflow_result(ctx.client, handle)

      assert message =~ "Nondeterminism"
    end)

    assert task_failures(ctx, handle) == 0
  end

  test "a cancellation reaches the pending wait once; later timers, conditions and activities " <>
         "work, and cleanup can run",
       ctx do
    handle = start(ctx, "CancelledTwice")
    wait_for_events(ctx, handle, "TIMER_STARTED")
    :ok = Client.cancel_workflow(ctx.client, handle)
    :ok = Client.signal_workflow(ctx.client, handle, "go", [])

    assert {:ok,
            %{
              "first" => "{:error, :cancelled}",
              "slept" => ":ok",
              "condition" => ":ok",
              "timed_out" => "{:error, :timeout}",
              "activity" => ~s({:ok, "after"}),
              "cancelled?" => true
            }} = Client.workflow_result(ctx.client, handle)

    assert task_failures(ctx, handle) == 0
    # The history names the SDK, and records the flags of the behaviours the run went by
    # (1: the cancellation once; 2: cancel commands in the order the code started them).
    {json, 0} = cli(ctx, ["workflow", "show", "-w", handle.workflow_id, "-o", "json"])
    assert json =~ ~s("sdkName": "hourglass")

    flags =
      for [recorded] <-
            Regex.scan(~r/"langUsedFlags": \[([^\]]*)\]/, json, capture: :all_but_first),
          flag <- String.split(recorded, ~r/[\s,]+/, trim: true),
          do: flag

    assert Enum.sort(flags) == ["1", "2"]
    # Its history replays, and so does one of a run that cleaned up after its cancel.
    {:ok, history} = Client.fetch_history(ctx.client, handle)
    assert :ok = Replayer.replay_workflow(history, workflows: S.all())

    # Timers and activities started in turn and pending at the cancel: cancelled in that order
    # (624cfa9 cancelled the activities first), and the history replays.
    pending = start(ctx, "RecordedPendingAtCancel", [5])
    wait_for_events(ctx, pending, "ACTIVITY_TASK_SCHEDULED", 2)
    :ok = Client.cancel_workflow(ctx.client, pending)
    assert {:error, {:cancelled, _}} = Client.workflow_result(ctx.client, pending)
    {json, 0} = cli(ctx, ["workflow", "show", "-w", pending.workflow_id, "-o", "json"])

    cancels =
      for [type] <-
            Regex.scan(
              ~r/"eventType": "EVENT_TYPE_(TIMER_CANCELED|ACTIVITY_TASK_CANCEL_REQUESTED)"/,
              json,
              capture: :all_but_first
            ),
          do: type

    assert cancels == ~w(TIMER_CANCELED ACTIVITY_TASK_CANCEL_REQUESTED TIMER_CANCELED
                         ACTIVITY_TASK_CANCEL_REQUESTED TIMER_CANCELED)

    {:ok, history} = Client.fetch_history(ctx.client, pending)
    assert :ok = Replayer.replay_workflow(history, workflows: Hourglass.RecordedWorkflows.all())

    cleanup = start(ctx, "CleanupAfterCancel")
    wait_for_events(ctx, cleanup, "WORKFLOW_TASK_COMPLETED")
    :ok = Client.cancel_workflow(ctx.client, cleanup)
    assert {:error, {:cancelled, _}} = Client.workflow_result(ctx.client, cleanup)
    assert count_history_events(ctx, cleanup.workflow_id, "ACTIVITY_TASK_COMPLETED") == 1
    {:ok, history} = Client.fetch_history(ctx.client, cleanup)
    assert :ok = Replayer.replay_workflow(history, workflows: S.all())
  end

  test "Workflow.cancel/1: a timer, an activity, a local activity in its backoff and a child",
       ctx do
    handle = start(ctx, "CancelsItsOwn")

    assert {:ok, %{"outcomes" => outcomes, "second_await" => second}} =
             Client.workflow_result(ctx.client, handle)

    assert [
             "{:error, :cancelled}",
             "{:error, %Hourglass.ActivityError{activity_type: \"echo\", cause: {:cancelled" <> _,
             "{:error, %Hourglass.ActivityError{activity_type: \"fail_until\", cause: {:cancelled" <>
               _,
             "{:error, %Hourglass.ChildWorkflowError{workflow_type: \"Cancellable\"" <> child
           ] = outcomes

    assert child =~ "cause: {:cancelled"
    assert second =~ "awaited before"
    assert count_history_events(ctx, handle.workflow_id, "TIMER_CANCELED") == 2
    assert count_history_events(ctx, handle.workflow_id, "ACTIVITY_TASK_CANCEL_REQUESTED") == 1
    assert task_failures(ctx, handle) == 0
  end

  test "bad input from clients: signals dropped and logged, a refusing signal handler fails " <>
         "the workflow, undecodable updates rejected, undecodable query arguments answered",
       ctx do
    handle = start(ctx, "RefusingSignals")
    :ok = Client.signal_workflow(ctx.client, handle, "amount", ["ten"])

    assert {:error,
            {:failed, %ApplicationError{type: "BadAmount", message: "not an amount" <> _}}} =
             Client.workflow_result(ctx.client, handle)

    assert task_failures(ctx, handle) == 0

    # A signal, an update and a query whose payloads no converter knows (the temporal CLI
    # sends its input as a payload of the encoding it is told).
    handle = start(ctx, "RefusingSignals")
    unknown = ["--input", ~s("ten"), "--input-meta", "encoding=binary/unknown"]
    on_run = ["-w", handle.workflow_id, "--name"]

    log =
      capture_log(fn ->
        assert {_, 0} = cli(ctx, ["workflow", "signal"] ++ on_run ++ ["amount" | unknown])
        {out, _} = cli(ctx, ["workflow", "update", "execute"] ++ on_run ++ ["set" | unknown])
        assert out =~ "binary/unknown", out

        {out, status} =
          cli(ctx, ["workflow", "query", "-w", handle.workflow_id, "--type", "q"] ++ unknown)

        assert status != 0 and out =~ "binary/unknown", out
        :ok = Client.signal_workflow(ctx.client, handle, "amount", [1])
        :ok = Client.signal_workflow(ctx.client, handle, "amount", [2])
        assert {:ok, [1, 2]} = Client.workflow_result(ctx.client, handle)
      end)

    assert log =~ ~s(signal "amount" dropped)
    assert log =~ handle.workflow_id
    assert task_failures(ctx, handle) == 0
  end

  test "queries and validators cannot change the run: random draws, throws and exits", ctx do
    handle = start(ctx, "LookingHandlers")
    wait_for_events(ctx, handle, "WORKFLOW_TASK_COMPLETED")

    assert {:ok, [random, uuid]} = Client.query_workflow(ctx.client, handle, "draw")
    assert is_float(random) and byte_size(uuid) == 36
    assert {:error, {_, message}} = Client.query_workflow(ctx.client, handle, "throw")
    assert message =~ "throw"
    assert {:error, {_, message}} = Client.query_workflow(ctx.client, handle, "exit")
    assert message =~ "exit"

    assert {:error, {:failed, %ApplicationError{type: "UpdateRejected"}}} =
             Client.execute_update(ctx.client, handle, "set", [1])

    assert {:ok, [^random, ^uuid]} = Client.query_workflow(ctx.client, handle, "draw")
    :ok = Client.signal_workflow(ctx.client, handle, "done", [])
    assert {:ok, _uuid} = Client.workflow_result(ctx.client, handle)
    {:ok, history} = Client.fetch_history(ctx.client, handle)
    assert :ok = Replayer.replay_workflow(history, workflows: S.all())
  end

  test "an update whose handler can finish in the workflow's last activation is answered", ctx do
    handle = start(ctx, "UpdateAtTheEnd")
    {:ok, update} = Client.start_update(ctx.client, handle, "wait", [])
    :ok = Client.signal_workflow(ctx.client, handle, "go", [])
    assert {:ok, "ended"} = Client.workflow_result(ctx.client, handle)
    assert {:ok, "answered"} = Client.update_result(ctx.client, update)
  end

  test "two pieces of code awaiting one handle: the first takes the outcome, the other is told",
       ctx do
    handle = start(ctx, "SharedHandle")
    {:ok, update} = Client.start_update(ctx.client, handle, "await_it_too", [])
    :ok = Client.signal_workflow(ctx.client, handle, "go", [])
    assert {:ok, "shared"} = Client.workflow_result(ctx.client, handle)
    assert {:ok, message} = Client.update_result(ctx.client, update)
    assert message =~ "awaited before"
  end

  test "signal handlers may wait: an activity and a timer in each of two signals", ctx do
    handle = start(ctx, "SignalWaits")
    :ok = Client.signal_workflow(ctx.client, handle, "charge", [1])
    :ok = Client.signal_workflow(ctx.client, handle, "charge", [2])
    assert {:ok, ["receipt-1", "receipt-2"]} = Client.workflow_result(ctx.client, handle)
    assert task_failures(ctx, handle) == 0
    {:ok, history} = Client.fetch_history(ctx.client, handle)
    assert :ok = Replayer.replay_workflow(history, workflows: S.all())
  end

  test "handlers left waiting at the end: warned of, but for those whose policy is :abandon",
       ctx do
    handle = start(ctx, "LeavesUpdates")

    log =
      capture_log(fn ->
        {:ok, _} = Client.start_update(ctx.client, handle, "loud", [])
        {:ok, _} = Client.start_update(ctx.client, handle, "quiet", [])
        :ok = Client.signal_workflow(ctx.client, handle, "end", [])
        assert {:ok, "left them"} = Client.workflow_result(ctx.client, handle)
      end)

    assert log =~ ~s{handlers had not (update "loud")}
  end

  test "a run's process holds no result it handed out: 300 results of 20 KB, none kept", ctx do
    handle = start(ctx, "Discards", [300, 20_000])
    wait_for_events(ctx, handle, "MARKER_RECORDED", 300)
    pid = run_process(handle.workflow_id)
    :erlang.garbage_collect(pid)
    {:memory, heap} = Process.info(pid, :memory)
    {:binary, binaries} = Process.info(pid, :binary)
    held = heap + Enum.sum(for {_id, size, _refs} <- binaries, do: size)
    assert held < 1_000_000, "the run holds #{held} bytes"
    :ok = Client.signal_workflow(ctx.client, handle, "done", [])
    assert {:ok, 300} = Client.workflow_result(ctx.client, handle)
  end

  test "evictions and a stopping worker end runs without a word of failure, whatever the code " <>
         "catches",
       ctx do
    :ets.new(:hourglass_catches_everything, [:public, :named_table, :set])
    # A worker of its own that caches one run: the second run evicts the first.
    queue = "#{ctx.queue}-cache-of-one"
    opts = [task_queue: queue, address: ctx.address, workflows: S.all(), max_cached_workflows: 1]
    spec = Supervisor.child_spec({Hourglass.Worker, opts}, id: :cache_of_one)
    first_id = "catches-everything-#{ctx.queue}"

    log =
      capture_log(fn ->
        start_supervised!(spec, restart: :temporary)
        first = start(ctx, "CatchesEverything", [], task_queue: queue, id: first_id)
        wait_for_events(ctx, first, "WORKFLOW_TASK_COMPLETED")
        second = start(ctx, "CatchesEverything", [], task_queue: queue)
        wait_for_events(ctx, second, "WORKFLOW_TASK_COMPLETED")
        :ok = Client.signal_workflow(ctx.client, first, "done", [])
        assert {:ok, "done"} = Client.workflow_result(ctx.client, first)
        # The first run was evicted and replayed; the evicted process never went on.
        assert :ets.lookup(:hourglass_catches_everything, first.workflow_id) == [
                 {first.workflow_id, 2}
               ]

        # The worker stops while the second run waits in its cache.
        :ok = stop_supervised(:cache_of_one)
        assert task_failures(ctx, second) == 0
      end)

    assert :ets.lookup(:hourglass_catches_everything, :caught) == []
    # Workflow code's log lines carry the run's ids and are not repeated by its replay.
    assert length(String.split(log, "catches everything: started (#{first_id})")) == 2
    refute log =~ "workflow task failed"
    refute log =~ "worker_down"
  end

  test "continue-as-new with a memo, search attributes and a retry policy; a child with a memo " <>
         "and search attributes",
       ctx do
    handle = start(ctx, "CarriesOn", ["first"])

    assert {:ok,
            %{
              "memo" => %{"step" => 2},
              "search_attributes" => %{"HourglassCustomer" => "ada"},
              "child" => %{
                "memo" => %{"from" => "parent"},
                "search_attributes" => %{"HourglassPriority" => 7}
              }
            }} = Client.workflow_result(ctx.client, handle)

    # The second run started with the retry policy the first gave it.
    {out, 0} = cli(ctx, ["workflow", "show", "-w", handle.workflow_id, "-o", "json"])
    assert out =~ ~s("maximumAttempts": 3)
  end

  test "a codec that fails on a signal's input fails the task; the retry takes the signal", ctx do
    :ets.new(:hourglass_flaky_codec, [:public, :named_table, :set])
    queue = "#{ctx.queue}-flaky-codec"

    start_supervised!(
      {Hourglass.Worker,
       task_queue: queue,
       address: ctx.address,
       workflows: [W.Approval],
       activities: activities(),
       payload_codec: S.FlakyCodec},
      restart: :temporary
    )

    {:ok, client} = Client.connect(address: ctx.address, payload_codec: S.FlakyCodec)

    capture_log(fn ->
      handle = start(%{ctx | client: client}, "Approval", ["order-3"], task_queue: queue)
      :ok = Client.signal_workflow(client, handle, "approve", ["flaky-ada"])

      assert {:ok, %{"approver" => "flaky-ada"}} = Client.workflow_result(client, handle)
      assert task_failures(ctx, handle) == 1
    end)
  end

  test "time in a slow payload codec does not count toward the deadlock timeout", ctx do
    queue = "#{ctx.queue}-slow-codec"

    start_supervised!(
      {
        Hourglass.Worker,
        # Shorter than one codec call: a call in progress counts as codec time too.
        task_queue: queue,
        address: ctx.address,
        workflows: [S.CodecHeavy],
        activities: activities(),
        payload_codec: S.SlowCodec,
        deadlock_timeout: 150
      },
      restart: :temporary
    )

    {:ok, client} = Client.connect(address: ctx.address, payload_codec: S.SlowCodec)
    handle = start(%{ctx | client: client}, "CodecHeavy", [], task_queue: queue)
    assert {:ok, [1, 2, 3, 4]} = Client.workflow_result(client, handle)
    assert task_failures(ctx, handle) == 0
  end

  defp run_process(workflow_id) do
    Enum.find_value(1..200, fn _ ->
      Hourglass.WorkflowExecutor.DynamicSupervisor
      |> DynamicSupervisor.which_children()
      |> Enum.find_value(fn {_, pid, _, _} ->
        with {:dictionary, dictionary} <- Process.info(pid, :dictionary),
             %{info: %{workflow_id: ^workflow_id}} <-
               Keyword.get(dictionary, :"$hourglass_workflow_run"),
             do: pid,
             else: (_ -> nil)
      end) || Process.sleep(50)
    end)
  end
end
