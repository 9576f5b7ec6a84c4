defmodule Hourglass.Integration.FeaturesTest do
  # Conformance with the official SDKs, after the public temporalio/features repository: for
  # each feature, the Elixir port (test/support/features) served by an Hourglass worker passes
  # the feature's checker, run by the Python starter and checker of
  # test/support/python/features.py; and the history of the Python reference workflow, recorded
  # on a Python worker, replays against the Elixir port (the two issue the same commands).
  use Hourglass.IntegrationCase, async: true

  alias Hourglass.Features.{Activity, ChildWorkflow, ContinueAsNew, DataConverter}
  alias Hourglass.Features.{Query, Schedule, Signal, Update}
  alias Hourglass.Features.Update.TaskFailures
  alias Hourglass.{Payload, Replayer, WorkflowHistory}

  @script Path.expand("../support/python/features.py", __DIR__)

  # Each feature: the worker options of its Elixir port (its workflows, the activities they
  # call, a payload codec).
  @features [
    {"activity/basic_no_workflow_timeout",
     workflows: [Activity.BasicNoWorkflowTimeout], activities: [Activity.Echo]},
    {"activity/retry_on_error",
     workflows: [Activity.RetryOnError], activities: [Activity.AlwaysFail]},
    {"signal/basic", workflows: [Signal.Basic]},
    {"signal/external", workflows: [Signal.External]},
    {"signal/child_workflow", workflows: [Signal.ChildWorkflow, Signal.ChildWorkflow.Child]},
    {"query/successful_query", workflows: [Query.SuccessfulQuery]},
    {"query/unexpected_query_type_name", workflows: [Query.UnexpectedQueryTypeName]},
    {"query/unexpected_arguments", workflows: [Query.UnexpectedArguments]},
    {"query/unexpected_return_type", workflows: [Query.UnexpectedReturnType]},
    {"update/basic", workflows: [Update.Basic]},
    {"update/basic_async", workflows: [Update.BasicAsync]},
    {"update/non_durable_reject", workflows: [Update.NonDurableReject]},
    {"update/self", workflows: [Update.Self], activities: [Update.SelfUpdate]},
    {"update/client_interceptor", workflows: [Update.ClientInterceptor]},
    {"update/activities", workflows: [Update.Activities], activities: [Update.SayHi]},
    {"update/async_accepted", workflows: [Update.AsyncAccepted]},
    {"update/deduplication", workflows: [Update.Deduplication]},
    {"child_workflow/result", workflows: [ChildWorkflow.Result, ChildWorkflow.Result.Child]},
    {"child_workflow/signal", workflows: [ChildWorkflow.Signal, ChildWorkflow.Signal.Child]},
    {"continue_as_new/continue_as_same", workflows: [ContinueAsNew.ContinueAsSame]},
    {"schedule/cron", workflows: [Schedule.Cron]},
    {"data_converter/json", workflows: [DataConverter.Echo]},
    {"data_converter/binary", workflows: [DataConverter.Echo]},
    {"data_converter/empty",
     workflows: [DataConverter.Empty], activities: [DataConverter.NullActivity]},
    {"data_converter/codec",
     workflows: [DataConverter.Echo], payload_codec: DataConverter.Base64Codec}
  ]

  for {feature, port} <- @features do
    @tag :tmp_dir
    test "#{feature}: the Elixir port passes the checker and replays the Python history", ctx do
      port = unquote(port)
      assert %{"ok" => true} = check(ctx, unquote(feature), port)
      assert_replays(ctx, unquote(feature), port)
    end
  end

  # Their update handlers fail workflow tasks on purpose, counting them outside the runs (in a
  # module global in Python): the Python checker asserts the Python worker's count when it runs
  # the reference; these assert the port's. The replays run past the count, as the worker that
  # made the history does.
  @tag :tmp_dir
  test "update/task_failure: the port fails two tasks, passes the checker and replays", ctx do
    TaskFailures.reset(Update.TaskFailure)
    port = [workflows: [Update.TaskFailure]]
    assert %{"ok" => true} = check(ctx, "update/task_failure", port)
    assert TaskFailures.count(Update.TaskFailure) == 2
    assert_replays(ctx, "update/task_failure", port)
  end

  @tag :tmp_dir
  test "update/validation_replay: the port fails one task, passes the checker and replays",
       ctx do
    TaskFailures.reset(Update.ValidationReplay)
    port = [workflows: [Update.ValidationReplay]]
    assert %{"ok" => true} = check(ctx, "update/validation_replay", port)
    assert TaskFailures.count(Update.ValidationReplay) == 1
    assert_replays(ctx, "update/validation_replay", port)
  end

  # features/update/worker_restart stops the worker and starts another while the update's
  # activity blocks. The Python checker cannot restart an Elixir worker, so this test, which
  # runs it, takes that part of the checker (as the Python checker does for its own worker when
  # it records; Update.Blocks' reports and permit stand for the feature's semaphores): it waits
  # for the activity to start, stops the worker (cancelling the activity), starts another, and
  # gives the activity leave. Meanwhile the Python check waits for the update and the
  # workflow's result, and asserts that the activity finished on a later attempt.
  @tag :tmp_dir
  test "update/worker_restart: the test restarts the worker midway; the check passes, replays",
       ctx do
    Update.Blocks.reset(self())

    # A Python worker cancels its activities at once when it stops (its graceful shutdown
    # timeout is zero by default); so does this one.
    port = [
      workflows: [Update.WorkerRestart],
      activities: [Update.Blocks],
      graceful_shutdown_timeout: 0
    ]

    start_worker(ctx, port)
    check = Task.async(fn -> python(ctx, ["update/worker_restart", ctx.queue, "check"]) end)

    assert_receive {:blocks_started, 1}, 60_000
    :ok = stop_supervised({Hourglass.Worker, ctx.queue})
    start_worker(ctx, port)
    Update.Blocks.release()

    # The next attempt, on the new worker, which replayed the run up to the waiting handler.
    assert_receive {:blocks_started, 2}, 60_000
    assert %{"ok" => true} = Task.await(check, 200_000)
    refute_received {:blocks_started, _}
    assert_replays(ctx, "update/worker_restart", port)
  end

  # In features/continue_as_new/updates_do_not_block_continue_as_new the workflow's first task
  # blocks until the checker saw the update admitted, sharing events with it in one process.
  # The Elixir workflow and the Python checker do not share a process: this test passes the
  # word between them (the workflow's message to the checker's standard input, the checker's
  # line to the workflow), as the events would.
  @tag :tmp_dir
  test "continue_as_new/updates_do_not_block_continue_as_new: passes the check, replays", ctx do
    feature = "continue_as_new/updates_do_not_block_continue_as_new"
    # The first task waits for the word on purpose: longer than the deadlock timeout may allow
    # on a loaded machine.
    port = [workflows: [ContinueAsNew.UpdatesDoNotBlockContinueAsNew], deadlock_timeout: 120_000]
    ContinueAsNew.FirstTaskGate.arm(self())
    start_worker(ctx, port)
    args = [feature, ctx.queue, "check"]
    check = python_port(ctx, args)

    assert_receive {:first_task_in_progress, workflow}, 60_000
    Port.command(check, "first task in progress\n")
    await_output(check, ~r/(update admitted)/, 60_000)
    send(workflow, :update_admitted)

    assert %{"ok" => true} = outcome(collect_output(check, 200_000), args)
    assert_replays(ctx, feature, port)
  end

  # Serves the feature's Elixir port on the test's task queue and runs the Python check.
  defp check(ctx, feature, port) do
    start_worker(ctx, port)
    python(ctx, [feature, ctx.queue, "check"])
  end

  # Records the Python reference's histories on a queue of their own and replays each (the
  # started run's, and a child's or the next run's) against the Elixir port.
  defp assert_replays(ctx, feature, port) do
    file = Path.join(ctx.tmp_dir, "history.json")

    assert %{"ok" => true, "histories" => [_ | _] = histories} =
             python(ctx, [feature, ctx.queue <> "-python", "record", file])

    for %{"workflow_id" => workflow_id, "file" => file} <- histories do
      assert {:ok, history} = WorkflowHistory.from_json(File.read!(file), workflow_id)

      assert :ok =
               Replayer.replay_workflow(history,
                 workflows: port[:workflows],
                 payload_codec: port[:payload_codec],
                 timeout: 120_000
               ),
             "#{feature}: #{Path.basename(file)} of #{workflow_id}"
    end
  end

  # Runs features.py; its outcome, the JSON object it printed last, with all it printed under
  # "output" (a failed match shows it).
  defp python(ctx, args) do
    {output, _status} =
      System.cmd("python3", [@script, ctx.address | args], stderr_to_stdout: true)

    outcome(output, args)
  end

  # Runs features.py behind a port, to talk with it while it runs.
  defp python_port(ctx, args) do
    Port.open({:spawn_executable, System.find_executable("python3")}, [
      :binary,
      :exit_status,
      :stderr_to_stdout,
      args: [@script, ctx.address | args]
    ])
  end

  # What the program behind `port` prints from now until it exits.
  defp collect_output(port, timeout, output \\ "") do
    receive do
      {^port, {:data, data}} -> collect_output(port, timeout, output <> data)
      {^port, {:exit_status, _status}} -> output
    after
      timeout -> flunk("features.py did not exit in #{timeout} ms: #{output}")
    end
  end

  defp outcome(output, args) do
    line =
      output
      |> String.split("\n", trim: true)
      |> Enum.filter(&String.starts_with?(&1, "{\"ok\""))
      |> List.last()

    assert line, "features.py #{Enum.join(args, " ")} printed no outcome:\n#{output}"

    {:ok, [outcome]} =
      Payload.to_values([%Payload{metadata: %{"encoding" => "json/plain"}, data: line}])

    Map.put(outcome, "output", output)
  end
end
