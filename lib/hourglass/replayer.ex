defmodule Hourglass.Replayer do
  @moduledoc """
  Replays recorded workflow histories against workflow code, to prove that the code still
  makes the decisions the history recorded: run it in CI against histories of real runs before
  deploying a change.

      {:ok, history} = Hourglass.Client.fetch_history(client, "order-42")
      :ok = Hourglass.Replayer.replay_workflow(history, workflows: [MyApp.Order])

  It runs on Core's replay worker (no server: Core hands out each history's workflow tasks and
  checks every command the code issues against the events recorded), with the same run
  processes as a real worker (`Hourglass.Workflow.Run`). Activities, timers and child
  workflows are not run again: their outcomes come from the history.

  A replay fails with `{:nondeterminism, message}` when the code issued commands that differ
  from the history (Core's message names the event), or with `{:workflow_task_failed,
  message}` when the code raised or blocked.
  """

  alias Hourglass.{Native, PayloadCodec, WorkflowHistory}
  alias Hourglass.Worker.WorkflowRuns

  # As a worker's default: a replay runs the same code the same way.
  @deadlock_timeout 2_000

  @typedoc "Why a history did not replay."
  @type failure :: {:nondeterminism, String.t()} | {:workflow_task_failed, String.t()}

  @doc """
  Replays one history. Options: `:workflows` (the modules, as for `Hourglass.Worker`;
  required), `:payload_codec` (as the worker's), `:timeout` (milliseconds for the whole
  replay, default 60_000).
  """
  @spec replay_workflow(WorkflowHistory.t(), keyword()) :: :ok | {:error, failure() | term()}
  def replay_workflow(%WorkflowHistory{} = history, opts) do
    case replay_workflows([history], opts) do
      {:ok, [{_workflow_id, outcome}]} -> outcome
      {:error, reason} -> {:error, reason}
    end
  end

  @doc """
  Replays several histories, one after another. Returns
  `{:ok, [{workflow_id, :ok | {:error, failure}}]}` in their order, or `{:error, reason}` when
  the replay could not run at all (a history that cannot be decoded, bad options). Options as
  for `replay_workflow/2`.
  """
  @spec replay_workflows([WorkflowHistory.t()], keyword()) ::
          {:ok, [{String.t(), :ok | {:error, failure()}}]} | {:error, term()}
  def replay_workflows(histories, opts) when is_list(histories) and is_list(opts) do
    with {:ok, workflows} <- workflows(opts),
         {:ok, codec} <- codec(opts) do
      timeout = Keyword.get(opts, :timeout, 60_000)
      # In a process of its own: the replay's messages never reach the caller's mailbox.
      task = Task.async(fn -> replay(histories, workflows, codec) end)

      case Task.yield(task, timeout) || Task.shutdown(task, :brutal_kill) do
        {:ok, result} -> result
        nil -> {:error, :timeout}
      end
    end
  end

  defp workflows(opts) do
    modules = Keyword.get(opts, :workflows, [])

    if modules != [] and Enum.all?(modules, &workflow?/1),
      do: {:ok, Map.new(modules, &{&1.__workflow_name__(), &1})},
      else:
        {:error, {:invalid_option, :workflows, "a list of modules that use Hourglass.Workflow"}}
  end

  # As the worker takes it: a module, or {module, options}.
  defp codec(opts) do
    case PayloadCodec.validate(Keyword.get(opts, :payload_codec)) do
      {:ok, codec} -> {:ok, codec}
      {:error, message} -> {:error, {:invalid_option, :payload_codec, message}}
    end
  end

  defp workflow?(module),
    do:
      is_atom(module) and Code.ensure_loaded?(module) and
        function_exported?(module, :__workflow_name__, 0)

  # Each history on a replay worker of its own: two histories of one run (the same history
  # kept twice) on one worker would be taken for one run.
  defp replay(histories, workflows, codec) do
    Enum.reduce_while(histories, {:ok, []}, fn history, {:ok, outcomes} ->
      case replay_one(history, workflows, codec) do
        {:ok, outcome} -> {:cont, {:ok, [{history.workflow_id, outcome} | outcomes]}}
        {:error, reason} -> {:halt, {:error, reason}}
      end
    end)
    |> case do
      {:ok, outcomes} -> {:ok, Enum.reverse(outcomes)}
      {:error, reason} -> {:error, reason}
    end
  end

  defp replay_one(%WorkflowHistory{workflow_id: id, data: data}, workflows, codec) do
    with {:ok, core} <- Native.replayer_start([{id, data}], codec != nil),
         :ok <- Native.replayer_poll(core, self()) do
      state =
        Map.merge(WorkflowRuns.fields(@deadlock_timeout), %{
          core: core,
          workflows: workflows,
          task_queue: "hourglass-replay",
          options: %{namespace: "default"},
          payload_codec: codec,
          failure: nil
        })

      case drive(state).failure do
        nil -> {:ok, :ok}
        failure -> {:ok, {:error, failure}}
      end
    end
  end

  # The worker's side of the runs, as Hourglass.Worker does it, until Core has replayed all.
  defp drive(state) do
    receive do
      {:"$hourglass_activation", activation, token} ->
        activation = Native.resolve(activation)

        state
        |> observe(activation)
        |> then(&WorkflowRuns.activation(activation, token, &1))
        |> drive()

      {:activation_deadline, run_id, token} ->
        drive(WorkflowRuns.deadline(run_id, token, state))

      {:DOWN, ref, :process, _pid, reason} when is_map_key(state.run_monitors, ref) ->
        drive(WorkflowRuns.run_down(ref, reason, state))

      :"$hourglass_replay_done" ->
        state
    end
  end

  # The first eviction that says the replay went wrong.
  defp observe(state, activation) do
    Enum.reduce(activation.jobs, state, fn
      {:remove_from_cache, :nondeterminism, message}, %{failure: nil} = state ->
        %{state | failure: {:nondeterminism, failure_message(message)}}

      {:remove_from_cache, :lang_fail, message}, %{failure: nil} = state ->
        %{state | failure: {:workflow_task_failed, failure_message(message)}}

      _job, state ->
        state
    end)
  end

  # Core's eviction message wraps the failure in its debug form; the failure's own message is
  # what says what went wrong.
  defp failure_message(message) do
    case Regex.run(~r/message: "((?:[^"\\]|\\.)*)"/, message) do
      [_, inner] -> inner |> String.replace("\\n", "\n") |> String.replace(~S(\"), ~S("))
      nil -> message
    end
  end
end
