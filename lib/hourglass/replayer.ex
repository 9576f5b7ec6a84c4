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

  alias Hourglass.{Native, WorkflowHistory}
  alias Hourglass.Worker.WorkflowRuns

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
  Replays several histories, one after another, on one replay worker. Returns
  `{:ok, [{workflow_id, :ok | {:error, failure}}]}` in their order, or `{:error, reason}` when
  the replay could not run at all (a history that cannot be decoded, bad options). Options as
  for `replay_workflow/2`.
  """
  @spec replay_workflows([WorkflowHistory.t()], keyword()) ::
          {:ok, [{String.t(), :ok | {:error, failure()}}]} | {:error, term()}
  def replay_workflows(histories, opts) when is_list(histories) and is_list(opts) do
    with {:ok, workflows} <- workflows(opts) do
      codec = Keyword.get(opts, :payload_codec)
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

  defp workflow?(module),
    do:
      is_atom(module) and Code.ensure_loaded?(module) and
        function_exported?(module, :__workflow_name__, 0)

  defp replay(histories, workflows, codec) do
    pairs = for %WorkflowHistory{workflow_id: id, data: data} <- histories, do: {id, data}

    with {:ok, core} <- Native.replayer_start(pairs, codec != nil),
         :ok <- Native.replayer_poll(core, self()) do
      state = %{
        core: core,
        workflows: workflows,
        task_queue: "hourglass-replay",
        options: %{namespace: "default"},
        payload_codec: codec,
        runs: %{},
        run_monitors: %{},
        unanswered: %{},
        # run id => workflow id, and the first failure seen for each workflow id
        workflow_ids: %{},
        failures: %{}
      }

      state = drive(state)
      {:ok, for({id, _data} <- pairs, do: {id, outcome(state.failures, id)})}
    end
  end

  defp outcome(failures, workflow_id) do
    case Map.fetch(failures, workflow_id) do
      {:ok, failure} -> {:error, failure}
      :error -> :ok
    end
  end

  # The worker's side of the runs, as Hourglass.Worker does it, until Core has replayed all.
  defp drive(state) do
    receive do
      {:"$hourglass_activation", activation} ->
        activation = Native.resolve(activation)
        state |> observe(activation) |> then(&WorkflowRuns.activation(activation, &1)) |> drive()

      {:"$hourglass_activation_answered", run_id} ->
        drive(WorkflowRuns.answered(run_id, state))

      {:"$hourglass_activation_completed", run_id, outcome} ->
        drive(WorkflowRuns.completed(run_id, outcome, state))

      {:activation_deadline, run_id, token} ->
        drive(WorkflowRuns.deadline(run_id, token, state))

      {:DOWN, ref, :process, _pid, reason} when is_map_key(state.run_monitors, ref) ->
        drive(WorkflowRuns.run_down(ref, reason, state))

      :"$hourglass_replay_done" ->
        state
    end
  end

  # Which workflow each run is, and the evictions that say a replay went wrong.
  defp observe(state, activation) do
    Enum.reduce(activation.jobs, state, fn
      {:initialize, init}, state ->
        put_in(state.workflow_ids[activation.run_id], init.workflow_id)

      {:remove_from_cache, reason, message}, state when reason in [:nondeterminism, :lang_fail] ->
        failure =
          if reason == :nondeterminism,
            do: {:nondeterminism, failure_message(message)},
            else: {:workflow_task_failed, failure_message(message)}

        workflow_id = Map.get(state.workflow_ids, activation.run_id, activation.run_id)
        %{state | failures: Map.put_new(state.failures, workflow_id, failure)}

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
