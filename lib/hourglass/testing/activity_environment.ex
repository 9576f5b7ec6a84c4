defmodule Hourglass.Testing.ActivityEnvironment do
  @moduledoc """
  Runs one activity in a test, without a Temporal server: the test chooses what the activity
  sees in `Hourglass.Activity.info/0`, calls it with its arguments, and gets back what the
  worker would report to the server.

      test "greets" do
        assert %{result: {:completed, "Hello, Ada!"}} =
                 ActivityEnvironment.run(MyApp.Greet, ["Ada"])
      end

      test "resumes from its last heartbeat" do
        outcome = ActivityEnvironment.run(MyApp.Import, ["file.csv"], heartbeat_details: [41])
        assert {:completed, 100} = outcome.result
        assert List.last(outcome.heartbeats) == [100]
      end

      test "stops when cancelled" do
        run = ActivityEnvironment.start(MyApp.Import, ["file.csv"])
        assert [_details] = ActivityEnvironment.await_heartbeat(run)
        ActivityEnvironment.cancel(run, "no longer needed")
        assert %{result: {:cancelled, "no longer needed"}} = ActivityEnvironment.await(run)
      end

  The activity is an Elixir module (`use Hourglass.Activity`) or the type of a native activity
  (`"hourglass.sha256"`). It runs exactly as under a worker — the same executor supervisor, the
  same `Hourglass.ActivityRunner` code path, the same tokio runtime for native bodies — only the
  completion and the heartbeats come back to the test instead of going to a server. So the
  result is `{:completed, value}`, `{:failed, %Hourglass.ApplicationError{}}`,
  `{:cancelled, details}` or `:will_complete_async`, with the stack trace, error types and
  cancellation semantics of production.

  A run belongs to the process that started it: its heartbeats and completion arrive in that
  process's mailbox, and `await/2` and `await_heartbeat/2` must be called from there.

  ## Options of `run/3` and `start/3`

  Any field of `Hourglass.ActivityTask` except the input, checked the same way:
  `:attempt` (default 1), `:heartbeat_details` (default `[]`), `:activity_id` (default
  `"test-activity"`), `:workflow_id`, `:workflow_run_id`, `:workflow_type`,
  `:workflow_namespace`, `:scheduled_time`, `:current_attempt_scheduled_time`, `:started_time`,
  `:schedule_to_close_timeout`, `:start_to_close_timeout`, `:heartbeat_timeout` (milliseconds),
  and `:task_token` (default: a unique binary). `run/3` also takes `:timeout`, how long to wait
  for the outcome (default 5 000 ms).
  """

  alias Hourglass.{Activity, ActivityExecutor, ActivityRegistry, ActivityRunner, BridgeHolder}

  @enforce_keys [:task_queue, :task_token, :executor, :monitor]
  defstruct [:task_queue, :task_token, :executor, :monitor]

  @typedoc "A running activity, as returned by `start/3`."
  @type t :: %__MODULE__{
          task_queue: String.t(),
          task_token: binary(),
          executor: pid(),
          monitor: reference()
        }

  @typedoc "An Elixir activity module, or the type of a native activity."
  @type activity :: module() | String.t()

  @typedoc """
  How the attempt ended, and the details of every heartbeat it recorded, oldest first (each a
  list: `[]` for a bare heartbeat, `[details]` otherwise).
  """
  @type outcome :: %{
          result:
            {:completed, term()}
            | {:failed, Hourglass.ApplicationError.t()}
            | {:cancelled, term()}
            | :will_complete_async,
          heartbeats: [[term()]]
        }

  # Every field of a task but those the environment sets itself.
  @task_fields Map.keys(Hourglass.ActivityTask.__struct__()) --
                 [:__struct__, :activity_type, :input, :payload_codec]

  @doc """
  Runs `activity` with `args` and waits for its outcome. Raises `ArgumentError` for an
  activity or options that cannot run, and when no outcome comes within `:timeout`.
  """
  @spec run(activity(), [term()], keyword()) :: outcome()
  def run(activity, args, opts \\ []) do
    {timeout, opts} = Keyword.pop(opts, :timeout, 5_000)
    activity |> start(args, opts) |> await(timeout)
  end

  @doc """
  Starts `activity` with `args` in an executor process and returns at once; see `await/2`,
  `await_heartbeat/2` and `cancel/2`.
  """
  @spec start(activity(), [term()], keyword()) :: t()
  def start(activity, args, opts \\ []) when is_list(args) and is_list(opts) do
    {registration, activity_type} = registration(activity)

    case Keyword.keys(opts) -- @task_fields do
      [] -> :ok
      unknown -> raise ArgumentError, "unknown options: #{inspect(unknown)}"
    end

    task_queue = "hourglass-test-#{System.unique_integer([:positive])}"
    token = "test-token-#{System.unique_integer([:positive])}"

    task =
      %{task_token: token, activity_id: "test-activity"}
      |> Map.merge(Map.new(opts))
      |> Map.merge(%{activity_type: activity_type, input: args})

    with {:error, {:invalid_activity_task, message}} <- Hourglass.ActivityTask.new(task) do
      raise ArgumentError, message
    end

    :ok = ActivityRegistry.register(task_queue, registration)
    :ok = BridgeHolder.register(task_queue, {:sink, self()})

    {:ok, executor} =
      ActivityExecutor.DynamicSupervisor.start_child(%{
        activity_task: task,
        task_queue: task_queue
      })

    %__MODULE__{
      task_queue: task_queue,
      task_token: task.task_token,
      executor: executor,
      monitor: Process.monitor(executor)
    }
  end

  @doc """
  Waits for the outcome of a run started with `start/3`, collecting its heartbeats. Raises when
  none comes within `timeout` milliseconds (the executor is stopped first).
  """
  @spec await(t(), timeout()) :: outcome()
  def await(%__MODULE__{} = run, timeout \\ 5_000) do
    deadline = if timeout == :infinity, do: :infinity, else: now() + timeout
    collect(run, [], deadline)
  end

  @doc """
  Waits for the next heartbeat of the run and returns its details (a list), or raises when none
  comes within `timeout` milliseconds. The heartbeat still shows in the outcome of `await/2`.
  """
  @spec await_heartbeat(t(), timeout()) :: [term()]
  def await_heartbeat(%__MODULE__{task_queue: queue} = run, timeout \\ 5_000) do
    receive do
      {:hourglass_heartbeat, ^queue, %{details: details}} = heartbeat ->
        # Put it back at the end of the mailbox, for await/2 to count.
        send(self(), heartbeat)
        details
    after
      timeout ->
        raise "activity #{inspect(run.task_token)} recorded no heartbeat within #{timeout} ms"
    end
  end

  @doc """
  Asks the run to stop, as a cancellation from the server would: a native body is aborted, an
  Elixir activity sees `Hourglass.Activity.cancelled?/0` become true and its next heartbeat
  raise. `details` come back in the `{:cancelled, details}` result.
  """
  @spec cancel(t(), term()) :: :ok
  def cancel(%__MODULE__{executor: executor}, details \\ nil),
    do: ActivityRunner.cancel(executor, details)

  defp registration(module) when is_atom(module) do
    case Code.ensure_loaded(module) do
      {:module, _} -> :ok
      {:error, reason} -> raise ArgumentError, "cannot load #{inspect(module)}: #{reason}"
    end

    case Activity.name(module) do
      nil -> raise ArgumentError, "#{inspect(module)} does not `use Hourglass.Activity`"
      name -> {[activities: [module]], name}
    end
  end

  defp registration(type) when is_binary(type) do
    if type in Hourglass.Native.activity_types(),
      do: {[native_activities: [type]], type},
      else: raise(ArgumentError, "unknown native activity type #{inspect(type)}")
  end

  defp registration(other),
    do: raise(ArgumentError, "not an activity module or native type: #{inspect(other)}")

  # `gone_by` is set once the executor turned out to be gone before it could be monitored: a
  # completion it shipped is on its way, and if none comes by then, it died without one.
  defp collect(run, heartbeats, deadline, gone_by \\ nil) do
    %{task_queue: queue, monitor: monitor} = run

    receive do
      {:hourglass_heartbeat, ^queue, %{details: details}} ->
        collect(run, [details | heartbeats], deadline, gone_by)

      {:hourglass_completion, ^queue, %{result: result}} ->
        finish(run)
        # A native body's owner heartbeats from its own process, so one of its heartbeats may
        # arrive just after the completion.
        %{result: result, heartbeats: Enum.reverse(heartbeats) ++ drain_heartbeats(queue)}

      {:DOWN, ^monitor, :process, _pid, :noproc} ->
        collect(run, heartbeats, deadline, now() + 1_000)

      {:DOWN, ^monitor, :process, _pid, reason} when reason != :normal ->
        exited(run, heartbeats, reason)
    after
      remaining(earliest(deadline, gone_by)) ->
        if gone_by != nil and earliest(deadline, gone_by) == gone_by do
          exited(run, heartbeats, :noproc)
        else
          Process.exit(run.executor, :kill)
          finish(run)

          raise "activity #{inspect(run.task_token)} did not finish within the timeout " <>
                  "(#{length(heartbeats)} heartbeat(s) recorded)"
        end
    end
  end

  # What the worker reports when an executor dies without shipping a completion.
  defp exited(run, heartbeats, reason) do
    finish(run)

    %{
      result: {:failed, ActivityRunner.exit_failure(reason)},
      heartbeats: Enum.reverse(heartbeats)
    }
  end

  defp drain_heartbeats(queue) do
    receive do
      {:hourglass_heartbeat, ^queue, %{details: details}} -> [details | drain_heartbeats(queue)]
    after
      0 -> []
    end
  end

  defp finish(run) do
    Process.demonitor(run.monitor, [:flush])
    BridgeHolder.unregister(run.task_queue)
    ActivityRegistry.unregister(run.task_queue)
  end

  defp now, do: System.monotonic_time(:millisecond)
  defp earliest(deadline, nil), do: deadline
  defp earliest(:infinity, gone_by), do: gone_by
  defp earliest(deadline, gone_by), do: min(deadline, gone_by)

  defp remaining(:infinity), do: :infinity
  defp remaining(deadline), do: max(deadline - now(), 0)
end
