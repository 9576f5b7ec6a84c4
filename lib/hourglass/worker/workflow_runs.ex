defmodule Hourglass.Worker.WorkflowRuns do
  @moduledoc """
  The worker's side of workflow runs: it starts a run's process for the activation that
  initializes it, forwards it every later one, and makes sure every activation gets exactly
  one answer.

  The run answers its activations itself (`Hourglass.Workflow.Run`). The worker answers for it
  when the run's process dies with an activation unanswered, or does not answer within the
  deadlock timeout (the worker's `:deadlock_timeout`, 2 s by default as in the Python SDK:
  workflow code must not block): a workflow task is failed (Core then evicts the run and the
  server retries the task, replaying history into a new process); an eviction is answered
  done, a legacy query with an error. An activation for a run with no process (one that ended
  outside an activation) is failed the same way, an eviction for it answered. These functions
  take and return the worker's state.

  Each activation comes from the NIF with a token of its own, and every answer names it. The
  run does not tell the worker that it answered (a message per activation would wake the worker
  once more each time); the worker answers for a run with the token of the activation it sent,
  and the NIF passes on only the first answer to an activation that is still open, so an
  answer for a run that answered already — just before it died, or just in time — is refused
  and changes nothing. Core hands a run one activation at a time, so a new activation means the
  one before was answered. A run's process ends once it has answered its eviction, and the next
  activation for the run (Core replaying it, or a query to it) may arrive before that exit does:
  it goes to a new process, and the old process's exit concerns only what was sent to it.
  """

  require Logger

  alias Hourglass.{Native, WorkflowExecutor}

  @doc """
  The fields of the worker's state these functions keep, to merge into it: the runs' processes
  and monitors, the last activation sent to each run (`outstanding`: answered or not, runs do
  not say), and the deadlock timeout (milliseconds or `:infinity`). The state also needs
  `:core`, `:workflows` (type => module), `:task_queue`, `:options` (with `:namespace`) and
  `:payload_codec`.
  """
  @spec fields(pos_integer() | :infinity) :: map()
  def fields(deadlock_timeout),
    do: %{
      runs: %{},
      run_monitors: %{},
      outstanding: %{},
      codec_clocks: %{},
      deadlock_timeout: deadlock_timeout
    }

  @doc "Handles an activation from Core's poll loop, sent with `token`."
  @spec activation(map(), non_neg_integer(), map()) :: map()
  def activation(activation, token, state) do
    run_id = activation.run_id
    state = forget_outstanding(run_id, state)

    case Map.fetch(state.runs, run_id) do
      {:ok, pid} ->
        send(pid, {:"$hourglass_workflow_activation", activation, token})
        state = await_answer(activation, pid, token, state)

        # The process ends once it has answered its eviction: it is no longer the run's.
        if kind(activation.jobs) == :eviction,
          do: %{state | runs: Map.delete(state.runs, run_id)},
          else: state

      :error ->
        case Enum.find(activation.jobs, &match?({:initialize, _}, &1)) do
          {:initialize, init} -> start_run(init, activation, token, state)
          nil -> answer_without_run(activation, token, state)
        end
    end
  end

  defp forget_outstanding(run_id, state) do
    case Map.pop(state.outstanding, run_id) do
      {nil, _} ->
        state

      {{_token, timer, _kind, _pid}, outstanding} ->
        if timer, do: Process.cancel_timer(timer)
        %{state | outstanding: outstanding}
    end
  end

  @doc """
  An activation's deadline passed: if the run has not answered it, it is stuck, and is
  stopped. (The run does not say when it answers: a deadline may pass for an activation
  answered long ago, and the answer given here is then refused.)
  """
  @spec deadline(String.t(), non_neg_integer(), map()) :: map()
  def deadline(run_id, token, state) do
    with {^token, _timer, kind, pid} <- Map.get(state.outstanding, run_id),
         0 <- codec_milliseconds(run_id, state) do
      message =
        "the workflow did not finish handling an activation within #{state.deadlock_timeout} ms " <>
          "(workflow code must not block: wait with Hourglass.Workflow calls)"

      # Answered first: a run that answered in time is left alone. One that had not cannot
      # answer any more (its answer would be refused, and it would end), and its stack still
      # shows where it is stuck until it is killed.
      if answer_for(run_id, token, kind, message, state) == :answered do
        stack = Process.info(pid, :current_stacktrace)

        Logger.error(
          "Hourglass.Worker #{inspect(state.task_queue)}: run #{run_id}: #{message}; it was at " <>
            inspect(stack && elem(stack, 1))
        )

        Process.exit(pid, :kill)
      end

      %{state | outstanding: Map.delete(state.outstanding, run_id)}
    else
      # Time in the payload codec is not the run's: the deadline moves by as much.
      milliseconds when is_integer(milliseconds) ->
        {token, _timer, kind, pid} = Map.fetch!(state.outstanding, run_id)
        timer = Process.send_after(self(), {:activation_deadline, run_id, token}, milliseconds)
        %{state | outstanding: Map.put(state.outstanding, run_id, {token, timer, kind, pid})}

      _ ->
        state
    end
  end

  # The time the run spent in its payload codec since the deadline was last set (the run
  # resets the clock as each activation begins), a call still in progress included, rounded
  # up. Slot 1: microseconds of calls that ended; slot 2: when the call in progress began, or
  # when it was last counted here (0: none).
  defp codec_milliseconds(run_id, state) do
    case Map.fetch(state.codec_clocks, run_id) do
      {:ok, {_pid, clock}} ->
        ended = :atomics.exchange(clock, 1, 0)
        now = System.monotonic_time(:microsecond)

        in_progress =
          case :atomics.get(clock, 2) do
            0 ->
              0

            # Counted only if the call has not ended meanwhile (then slot 1 has it).
            began ->
              if :atomics.compare_exchange(clock, 2, began, now) == :ok, do: now - began, else: 0
          end

        div(ended + in_progress + 999, 1000)

      :error ->
        0
    end
  end

  @doc "A run's process ended."
  @spec run_down(reference(), term(), map()) :: map()
  def run_down(ref, reason, state) do
    {{run_id, pid}, run_monitors} = Map.pop(state.run_monitors, ref)

    runs =
      case state.runs do
        %{^run_id => ^pid} -> Map.delete(state.runs, run_id)
        runs -> runs
      end

    state = %{
      state
      | run_monitors: run_monitors,
        runs: runs,
        codec_clocks:
          case state.codec_clocks do
            %{^run_id => {^pid, _clock}} -> Map.delete(state.codec_clocks, run_id)
            clocks -> clocks
          end
    }

    case Map.get(state.outstanding, run_id) do
      {token, _timer, kind, ^pid} ->
        message = "the workflow's process exited: #{inspect(reason)}"
        answer_for(run_id, token, kind, message, state)
        forget_outstanding(run_id, state)

      _other_or_none ->
        state
    end
  end

  defp start_run(init, activation, token, state) do
    codec_clock = state.payload_codec && :atomics.new(2, signed: true)

    with {:ok, module} <- workflow_module(init.workflow_type, state),
         {:ok, pid} <-
           WorkflowExecutor.DynamicSupervisor.start_child(%{
             core: state.core,
             worker: self(),
             module: module,
             task_queue: state.task_queue,
             namespace: state.options.namespace,
             codec: state.payload_codec,
             failure_exception_types:
               Map.get(state.options, :workflow_failure_exception_types, []) ++
                 module.__workflow_failure_exception_types__(),
             codec_clock: codec_clock
           }) do
      # Sent, not given to start it with: the supervisor keeps a child's start arguments for
      # the child's lifetime, and the first activation can be large (the workflow's input).
      send(pid, {:"$hourglass_workflow_activation", activation, token})
      ref = Process.monitor(pid)

      state = %{
        state
        | runs: Map.put(state.runs, activation.run_id, pid),
          run_monitors: Map.put(state.run_monitors, ref, {activation.run_id, pid}),
          codec_clocks:
            if(codec_clock,
              do: Map.put(state.codec_clocks, activation.run_id, {pid, codec_clock}),
              else: state.codec_clocks
            )
      }

      await_answer(activation, pid, token, state)
    else
      {:error, message} when is_binary(message) ->
        fail(activation.run_id, token, message, state)
        state

      {:error, reason} ->
        message = "cannot start the run's process: #{inspect(reason)}"
        fail(activation.run_id, token, message, state)
        state
    end
  end

  defp workflow_module(type, state) do
    case Map.fetch(state.workflows, type) do
      {:ok, module} ->
        {:ok, module}

      :error ->
        {:error,
         "workflow type #{inspect(type)} is not served by the worker on #{inspect(state.task_queue)} " <>
           "(it serves #{inspect(Map.keys(state.workflows))})"}
    end
  end

  defp answer_without_run(activation, token, state) do
    message = "the run's process is gone; the run is replayed"
    answer_for(activation.run_id, token, kind(activation.jobs), message, state)
    state
  end

  defp await_answer(activation, pid, token, state) do
    run_id = activation.run_id

    timer =
      case state.deadlock_timeout do
        :infinity -> nil
        ms -> Process.send_after(self(), {:activation_deadline, run_id, token}, ms)
      end

    kind = kind(activation.jobs)
    %{state | outstanding: Map.put(state.outstanding, run_id, {token, timer, kind, pid})}
  end

  # What answering for the run takes: an eviction or a legacy query comes without a workflow
  # task, so it cannot be answered with a failed task (Core takes that as a broken invariant).
  defp kind(jobs) do
    cond do
      Enum.all?(jobs, &match?({:remove_from_cache, _, _}, &1)) ->
        :eviction

      Enum.all?(jobs, &match?({:query, _, _, _}, &1)) ->
        {:queries, for({:query, id, _, _} <- jobs, do: id)}

      true ->
        :task
    end
  end

  # Answers for the run: :answered, or :already_answered when the run had answered itself.
  defp answer_for(run_id, token, :eviction, _message, state),
    do: complete(state, run_id, token, {:ok, []})

  defp answer_for(run_id, token, {:queries, ids}, message, state),
    do:
      complete(
        state,
        run_id,
        token,
        {:ok, for(id <- ids, do: {:respond_to_query, id, {:error, message}})}
      )

  defp answer_for(run_id, token, :task, message, state), do: fail(run_id, token, message, state)

  defp fail(run_id, token, message, state),
    do: complete(state, run_id, token, {:failed, message})

  defp complete(state, run_id, token, completion) do
    case Native.worker_complete_activation(state.core, run_id, token, completion) do
      :ok -> :answered
      {:error, :already_answered} -> :already_answered
    end
  end
end
