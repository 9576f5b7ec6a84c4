defmodule Hourglass.Workflow.Run do
  @moduledoc """
  The process of one cached workflow run (see `Hourglass.Workflow` for what runs in it).

  The worker starts it with the run's first activation and forwards it every later one as
  `{:"$hourglass_workflow_activation", activation, token}`. The workflow code runs in this
  process: the run's bookkeeping (its commands, sequence numbers, what has been resolved, the
  user's state) lives in the process dictionary, which the `Hourglass.Workflow` calls read. A
  call that waits answers the current activation with the commands issued so far and applies
  the next activation's jobs until what it waits for is there, so exactly one piece of code
  runs at a time, in an order the history fixes.

  Every activation gets exactly one answer, sent from here with
  `Hourglass.Native.worker_complete_activation/4` naming the token the activation came with.
  The worker is not told: when this process dies, or blocks past the deadlock timeout, the
  worker answers for it with the same token, and the NIF passes on only the first answer.

  A signal or update handler runs in a process of its own, linked to the run's, so that it can
  wait while the main routine and other handlers go on; still only one piece of code runs at a
  time.
  The run's context (the process dictionary entry above, and the `:rand` state) is handed to the
  handler's process for its turn and handed back when it waits or ends. Whoever holds the run
  decides whose turn is next, in a fixed order: a handler starts at once when its update is
  accepted; when the main routine waits, the waiting handlers whose wait is over take their
  turns, in the order they started, and the main routine looks again after each; the activation
  is answered when nobody can go on.
  """

  require Logger

  alias Hourglass.{ActivityError, ApplicationError, ChildWorkflowError, Native, PayloadCodec}
  alias Hourglass.Workflow.Handle

  @key :"$hourglass_workflow_run"
  @evicted {:shutdown, :evicted}
  # In an update handler's process: the run's process, which holds the run between its turns.
  @handler_of :"$hourglass_update_handler_of"
  # The run's context passed to an update handler's process for its turn, and back.
  @turn :"$hourglass_turn"
  @turn_over :"$hourglass_turn_over"

  # SDK flags (Core's internal flags of the language side), one per change in the commands a
  # run issues: a run uses the new behaviour where the history recorded the flag, or where it
  # is not replaying (and the completion records the flag); a history made before the change
  # replays the old way. Never reuse a number.
  #
  # 1: a workflow's cancellation reaches the wait pending when it is delivered, once (before:
  #    every later wait_condition returned {:error, :cancelled}, and a cancellation delivered
  #    while nothing was pending cancelled the next operation the code started).
  # 2: cancel commands leave in the order the code issued what they cancel (before: the
  #    iteration order of a map).
  # 3: update handlers whose wait is over take their turns before the workflow's result is
  #    sent (before: they got none, and their updates no answer).
  @flag_cancel_once 1
  @flag_cancel_in_issue_order 2
  @flag_updates_before_end 3
  @known_flags [@flag_cancel_once, @flag_cancel_in_issue_order, @flag_updates_before_end]

  @typedoc """
  What the worker starts a run with: its Core worker and worker process, the workflow module,
  the task queue and namespace, and the payload codec. The worker then sends the run its first
  activation, as every later one.
  """
  @type args :: %{
          core: reference(),
          worker: pid(),
          module: module(),
          task_queue: String.t(),
          namespace: String.t(),
          codec: {module(), term()} | nil,
          failure_exception_types: [module()],
          codec_clock: :atomics.atomics_ref() | nil
        }

  @doc "Starts the run's process, linked to the caller (its supervisor)."
  @spec start_link(args()) :: {:ok, pid()}
  def start_link(args), do: Task.start_link(__MODULE__, :init, [args])

  @doc false
  def init(args) do
    Process.put(@key, %{
      core: args.core,
      worker: args.worker,
      # A run lives only as long as its worker: what it holds (the Core worker) goes with it.
      worker_monitor: Process.monitor(args.worker),
      # this process: every handler's process is linked to it, and ends with it
      run_pid: self(),
      module: args.module,
      codec: args.codec,
      # exceptions that fail the workflow rather than its task (the worker's and the module's)
      failure_exception_types: args.failure_exception_types,
      # microseconds spent in the payload codec on the activation being handled (an :atomics
      # the worker reads), nil without a codec
      codec_clock: args.codec_clock,
      run_id: nil,
      # the token of the activation being handled, named when it is answered
      activation_token: nil,
      info: %{task_queue: args.task_queue, namespace: args.namespace},
      now: nil,
      arguments: [],
      state: %{},
      commands: [],
      # one sequence per kind of command, as Core counts them
      seq: %{activity: 0, timer: 0, child: 0, signal_external: 0, cancel_external: 0},
      # outcomes not taken by the code yet, by handle key; and the operations started and not
      # resolved, each with the number of its start among the run's operations
      resolved: %{},
      pending: %{},
      started: 0,
      activity_types: %{},
      # child seq => {workflow type, workflow id}, for its errors
      children: %{},
      # local activities by their handle's seq: their options, the command seq running them
      # now or the timer of their backoff; and command seq / backoff timer => handle seq
      locals: %{},
      local_seqs: %{},
      backoff_timers: %{},
      cancelled: false,
      cancellation_undelivered: false,
      # the main routine's wait pending when the cancellation was delivered, until it returns
      cancel_wait: false,
      # pending operations whose cancellation was asked for (Core resolves them)
      cancel_requested: MapSet.new(),
      evicted: false,
      replaying: false,
      # the SDK flags this run goes by (see @known_flags): those the history recorded, and
      # those it used while not replaying
      flags: MapSet.new(),
      # patches the history has markers for (NotifyHasPatch), and the answers given so far
      notified_patches: MapSet.new(),
      patches: %{},
      # handlers the code set while running (they take precedence over the module's
      # callbacks), and the arguments of signals no handler took yet, newest first, per name
      signal_handlers: %{},
      query_handlers: %{},
      buffered_signals: %{},
      # the handler running now (:signal, :query, :validator, :update), nil for the main routine
      handler: nil,
      # update handlers that wait, in the order they started: {pid, check}; and the handlers
      # that have started and not ended (those waiting, and one taking its turn): pid => name
      waiting_handlers: [],
      unfinished_handlers: %{},
      # what a signal handler's failure ends the workflow with, once the main routine is told
      handler_failure: nil
    })

    next_activation()
    outcome = run_main()
    finish(outcome)
    serve_finished()
  end

  ## Calls from workflow code

  @doc false
  def start_activity(activity_type, arguments, opts) do
    ctx = changing_context!()
    seq = ctx.seq.activity + 1

    options =
      ctx
      |> activity_options(seq, activity_type, arguments, opts)
      |> Map.put(:task_queue, Keyword.get(opts, :task_queue, ctx.info.task_queue))
      |> put_present(opts, [:heartbeat_timeout])

    schedule_activity(ctx, seq, activity_type, {:schedule_activity, seq, options})
  end

  @doc false
  def start_local_activity(activity_type, arguments, opts) do
    ctx = changing_context!()
    seq = ctx.seq.activity + 1

    options =
      ctx
      |> activity_options(seq, activity_type, arguments, opts)
      |> Map.put(:attempt, 1)
      |> put_present(opts, [:local_retry_threshold])

    ctx = %{
      ctx
      | locals: Map.put(ctx.locals, seq, %{options: options, current: seq, timer: nil}),
        local_seqs: Map.put(ctx.local_seqs, seq, seq)
    }

    schedule_activity(ctx, seq, activity_type, {:schedule_local_activity, seq, options})
  end

  # What an activity and a local one are scheduled with alike.
  defp activity_options(ctx, seq, activity_type, arguments, opts) do
    # The server refuses such a command, and would refuse every retry of the task.
    unless opts[:start_to_close_timeout] || opts[:schedule_to_close_timeout] do
      raise ArgumentError,
            "activity #{inspect(activity_type)} needs a :start_to_close_timeout or a " <>
              ":schedule_to_close_timeout"
    end

    %{
      activity_id: Keyword.get(opts, :activity_id, Integer.to_string(seq)),
      activity_type: activity_type,
      arguments: encode_values!(ctx.codec, arguments, "the activity's arguments"),
      cancellation_type: Keyword.get(opts, :cancellation_type, :try_cancel)
    }
    |> put_present(opts, [
      :start_to_close_timeout,
      :schedule_to_close_timeout,
      :schedule_to_start_timeout
    ])
    |> put_retry_policy(Keyword.get(opts, :retry_policy))
  end

  defp schedule_activity(ctx, seq, activity_type, command) do
    handle = %Handle{kind: :activity, seq: seq}

    ctx = start_pending(ctx, [key(handle)])

    put(%{
      ctx
      | seq: %{ctx.seq | activity: seq},
        commands: [command | ctx.commands],
        activity_types: Map.put(ctx.activity_types, seq, activity_type)
    })

    handle
  end

  @doc false
  def start_timer(milliseconds) do
    ctx = changing_context!()
    seq = ctx.seq.timer + 1
    handle = %Handle{kind: :timer, seq: seq}

    ctx = start_pending(ctx, [key(handle)])

    put(%{
      ctx
      | seq: %{ctx.seq | timer: seq},
        commands: [{:start_timer, seq, milliseconds} | ctx.commands]
    })

    handle
  end

  @doc false
  def start_child_workflow(workflow_type, arguments, opts) do
    ctx = changing_context!()
    seq = ctx.seq.child + 1
    # The run id's random end keeps the next run of a continue-as-new from reusing the ids.
    default_id = "#{ctx.info.workflow_id}-child-#{seq}-#{String.slice(ctx.run_id, -12, 12)}"
    workflow_id = Keyword.get(opts, :id, default_id)

    options =
      %{
        workflow_id: workflow_id,
        workflow_type: workflow_type,
        task_queue: Keyword.get(opts, :task_queue, ctx.info.task_queue),
        namespace: ctx.info.namespace,
        arguments: encode_values!(ctx.codec, arguments, "the child workflow's arguments")
      }
      |> put_present(opts, [
        :execution_timeout,
        :run_timeout,
        :task_timeout,
        :cron_schedule,
        :id_reuse_policy,
        :parent_close_policy,
        :cancellation_type
      ])
      |> put_retry_policy(Keyword.get(opts, :retry_policy))
      |> put_memo_and_search_attributes(ctx, opts)

    ctx = start_pending(ctx, [{:child_start, seq}, {:child, seq}])

    put(%{
      ctx
      | seq: %{ctx.seq | child: seq},
        commands: [{:start_child_workflow, seq, options} | ctx.commands],
        children: Map.put(ctx.children, seq, {workflow_type, workflow_id})
    })

    # The handle once the server started the child (its run id), or why it did not.
    block(fn ctx ->
      case take_outcome(ctx, {:child_start, seq}) do
        {:ok, {:ok, run_id}} ->
          {:done,
           {:ok, %Handle{kind: :child, seq: seq, workflow_id: workflow_id, run_id: run_id}}}

        # Not started: no handle is handed out, and the result that will not come is forgotten.
        {:ok, {:error, _} = error} ->
          forget_outcomes([{:child, seq}])
          {:done, error}

        :error ->
          :wait
      end
    end)
  end

  @doc false
  def signal_external_workflow(target, name, arguments, opts) do
    ctx = changing_context!()
    seq = ctx.seq.signal_external + 1

    target =
      case target do
        %Handle{kind: :child, workflow_id: workflow_id} ->
          {:child, workflow_id}

        workflow_id when is_binary(workflow_id) ->
          {:workflow, ctx.info.namespace, workflow_id, Keyword.get(opts, :run_id, "")}
      end

    arguments = encode_values!(ctx.codec, arguments, "the arguments of signal #{inspect(name)}")
    command = {:signal_external, seq, target, name, arguments}

    external_call(
      %{ctx | seq: %{ctx.seq | signal_external: seq}},
      command,
      {:signal_external, seq}
    )
  end

  @doc false
  def cancel_external_workflow(target, opts) do
    ctx = changing_context!()
    seq = ctx.seq.cancel_external + 1

    {workflow_id, run_id} =
      case target do
        %Handle{kind: :child, workflow_id: workflow_id, run_id: run_id} -> {workflow_id, run_id}
        workflow_id when is_binary(workflow_id) -> {workflow_id, Keyword.get(opts, :run_id, "")}
      end

    command = {:cancel_external, seq, ctx.info.namespace, workflow_id, run_id}

    external_call(
      %{ctx | seq: %{ctx.seq | cancel_external: seq}},
      command,
      {:cancel_external, seq}
    )
  end

  # Issues a command to another workflow and waits until Core resolves it: :ok, or
  # {:error, failure}.
  defp external_call(ctx, command, key) do
    put(start_pending(%{ctx | commands: [command | ctx.commands]}, [key]))

    block(fn ctx ->
      case take_outcome(ctx, key) do
        {:ok, outcome} -> {:done, outcome}
        :error -> :wait
      end
    end)
  end

  @doc false
  def await_handles(handles, mode) do
    ctx = context!()
    Enum.each(handles, &awaitable!(ctx, &1))

    fn ctx ->
      # Another piece of code waiting on the same handle (an update handler, the main
      # routine) took its outcome first.
      case Enum.find(handles, &taken?(ctx, &1)) do
        nil -> handles_check(ctx, handles, mode)
        handle -> {:done, {:taken, handle}}
      end
    end
    |> block()
    |> case do
      {:taken, handle} -> raise ArgumentError, taken_message(handle)
      value -> value
    end
  end

  defp handles_check(ctx, handles, mode) do
    outcomes = Enum.map(handles, &Map.fetch(ctx.resolved, key(&1)))

    case mode do
      :all ->
        if Enum.all?(outcomes, &match?({:ok, _}, &1)) do
          forget_outcomes(Enum.map(handles, &key/1))
          {:done, Enum.map(outcomes, fn {:ok, outcome} -> outcome end)}
        else
          :wait
        end

      :any ->
        case Enum.find(Enum.zip(handles, outcomes), &match?({_, {:ok, _}}, &1)) do
          {handle, {:ok, outcome}} ->
            forget_outcomes([key(handle)])
            {:done, {handle, outcome}}

          nil ->
            :wait
        end
    end
  end

  # An outcome is handed to the code once and then forgotten: a cached run keeps no result the
  # code took (it keeps what it wants in its variables or state). A handle of this run that is
  # neither pending nor resolved was awaited before.
  defp awaitable!(ctx, %Handle{} = handle) do
    if taken?(ctx, handle), do: raise(ArgumentError, taken_message(handle))
  end

  defp taken?(ctx, handle) do
    key = key(handle)
    not (Map.has_key?(ctx.pending, key) or Map.has_key?(ctx.resolved, key))
  end

  defp taken_message(handle),
    do:
      "#{inspect(handle)} was awaited before (or is not this run's): an outcome is handed " <>
        "out once"

  @doc false
  # Raises unless awaiting `handle` can return its outcome (see awaitable!/2).
  def awaitable!(%Handle{} = handle), do: awaitable!(context!(), handle)

  defp take_outcome(ctx, key) do
    case Map.fetch(ctx.resolved, key) do
      {:ok, outcome} ->
        forget_outcomes([key])
        {:ok, outcome}

      :error ->
        :error
    end
  end

  defp forget_outcomes(keys) do
    ctx = context!()
    put(%{ctx | resolved: Map.drop(ctx.resolved, keys)})
  end

  # Marks what the code just started as pending, numbered in the order it started.
  defp start_pending(ctx, keys) do
    {pending, started} =
      Enum.reduce(keys, {ctx.pending, ctx.started}, fn key, {pending, started} ->
        {Map.put(pending, key, started + 1), started + 1}
      end)

    %{ctx | pending: pending, started: started}
  end

  @doc false
  def wait_condition(condition, timeout) do
    timer = timeout && start_timer(timeout)
    # Only the main routine's wait takes the workflow's cancellation (update handlers go on).
    main_routine? = context!().handler == nil and Process.get(@handler_of) == nil

    block(fn ctx ->
      cond do
        # First: a cancellation that came with what makes the condition true still reaches
        # the wait, as the official SDKs raise it into the awaiting code.
        main_routine? and ctx.cancel_wait ->
          put(%{context!() | cancel_wait: false})
          if timer, do: drop_timer(timer)
          {:done, {:error, :cancelled}}

        condition.(ctx.state) ->
          if timer, do: drop_timer(timer)
          {:done, :ok}

        ctx.cancelled and not flag?(@flag_cancel_once) ->
          {:done, {:error, :cancelled}}

        timer && Map.has_key?(ctx.resolved, key(timer)) ->
          forget_outcomes([key(timer)])

          # Its timer fired, or the workflow's cancellation cancelled it (an update handler's
          # wait: the main routine's takes the cancellation above).
          case ctx.resolved[key(timer)] do
            {:ok, _fired} -> {:done, {:error, :timeout}}
            {:error, :cancelled} -> {:done, {:error, :cancelled}}
          end

        true ->
          :wait
      end
    end)
  end

  @doc false
  def patched?(patch_id) do
    ctx = changing_context!()

    case Map.fetch(ctx.patches, patch_id) do
      {:ok, answer} ->
        answer

      :error ->
        # A new run takes the new path; a replay takes it only where the history did.
        answer = not ctx.replaying or MapSet.member?(ctx.notified_patches, patch_id)

        commands =
          if answer, do: [{:set_patch_marker, patch_id, false} | ctx.commands], else: ctx.commands

        put(%{ctx | patches: Map.put(ctx.patches, patch_id, answer), commands: commands})
        answer
    end
  end

  @doc false
  def deprecate_patch(patch_id) do
    ctx = changing_context!()

    unless Map.has_key?(ctx.patches, patch_id) do
      put(%{
        ctx
        | patches: Map.put(ctx.patches, patch_id, true),
          commands: [{:set_patch_marker, patch_id, true} | ctx.commands]
      })
    end

    :ok
  end

  @doc false
  def upsert_search_attributes(attributes) do
    ctx = changing_context!()
    normalized = search_attributes!(attributes)

    put(%{
      ctx
      | commands: [{:upsert_search_attributes, normalized} | ctx.commands],
        info: Map.update(ctx.info, :search_attributes, normalized, &Map.merge(&1, normalized))
    })

    :ok
  end

  @doc false
  def upsert_memo(memo) do
    ctx = changing_context!()
    memo = memo_names!(memo)

    put(%{
      ctx
      | commands: [{:upsert_memo, encode_memo!(ctx.codec, memo)} | ctx.commands],
        info: Map.update(ctx.info, :memo, memo, &Map.merge(&1, memo))
    })

    :ok
  end

  @doc false
  # A memo with its names as strings (atoms allowed), or an ArgumentError.
  def memo_names!(memo) when is_map(memo) do
    Map.new(memo, fn {name, value} ->
      case Hourglass.SearchAttributes.name(name) do
        {:ok, name} ->
          {name, value}

        :error ->
          raise ArgumentError,
                "memo names must be non-empty strings or atoms, got: #{inspect(name)}"
      end
    end)
  end

  def memo_names!(memo), do: raise(ArgumentError, "a memo is a map, got: #{inspect(memo)}")

  @doc false
  # Search attributes as the server takes them, or an ArgumentError.
  def search_attributes!(attributes) do
    case Hourglass.SearchAttributes.normalize(attributes) do
      {:ok, normalized} ->
        normalized

      {:error, message} ->
        raise ArgumentError, "search attributes #{message}, got: #{inspect(attributes)}"
    end
  end

  defp encode_memo!(codec, memo) do
    encoded = encode_values!(codec, Map.values(memo), "the memo")
    Map.new(Enum.zip(Map.keys(memo), encoded))
  end

  # A new workflow's memo and search attributes (a child's, the next run's), as its command
  # takes them.
  defp put_memo_and_search_attributes(options, ctx, opts) do
    options =
      case Keyword.get(opts, :memo) do
        nil -> options
        memo -> Map.put(options, :memo, encode_memo!(ctx.codec, memo_names!(memo)))
      end

    case Keyword.get(opts, :search_attributes) do
      nil -> options
      attributes -> Map.put(options, :search_attributes, search_attributes!(attributes))
    end
  end

  @doc false
  def set_signal_handler(name, handler) do
    ctx = changing_context!()
    {buffered, rest} = Map.pop(ctx.buffered_signals, name, [])

    put(%{
      ctx
      | signal_handlers: Map.put(ctx.signal_handlers, name, handler),
        buffered_signals: rest
    })

    # Signals that came before the handler, in the order they came.
    for arguments <- Enum.reverse(buffered) do
      start_handler(
        :signal,
        name,
        signal_body(name, arguments, &{:ok, handler.(arguments, &1.state)})
      )
    end

    :ok
  end

  @doc false
  def set_query_handler(name, handler) do
    ctx = changing_context!()
    put(%{ctx | query_handlers: Map.put(ctx.query_handlers, name, handler)})
    :ok
  end

  @doc false
  def state, do: context!().state

  @doc false
  def update_state(fun) do
    state = fun.(changing_context!().state)
    put(%{context!() | state: state})
    state
  end

  @doc false
  def info, do: context!().info

  @doc false
  def now, do: context!().now

  @doc false
  def cancelled?, do: context!().cancelled

  ## The run's course

  defp context! do
    Process.get(@key) ||
      raise RuntimeError, "Hourglass.Workflow calls work only inside a workflow's code"
  end

  defp put(ctx), do: Process.put(@key, ctx)

  # The context for a call that changes the run (a command, the state): never from a query or
  # an update's validator, which only look.
  defp changing_context! do
    ctx = context!()

    if ctx.handler in [:query, :validator] do
      raise RuntimeError,
            "a #{handler_name(ctx.handler)} must not change the workflow (no commands, no new state)"
    end

    ctx
  end

  defp handler_name(:query), do: "query handler"
  defp handler_name(:validator), do: "update validator"

  # Runs a handler's code, marked as such for the calls it may make. A query or a validator
  # only looks: the random generator is as it found it (they run on some workers and replays
  # and not on others, so a value they drew would change the run's later ones).
  defp with_handler(kind, fun) do
    ctx = context!()
    put(%{ctx | handler: kind})
    rand = if kind in [:query, :validator], do: :rand.export_seed()

    try do
      fun.()
    after
      if rand, do: :rand.seed(rand)
      put(%{context!() | handler: ctx.handler})
    end
  end

  defp key(%Handle{kind: kind, seq: seq}), do: {kind, seq}

  defp put_present(map, opts, keys) do
    Enum.reduce(keys, map, fn key, map ->
      case Keyword.get(opts, key) do
        nil -> map
        value -> Map.put(map, key, value)
      end
    end)
  end

  defp put_retry_policy(options, nil), do: options

  defp put_retry_policy(options, policy) when is_list(policy),
    do: Map.put(options, :retry_policy, Map.new(policy))

  defp put_retry_policy(_options, policy),
    do: raise(ArgumentError, ":retry_policy must be a keyword list, got: #{inspect(policy)}")

  @doc false
  def cancel(%Handle{} = handle) do
    ctx = changing_context!()
    key = key(handle)

    if Map.has_key?(ctx.pending, key) and not MapSet.member?(ctx.cancel_requested, key) do
      put(cancel_pending(ctx, [key]))
    end

    :ok
  end

  # Cancels a timer the code no longer waits for and forgets it (wait_condition's, await's).
  @doc false
  def drop_timer(%Handle{kind: :timer} = timer) do
    ctx = context!()
    key = key(timer)

    if Map.has_key?(ctx.pending, key) do
      put(%{
        ctx
        | commands: [{:cancel_timer, timer.seq} | ctx.commands],
          pending: Map.delete(ctx.pending, key)
      })
    else
      forget_outcomes([key])
    end
  end

  # Issues what cancels the pending operations `keys`, in that order. A timer (and a local
  # activity waiting out its backoff, whose timer it is) is resolved cancelled at once: Core
  # sends nothing more for it. Activities and children are resolved by Core, as their
  # cancellation type says; a signal or a cancellation request to another workflow is sent
  # either way.
  defp cancel_pending(ctx, keys) do
    Enum.reduce(keys, ctx, fn key, ctx ->
      {commands, outcome} = cancel_commands(ctx, key)

      ctx = %{
        ctx
        | commands: Enum.reverse(commands, ctx.commands),
          cancel_requested: MapSet.put(ctx.cancel_requested, key)
      }

      case outcome do
        nil ->
          ctx

        outcome ->
          %{
            forget_local_activity(ctx, key)
            | resolved: Map.put(ctx.resolved, key, outcome),
              pending: Map.delete(ctx.pending, key),
              cancel_requested: MapSet.delete(ctx.cancel_requested, key)
          }
      end
    end)
  end

  # A local activity cancelled while it waited out its backoff: nothing more comes for it.
  defp forget_local_activity(ctx, {:activity, seq}) do
    case Map.pop(ctx.locals, seq) do
      {nil, _locals} ->
        ctx

      {local, locals} ->
        %{
          ctx
          | locals: locals,
            backoff_timers: Map.delete(ctx.backoff_timers, local.timer),
            activity_types: Map.delete(ctx.activity_types, seq)
        }
    end
  end

  defp forget_local_activity(ctx, _key), do: ctx

  defp cancel_commands(_ctx, {:timer, seq}), do: {[{:cancel_timer, seq}], {:error, :cancelled}}

  defp cancel_commands(ctx, {:activity, seq}) do
    case Map.get(ctx.locals, seq) do
      nil ->
        {[{:request_cancel_activity, seq}], nil}

      %{current: nil, timer: timer} ->
        cancelled = %ActivityError{
          activity_type: ctx.activity_types[seq],
          cause: {:cancelled, nil}
        }

        {[{:cancel_timer, timer}], {:error, cancelled}}

      %{current: current} ->
        {[{:request_cancel_local_activity, current}], nil}
    end
  end

  # Core resolves a child as its cancellation type says (also one not started yet).
  defp cancel_commands(_ctx, {kind, seq}) when kind in [:child, :child_start],
    do: {[{:cancel_child_workflow, seq}], nil}

  defp cancel_commands(_ctx, {_external, _seq}), do: {[], nil}

  # Runs `check` against the run's context until it says {:done, value}. The main routine lets
  # waiting update handlers take their turns, and while nobody can go on answers the activation
  # and applies the next one; an update handler hands the run back to the main routine.
  defp block(check) do
    ctx = context!()

    cond do
      ctx.handler in [:query, :validator] ->
        raise RuntimeError,
              "a #{handler_name(ctx.handler)} cannot wait (on activities, timers or " <>
                "conditions): it only looks at the run"

      Process.get(@handler_of) ->
        handler_block(check)

      true ->
        main_block(check)
    end
  end

  defp main_block(check) do
    end_if_a_handler_failed()
    deliver_cancellation()

    case check.(context!()) do
      {:done, value} ->
        ctx = context!()

        # The wait the cancellation reached ended without it (what it waited for was there
        # first): it is delivered at the next wait instead, as the official SDKs deliver it
        # at the next await.
        put(%{
          ctx
          | cancel_wait: false,
            cancellation_undelivered:
              ctx.cancellation_undelivered or (ctx.cancel_wait and not cancellation_seen?(value))
        })

        value

      :wait ->
        if not handler_turn() do
          answer({:ok, take_commands()})
          next_activation()
        end

        main_block(check)
    end
  end

  # A signal handler that raised an ApplicationError ends the workflow with it, as the main
  # routine would, without the main routine going on.
  defp end_if_a_handler_failed do
    case context!().handler_failure do
      nil ->
        :ok

      error ->
        finish({:returned, {:error, error}})
        serve_finished()
    end
  end

  defp handler_block(check) do
    deliver_cancellation()

    case check.(context!()) do
      {:done, value} ->
        value

      :wait ->
        own = context!().handler
        send(Process.get(@handler_of), {@turn_over, self(), hand_over(), {:waiting, check}})

        receive do
          {@turn, holder, baton, {:done, value}} ->
            Process.put(@handler_of, holder)
            take_over(baton, own)
            value
        end
    end
  end

  # Gives the turn to the first waiting update handler whose wait is over (its check is run
  # here, by the holder of the run); false when there is none.
  defp handler_turn do
    context!().waiting_handlers
    |> Enum.with_index()
    |> Enum.find_value(false, fn {{pid, check}, index} ->
      case check.(context!()) do
        :wait ->
          nil

        {:done, value} ->
          ctx = context!()
          put(%{ctx | waiting_handlers: List.delete_at(ctx.waiting_handlers, index)})
          take_turn(pid, {:done, value}, index)
          true
      end
    end)
  end

  # Runs a handler (`kind` :update or :signal, of `name`) in a process of its own, now, until
  # it waits or ends. Whoever holds the run hands it over for each turn and takes it back
  # (the run's process, or a handler's that starts one: a handler set with
  # set_signal_handler/2 takes the signals that came before it at once).
  defp start_handler(kind, name, body) do
    log_tags = Logger.metadata()
    run_pid = context!().run_pid

    pid =
      spawn(fn ->
        # Linked to the run's process, not to whoever started it (a handler that ends first).
        Process.link(run_pid)
        Logger.metadata(log_tags)

        receive do
          {@turn, holder, baton, :start} ->
            Process.put(@handler_of, holder)
            take_over(baton, kind)
            outcome = run_handler_body(body)
            send(Process.get(@handler_of), {@turn_over, self(), hand_over(), outcome})
        end
      end)

    ctx = context!()
    put(%{ctx | unfinished_handlers: Map.put(ctx.unfinished_handlers, pid, {kind, name})})
    take_turn(pid, :start, length(ctx.waiting_handlers))
  end

  defp run_handler_body(body) do
    body.()
    :finished
  rescue
    error -> {:failed, Exception.format(:error, error, __STACKTRACE__)}
  catch
    kind, reason -> {:failed, Exception.format(kind, reason, __STACKTRACE__)}
  end

  # Hands the run to the handler's process for its turn and takes it back when the handler
  # waits (it keeps its place, `index`, among the waiting) or ends.
  defp take_turn(pid, value, index) do
    own = context!().handler
    send(pid, {@turn, self(), hand_over(), value})

    receive do
      {@turn_over, ^pid, baton, outcome} ->
        take_over(baton, own)

        case outcome do
          {:waiting, check} ->
            ctx = context!()

            put(%{
              ctx
              | waiting_handlers: List.insert_at(ctx.waiting_handlers, index, {pid, check})
            })

          :finished ->
            ctx = context!()
            put(%{ctx | unfinished_handlers: Map.delete(ctx.unfinished_handlers, pid)})

          {:failed, message} ->
            fail_task(message)
        end
    end
  end

  # The run as it is handed between processes: its context and its random generator's state.
  defp hand_over, do: {context!(), :rand.export_seed()}

  defp take_over({ctx, rand}, handler) do
    :rand.seed(rand)
    put(%{ctx | handler: handler})
    quiet_while_replaying(ctx)
  end

  # Workflow code's Logger calls say which run they come from, and are not repeated by the
  # replays of its history (the process logs nothing while it replays).
  defp quiet_while_replaying(ctx) do
    if ctx.replaying,
      do: Logger.put_process_level(self(), :none),
      else: Logger.delete_process_level(self())
  end

  defp tag_log_lines(info) do
    Logger.metadata(
      workflow_type: info.workflow_type,
      workflow_id: info.workflow_id,
      run_id: info.run_id,
      task_queue: info.task_queue
    )
  end

  # What Hourglass itself has to say is said while replaying too.
  defp log_anyway(level, message) do
    Logger.delete_process_level(self())
    Logger.log(level, message)
    quiet_while_replaying(context!())
  end

  @doc false
  def all_handlers_finished?, do: map_size(context!().unfinished_handlers) == 0

  # The workflow's cancellation reaches what the main routine waits on: every pending
  # operation is cancelled (in the order the code started them), and the wait pending now
  # returns {:error, :cancelled} if it is a condition (see wait_condition/2); later waits work
  # as before, so cleanup code can run. Histories without @flag_cancel_once replay the old
  # way: nothing delivered while nothing is pending, and no cancel_wait.
  defp deliver_cancellation do
    ctx = context!()

    if ctx.cancellation_undelivered do
      once? = flag?(@flag_cancel_once)
      ctx = context!()

      if once? or map_size(ctx.pending) > 0 do
        keys =
          ctx.pending
          |> Enum.reject(fn {key, _started} -> MapSet.member?(ctx.cancel_requested, key) end)
          |> in_cancel_order()
          |> Enum.map(fn {key, _started} -> key end)

        # A child pending both its start and its result is cancelled once, where it comes first.
        once = Enum.uniq_by(keys, &child_or_key/1)
        # Read again: in_cancel_order/1 may have noted a flag the run now goes by.
        ctx = cancel_pending(context!(), once)

        put(%{
          ctx
          | cancellation_undelivered: false,
            cancel_wait: once?,
            cancel_requested: Enum.into(keys -- once, ctx.cancel_requested)
        })
      end
    end
  end

  defp child_or_key({:child_start, seq}), do: {:child, seq}
  defp child_or_key(key), do: key

  defp in_cancel_order(pending) do
    if flag?(@flag_cancel_in_issue_order),
      do: Enum.sort_by(pending, fn {_key, started} -> started end),
      else: pending
  end

  # Whether the run goes by SDK flag `flag` (see @known_flags): yes where the history recorded
  # it, or where the run is not replaying (then the completion records it).
  defp flag?(flag) do
    ctx = context!()

    cond do
      MapSet.member?(ctx.flags, flag) ->
        true

      ctx.replaying ->
        false

      true ->
        put(%{ctx | flags: MapSet.put(ctx.flags, flag)})
        true
    end
  end

  defp take_commands do
    ctx = context!()
    put(%{ctx | commands: []})
    Enum.reverse(ctx.commands)
  end

  defp answer(completion) do
    ctx = context!()

    case complete(ctx, completion) do
      :ok ->
        :ok

      {:error, message} ->
        # The commands cannot be sent (a value that cannot be encoded, or is too large): fail
        # the task, which says why in the server's history.
        fail_task("the workflow's commands cannot be sent: #{message}")
    end
  end

  defp next_activation do
    monitor = context!().worker_monitor

    receive do
      {:"$hourglass_workflow_activation", activation, token} ->
        put(%{context!() | activation_token: token})
        begin(activation)

      {:DOWN, ^monitor, :process, _pid, _reason} ->
        stop({:shutdown, :worker_down})
    end
  end

  # Ends the run's process (and the update handlers' linked to it) with an exit signal to
  # itself, which takes effect at once and which no `catch` in workflow code can stop, unlike
  # `exit/1`: an evicted run never goes on. The reasons are {:shutdown, _}, which supervisors do
  # not report as crashes.
  defp stop(reason) do
    Process.exit(self(), reason)
    # Only reached when workflow code made this process trap exits.
    exit(reason)
  end

  defp begin(activation) do
    ctx = context!()

    info =
      Map.merge(ctx.info, %{
        run_id: activation.run_id,
        history_length: activation.history_length,
        continue_as_new_suggested: activation.continue_as_new_suggested
      })

    # The NIF makes the timestamp a DateTime (nil when Core sends none).
    now = activation.timestamp || ctx.now
    flags = Enum.into(activation.available_internal_flags, ctx.flags)

    ctx = %{
      ctx
      | run_id: activation.run_id,
        info: info,
        now: now,
        replaying: activation.is_replaying,
        flags: flags
    }

    put(ctx)
    quiet_while_replaying(ctx)
    if ctx.codec_clock, do: :atomics.put(ctx.codec_clock, 1, 0)

    # A history recorded by a later Hourglass may rely on behaviour this one does not have.
    case Enum.reject(flags, &(&1 in @known_flags)) do
      [] ->
        :ok

      unknown ->
        fail_task(
          "the history was made by a later Hourglass (SDK flags #{inspect(Enum.sort(unknown))} " <>
            "are unknown to this one): deploy that version"
        )
    end

    try do
      Enum.each(activation.jobs, &apply_job/1)
    rescue
      error -> fail_task(Exception.format(:error, error, __STACKTRACE__))
    end

    if context!().evicted do
      answer({:ok, []})
      stop(@evicted)
    end
  end

  defp apply_job({:initialize, init}) do
    ctx = context!()
    :rand.seed(:exsss, init.randomness_seed)
    arguments = decode_values!(ctx.codec, init.arguments, "the workflow's input")

    memo_values = decode_values!(ctx.codec, Map.values(init.memo), "the memo")
    memo = Map.new(Enum.zip(Map.keys(init.memo), memo_values))

    info =
      Map.merge(ctx.info, %{
        workflow_id: init.workflow_id,
        workflow_type: init.workflow_type,
        parent: init.parent,
        memo: memo,
        search_attributes: init.search_attributes,
        cron_schedule: init.cron_schedule,
        execution_timeout: init.execution_timeout,
        run_timeout: init.run_timeout,
        task_timeout: init.task_timeout,
        attempt: init.attempt,
        first_execution_run_id: init.first_execution_run_id,
        continued_from_execution_run_id: init.continued_from_execution_run_id,
        start_time: init.start_time
      })

    tag_log_lines(info)
    state = if function_exported?(ctx.module, :init, 1), do: ctx.module.init(arguments), else: %{}

    # Read again: init/1 is workflow code, and may have made calls that changed the context.
    put(%{context!() | info: info, arguments: arguments, state: state})
  end

  defp apply_job({:fire_timer, seq}) do
    ctx = context!()

    case Map.pop(ctx.backoff_timers, seq) do
      {nil, _} -> resolve({:timer, seq}, {:ok, nil})
      {handle_seq, timers} -> schedule_local_again(%{ctx | backoff_timers: timers}, handle_seq)
    end
  end

  # Past Core's local retry threshold, a local activity's next attempt waits on a timer of the
  # run's own, then is scheduled again (with a new sequence number, the same handle).
  defp apply_job({:resolve_activity, seq, {:backoff, backoff}}) do
    ctx = context!()
    handle_seq = Map.fetch!(ctx.local_seqs, seq)
    timer = ctx.seq.timer + 1
    local = ctx.locals[handle_seq]

    options =
      local.options
      |> Map.put(:attempt, backoff.attempt)
      |> Map.put(:original_schedule_time, backoff.original_schedule_time)

    put(%{
      ctx
      | seq: %{ctx.seq | timer: timer},
        commands: [{:start_timer, timer, backoff.backoff || 0} | ctx.commands],
        locals:
          Map.put(ctx.locals, handle_seq, %{local | options: options, current: nil, timer: timer}),
        local_seqs: Map.delete(ctx.local_seqs, seq),
        backoff_timers: Map.put(ctx.backoff_timers, timer, handle_seq)
    })
  end

  defp apply_job({:resolve_activity, command_seq, outcome}) do
    ctx = context!()
    seq = Map.get(ctx.local_seqs, command_seq, command_seq)

    put(%{
      ctx
      | locals: Map.delete(ctx.locals, seq),
        local_seqs: Map.delete(ctx.local_seqs, command_seq),
        activity_types: Map.delete(ctx.activity_types, seq)
    })

    activity_type = Map.get(ctx.activity_types, seq)

    outcome =
      case outcome do
        {:completed, value} ->
          case timed_codec(&PayloadCodec.decode_value/2, ctx.codec, value) do
            {:ok, value} ->
              {:ok, value}

            {:error, message} ->
              raise ArgumentError, "cannot decode an activity's result: #{message}"
          end

        {_failed_or_cancelled, cause, server_fields} ->
          {:error,
           struct!(
             %ActivityError{
               activity_type: activity_type,
               cause: timed_codec(&PayloadCodec.decode_failure/2, ctx.codec, cause)
             },
             server_fields
           )}
      end

    resolve({:activity, seq}, outcome)
  end

  defp apply_job({:resolve_child_start, seq, {:started, run_id}}),
    do: resolve({:child_start, seq}, {:ok, run_id})

  # Not started: the child's result will not come either.
  defp apply_job({:resolve_child_start, seq, not_started}) do
    cause =
      case not_started do
        {:failed, reason} -> {:start_failed, reason}
        {:cancelled, failure} -> failure
      end

    error = {:error, child_error(seq, cause)}
    resolve({:child_start, seq}, error)
    resolve({:child, seq}, error)
  end

  defp apply_job({:resolve_child, seq, {:completed, value}}) do
    ctx = context!()

    case timed_codec(&PayloadCodec.decode_value/2, ctx.codec, value) do
      {:ok, value} ->
        resolve({:child, seq}, {:ok, value})

      {:error, message} ->
        raise ArgumentError, "cannot decode a child workflow's result: #{message}"
    end
  end

  defp apply_job({:resolve_child, seq, {_failed_or_cancelled, cause, server_fields}}),
    do: resolve({:child, seq}, {:error, struct!(child_error(seq, cause), server_fields)})

  defp apply_job({:resolve_signal_external, seq, failure}),
    do: resolve({:signal_external, seq}, external_outcome(failure))

  defp apply_job({:resolve_cancel_external, seq, failure}),
    do: resolve({:cancel_external, seq}, external_outcome(failure))

  defp apply_job({:signal, name, arguments}) do
    ctx = context!()

    case decode_input(ctx, arguments, "signal #{inspect(name)}") do
      {:ok, arguments} ->
        take_signal(ctx, name, arguments)

      # Input a client sent: refused here, or every replay of the history would fail again.
      {:error, message} ->
        unless ctx.replaying do
          Logger.warning(
            "Hourglass.Workflow #{inspect(ctx.info[:workflow_type])} " <>
              "(workflow id #{inspect(ctx.info[:workflow_id])}, run id #{ctx.run_id}): " <>
              "signal #{inspect(name)} dropped: #{message}"
          )
        end
    end
  end

  # Accepted or rejected; an accepted update's handler starts now and answers when it ends.
  defp apply_job({:update, update}) do
    ctx = context!()

    respond = fn response ->
      ctx = context!()
      command = {:update_response, update.protocol_instance_id, response}
      put(%{ctx | commands: [command | ctx.commands]})
    end

    with {:ok, arguments} <- decode_update_input(ctx, update),
         :ok <- validate_update(ctx, update, arguments) do
      respond.(:accepted)

      start_handler(:update, update.name, fn ->
        respond.(run_update(ctx, update.name, arguments))
      end)
    else
      {:error, %ApplicationError{} = error} ->
        respond.({:rejected, encode_details(error, ctx.codec)})
    end
  end

  defp apply_job({:query, query_id, name, arguments}) do
    answer = query_answer(context!(), name, arguments)
    ctx = context!()
    put(%{ctx | commands: [{:respond_to_query, query_id, answer} | ctx.commands]})
  end

  # The cancellation reaches what the run waits on at its next wait (see
  # deliver_cancellation/0): now, if the run is waiting, or once it starts to, when it arrives
  # with the run's first activation.
  defp apply_job({:cancel, _reason}),
    do: put(%{context!() | cancelled: true, cancellation_undelivered: true})

  defp apply_job({:update_random_seed, seed}), do: :rand.seed(:exsss, seed)

  defp apply_job({:notify_has_patch, patch_id}) do
    ctx = context!()
    put(%{ctx | notified_patches: MapSet.put(ctx.notified_patches, patch_id)})
  end

  defp apply_job({:remove_from_cache, _reason, _message}), do: put(%{context!() | evicted: true})

  defp apply_job({:unsupported, what}),
    do: raise(ArgumentError, "Hourglass does not run workflows that use #{what} yet")

  defp schedule_local_again(ctx, handle_seq) do
    seq = ctx.seq.activity + 1
    local = ctx.locals[handle_seq]

    put(%{
      ctx
      | seq: %{ctx.seq | activity: seq},
        commands: [{:schedule_local_activity, seq, local.options} | ctx.commands],
        locals: Map.put(ctx.locals, handle_seq, %{local | current: seq, timer: nil}),
        local_seqs: Map.put(ctx.local_seqs, seq, handle_seq)
    })
  end

  defp child_error(seq, cause) do
    ctx = context!()
    {workflow_type, workflow_id} = Map.get(ctx.children, seq, {nil, nil})

    %ChildWorkflowError{
      workflow_type: workflow_type,
      workflow_id: workflow_id,
      cause: timed_codec(&PayloadCodec.decode_failure/2, ctx.codec, cause)
    }
  end

  defp external_outcome(nil), do: :ok

  defp external_outcome(failure),
    do: {:error, timed_codec(&PayloadCodec.decode_failure/2, context!().codec, failure)}

  defp resolve(key, outcome) do
    ctx = context!()

    put(%{
      ctx
      | resolved: Map.put(ctx.resolved, key, outcome),
        pending: Map.delete(ctx.pending, key),
        cancel_requested: MapSet.delete(ctx.cancel_requested, key)
    })
  end

  # A signal's handler runs in a process of its own (see start_handler/3), so that it may wait
  # as an update's may; a signal no handler takes is kept for one the code sets later.
  defp take_signal(ctx, name, arguments) do
    if handles?(ctx.module, :handle_signal, name) or Map.has_key?(ctx.signal_handlers, name) do
      start_handler(
        :signal,
        name,
        signal_body(name, arguments, &handle_signal(&1, name, arguments))
      )
    else
      buffer_signal(name, arguments)
    end
  end

  # What a signal handler's process runs: `call` given the run's context returns
  # {:ok, new_state} or :no_handler, or raises (an ApplicationError fails the workflow).
  defp signal_body(name, arguments, call) do
    fn ->
      outcome =
        try do
          call.(context!())
        rescue
          error in ApplicationError -> {:failed, error}
        end

      case outcome do
        {:ok, state} ->
          put(%{context!() | state: state})

        :no_handler ->
          buffer_signal(name, arguments)

        # As from the main routine: the workflow fails with it (see end_if_a_handler_failed/0).
        {:failed, %ApplicationError{} = error} ->
          ctx = context!()
          if ctx.handler_failure == nil, do: put(%{ctx | handler_failure: error})
      end
    end
  end

  # Kept for a handler the code sets later (set_signal_handler/2), as the official SDKs do.
  defp buffer_signal(name, arguments) do
    ctx = context!()
    buffered = Map.update(ctx.buffered_signals, name, [arguments], &[arguments | &1])
    put(%{ctx | buffered_signals: buffered})
  end

  # A client's input (a signal's, an update's, a query's): its values, or why they cannot be
  # had (the NIF could not decode the payloads, or the codec cannot).
  # A payload the converter cannot read (an unknown encoding, bad JSON) is the client's
  # mistake, the same on every replay: {:error, message}. A codec that fails (its key service
  # down, say) may not fail again: that raises, and fails the task, which is retried, as the
  # official SDKs do with a codec's failure (a query answers with the error instead).
  defp decode_input(_ctx, {:undecodable, message}, _what), do: {:error, message}
  defp decode_input(%{codec: nil}, values, _what), do: {:ok, values}

  defp decode_input(ctx, payloads, what) do
    case timed_codec(&PayloadCodec.decode_payloads/2, ctx.codec, payloads) do
      {:ok, decoded} ->
        case Hourglass.Payload.to_values(decoded) do
          {:ok, values} -> {:ok, values}
          {:error, message} -> {:error, "cannot decode the input of #{what}: #{message}"}
        end

      {:error, message} when ctx.handler == :query ->
        {:error, "the payload codec cannot decode the input of #{what}: #{message}"}

      {:error, message} ->
        raise RuntimeError, "the payload codec cannot decode the input of #{what}: #{message}"
    end
  end

  # The handler set for `name`, else the module's handle_signal/3 if it has a clause for it.
  defp handle_signal(ctx, name, arguments) do
    case Map.fetch(ctx.signal_handlers, name) do
      {:ok, handler} ->
        {:ok, handler.(arguments, ctx.state)}

      :error ->
        if function_exported?(ctx.module, :handle_signal, 3) do
          try do
            {:ok, ctx.module.handle_signal(name, arguments, ctx.state)}
          rescue
            error in FunctionClauseError ->
              if no_clause?(error, ctx.module, :handle_signal),
                do: :no_handler,
                else: reraise(error, __STACKTRACE__)
          end
        else
          :no_handler
        end
    end
  end

  defp no_clause?(%FunctionClauseError{} = error, module, function),
    do: error.module == module and error.function == function and error.arity == 3

  defp decode_update_input(ctx, update) do
    case decode_input(ctx, update.arguments, "update #{inspect(update.name)}") do
      {:ok, arguments} ->
        {:ok, arguments}

      {:error, message} ->
        {:error, %ApplicationError{type: "UpdateRejected", message: message}}
    end
  end

  # Core asks for the validator only when the update is new (on replay it was accepted).
  defp validate_update(_ctx, %{run_validator: false}, _arguments), do: :ok

  defp validate_update(ctx, update, arguments) do
    cond do
      not handles?(ctx.module, :handle_update, update.name) ->
        {:error, unknown_update(ctx, update.name)}

      not function_exported?(ctx.module, :validate_update, 3) ->
        :ok

      true ->
        case with_handler(:validator, fn -> call_validator(ctx, update.name, arguments) end) do
          :ok ->
            :ok

          {:error, %ApplicationError{} = error} ->
            {:error, error}

          {:error, reason} ->
            {:error, rejection(reason)}

          other ->
            {:error,
             rejection(
               "validate_update/3 must return :ok or {:error, reason}, got: #{inspect(other)}"
             )}
        end
    end
  end

  defp call_validator(ctx, name, arguments) do
    ctx.module.validate_update(name, arguments, ctx.state)
  rescue
    # A validator without a clause for this update lets it through.
    error in FunctionClauseError ->
      if no_clause?(error, ctx.module, :validate_update),
        do: :ok,
        else: {:error, Exception.message(error)}

    error in ApplicationError ->
      {:error, error}

    error ->
      {:error, Exception.message(error)}
  catch
    kind, reason -> {:error, Exception.format_banner(kind, reason)}
  end

  # Whether a clause of `handler` may take `name` (modules made with `use Hourglass.Workflow`
  # know the names their clauses take).
  defp handles?(module, handler, name) do
    function_exported?(module, handler, 3) and
      case handler_names(module, handler) do
        :any -> true
        names -> name in names
      end
  end

  defp handler_names(module, handler) do
    if function_exported?(module, :__workflow_handler_names__, 0),
      do: Map.get(module.__workflow_handler_names__(), handler, :any),
      else: :any
  end

  defp rejection(reason) when is_binary(reason),
    do: %ApplicationError{type: "UpdateRejected", message: reason}

  defp rejection(reason), do: rejection(inspect(reason))

  defp unknown_update(ctx, name),
    do: %ApplicationError{
      type: "UnknownUpdate",
      message: "unknown update #{inspect(name)} for workflow #{inspect(ctx.info.workflow_type)}",
      non_retryable: true
    }

  # The update's outcome: {:completed, value} or {:rejected, error}. An exception other than an
  # ApplicationError fails the workflow task, as in the main routine.
  defp run_update(ctx, name, arguments) do
    returned =
      with_handler(:update, fn ->
        try do
          ctx.module.handle_update(name, arguments, ctx.state)
        rescue
          error in ApplicationError ->
            {:error, error}

          error in FunctionClauseError ->
            if no_clause?(error, ctx.module, :handle_update),
              do: {:error, unknown_update(ctx, name)},
              else: reraise(error, __STACKTRACE__)
        end
      end)

    case returned do
      {:reply, value, state} ->
        put(%{context!() | state: state})

        case timed_codec(&PayloadCodec.encode_value/2, ctx.codec, value) do
          {:ok, encoded} ->
            {:completed, encoded}

          {:error, message} ->
            {:rejected, rejection("cannot encode the update's result: #{message}")}
        end

      {:error, %ApplicationError{} = error} ->
        {:rejected, encode_details(error, ctx.codec)}

      {:error, reason} ->
        {:rejected, %ApplicationError{type: "UpdateFailed", message: inspect(reason)}}

      other ->
        {:rejected,
         rejection(
           "handle_update/3 must return {:reply, value, state} or {:error, reason}, got: " <>
             inspect(other)
         )}
    end
  end

  defp query_answer(ctx, name, arguments) do
    with_handler(:query, fn ->
      with {:ok, arguments} <- decode_input(context!(), arguments, "query #{inspect(name)}"),
           {:reply, value} <- call_query(ctx, name, arguments),
           {:ok, encoded} <- timed_codec(&PayloadCodec.encode_value/2, ctx.codec, value) do
        {:ok, encoded}
      else
        {:error, message} -> {:error, message}
      end
    end)
  end

  defp call_query(ctx, name, arguments) do
    reply =
      case Map.fetch(ctx.query_handlers, name) do
        {:ok, handler} ->
          handler.(arguments, ctx.state)

        :error ->
          if function_exported?(ctx.module, :handle_query, 3),
            do: ctx.module.handle_query(name, arguments, ctx.state),
            else: :unknown
      end

    case reply do
      {:reply, value} -> {:reply, value}
      :unknown -> unknown_query(ctx, name)
      other -> {:error, "a query handler must return {:reply, value}, got: #{inspect(other)}"}
    end
  rescue
    error in FunctionClauseError ->
      if no_clause?(error, ctx.module, :handle_query),
        do: unknown_query(ctx, name),
        else: {:error, Exception.message(error)}

    error ->
      {:error, Exception.message(error)}
  catch
    kind, reason -> {:error, Exception.format_banner(kind, reason)}
  end

  defp unknown_query(ctx, name),
    do: {:error, "unknown query #{inspect(name)} for workflow #{inspect(ctx.info.workflow_type)}"}

  # Time in the payload codec (which may call out: a key service, say) does not count toward
  # the deadlock timeout: the run adds it up where the worker looks before it takes a late run
  # for blocked (see Hourglass.Worker.WorkflowRuns.deadline/3). Without a codec, payloads are
  # converted by the NIF, not here.
  defp timed_codec(convert, nil, value), do: convert.(nil, value)

  defp timed_codec(convert, codec, value) do
    case context!().codec_clock do
      nil ->
        convert.(codec, value)

      clock ->
        # Slot 2: when the call in progress began (or when the worker last counted it).
        :atomics.put(clock, 2, System.monotonic_time(:microsecond))

        try do
          convert.(codec, value)
        after
          began = :atomics.exchange(clock, 2, 0)
          :atomics.add(clock, 1, System.monotonic_time(:microsecond) - began)
        end
    end
  end

  defp encode_values!(codec, values, what) do
    case timed_codec(&PayloadCodec.encode_values/2, codec, values) do
      {:ok, encoded} -> encoded
      {:error, message} -> raise ArgumentError, "cannot encode #{what}: #{message}"
    end
  end

  defp decode_values!(codec, values, what) do
    case timed_codec(&PayloadCodec.decode_values/2, codec, values) do
      {:ok, decoded} -> decoded
      {:error, message} -> raise ArgumentError, "cannot decode #{what}: #{message}"
    end
  end

  # How the main routine ended. As in the official SDKs, an error a Workflow call reported that
  # the code did not handle ends the workflow: an ActivityError or ChildWorkflowError raised,
  # or returned into a match that did not take it (`{:ok, r} = Workflow.execute_activity(...)`),
  # fails it with that error; {:error, :cancelled} after the workflow's cancellation ends it
  # cancelled. Any other exception is a bug: it fails the workflow task, which the server
  # retries, so a deployed fix carries the run on.
  defp run_main do
    ctx = context!()
    # The code has its arguments now: the run does not keep them for its lifetime.
    put(%{ctx | arguments: []})

    try do
      {:returned, apply(ctx.module, :run, ctx.arguments)}
    rescue
      error in [ApplicationError, ActivityError, ChildWorkflowError] ->
        {:returned, {:error, error}}

      error in [MatchError, CaseClauseError, WithClauseError] ->
        case workflow_call_error(error.term) do
          {:ok, reason} -> {:returned, {:error, reason}}
          :error -> unhandled(error, __STACKTRACE__)
        end

      error ->
        unhandled(error, __STACKTRACE__)
    catch
      kind, reason -> {:task_failure, Exception.format(kind, reason, __STACKTRACE__)}
    end
  end

  # An exception the code did not handle: a bug that fails the task, unless the worker or the
  # workflow names its type among those that fail the workflow.
  defp unhandled(%type{} = error, stacktrace) do
    if type in context!().failure_exception_types,
      do:
        {:returned,
         {:error, %ApplicationError{type: inspect(type), message: Exception.message(error)}}},
      else: {:task_failure, Exception.format(:error, error, stacktrace)}
  end

  defp workflow_call_error({:error, %error_type{} = error})
       when error_type in [ActivityError, ChildWorkflowError],
       do: {:ok, error}

  defp workflow_call_error({:error, :cancelled}) do
    if context!().cancelled, do: {:ok, :cancelled}, else: :error
  end

  defp workflow_call_error(_term), do: :error

  defp finish({:task_failure, message}), do: fail_task(message)

  defp finish({:returned, returned}) do
    let_handlers_finish()
    ctx = context!()
    returned = if ctx.handler_failure, do: {:error, ctx.handler_failure}, else: returned

    command =
      case returned do
        {:ok, value} ->
          case timed_codec(&PayloadCodec.encode_value/2, ctx.codec, value) do
            {:ok, encoded} -> {:complete_workflow, encoded}
            {:error, message} -> fail_task("cannot encode the workflow's result: #{message}")
          end

        {:error, reason} ->
          if ctx.cancelled and cancellation?(reason),
            do: :cancel_workflow,
            else: {:fail_workflow, workflow_error(reason, ctx.codec)}

        {:continue_as_new, arguments, opts} when is_list(arguments) and is_list(opts) ->
          case timed_codec(&PayloadCodec.encode_values/2, ctx.codec, arguments) do
            {:ok, encoded} ->
              {:continue_as_new,
               %{
                 workflow_type: Keyword.get(opts, :workflow_type, ctx.info.workflow_type),
                 task_queue: Keyword.get(opts, :task_queue, ctx.info.task_queue),
                 arguments: encoded
               }
               |> put_present(opts, [:run_timeout, :task_timeout])
               |> put_retry_policy(Keyword.get(opts, :retry_policy))
               |> put_memo_and_search_attributes(ctx, opts)}

            {:error, message} ->
              fail_task("cannot encode the next run's arguments: #{message}")
          end

        other ->
          {:fail_workflow,
           %ApplicationError{
             type: "InvalidReturn",
             message: "run must return {:ok, value} or {:error, reason}, got: #{inspect(other)}",
             non_retryable: true
           }}
      end

    warn_of_unfinished_handlers(ctx)

    put(%{ctx | commands: [command | ctx.commands]})
    answer({:ok, take_commands()})
  end

  # Handlers still waiting when the run ends are abandoned: their updates get no answer. As in
  # the official SDKs, that is warned of, but for updates whose policy says :abandon.
  defp warn_of_unfinished_handlers(ctx) do
    policies = ctx.module.__workflow_unfinished_policies__()

    warned =
      for {_pid, {kind, name}} <- ctx.unfinished_handlers,
          Map.get(policies, name, :warn_and_abandon) == :warn_and_abandon,
          do: "#{kind} #{inspect(name)}"

    if warned != [] and not ctx.replaying do
      Logger.warning(
        "Hourglass.Workflow #{inspect(ctx.info[:workflow_type])}: the run ended while " <>
          "handlers had not (#{warned |> Enum.sort() |> Enum.join(", ")}): they are " <>
          "abandoned, and updates among them get no answer (wait for " <>
          "Workflow.all_handlers_finished?/0 before returning, or give them the :abandon policy)"
      )
    end
  end

  # Update handlers whose wait is over take their turns before the workflow's result is sent,
  # so that their updates are answered (an update's answer after the workflow's end is lost).
  defp let_handlers_finish do
    if context!().waiting_handlers != [] and flag?(@flag_updates_before_end) and handler_turn(),
      do: let_handlers_finish()
  end

  # With a codec, the details go encoded, as everything else the run sends.
  defp encode_details(%ApplicationError{details: details} = error, codec) do
    case timed_codec(&PayloadCodec.encode_values/2, codec, details || []) do
      {:ok, encoded} -> %{error | details: encoded}
      {:error, message} -> fail_task("cannot encode the failure's details: #{message}")
    end
  end

  # Whether what a wait returned told the code of the cancellation.
  defp cancellation_seen?({:error, reason}), do: cancellation?(reason)
  defp cancellation_seen?({%Handle{}, outcome}), do: cancellation_seen?(outcome)

  defp cancellation_seen?(outcomes) when is_list(outcomes),
    do: Enum.any?(outcomes, &cancellation_seen?/1)

  defp cancellation_seen?(_value), do: false

  defp cancellation?(:cancelled), do: true
  defp cancellation?(%ActivityError{cause: {:cancelled, _}}), do: true
  defp cancellation?(%ChildWorkflowError{cause: {:cancelled, _}}), do: true
  defp cancellation?(_reason), do: false

  # The error the workflow fails with, its details encoded as everything else the run sends.
  # An activity's or a child's error keeps its chain of causes, as in the other SDKs: clients
  # see an ActivityError (or ChildWorkflowError) caused by, say, the last attempt's error.
  defp workflow_error(%ApplicationError{} = error, codec), do: encode_details(error, codec)

  defp workflow_error(%error_type{cause: cause} = error, codec)
       when error_type in [ActivityError, ChildWorkflowError] do
    case cause do
      {:failed, %failure_type{} = failure}
      when failure_type in [ApplicationError, ActivityError, ChildWorkflowError] ->
        %{error | cause: {:failed, workflow_error(failure, codec)}}

      {:cancelled, details} when codec != nil ->
        case timed_codec(&PayloadCodec.encode_value/2, codec, details) do
          {:ok, encoded} -> %{error | cause: {:cancelled, encoded}}
          {:error, message} -> fail_task("cannot encode the cancellation's details: #{message}")
        end

      {kind, _} when kind in [:cancelled, :timed_out, :terminated] ->
        error

      _unchained ->
        type = error_type |> Module.split() |> List.last()
        %ApplicationError{type: type, message: Exception.message(error)}
    end
  end

  defp workflow_error(reason, _codec),
    do: %ApplicationError{type: "WorkflowError", message: inspect(reason)}

  # After the run's end: answers queries until Core evicts the run.
  defp serve_finished do
    next_activation()
    answer({:ok, take_commands()})
    serve_finished()
  end

  # The workflow task fails (Core evicts the run, and the server retries the task): answer,
  # then wait for the eviction, answering anything else with the same failure.
  defp fail_task(message) do
    # An update handler's process does not hold the run between turns: the run's process
    # fails the task when the handler's turn ends with this error.
    if Process.get(@handler_of), do: raise(RuntimeError, message)
    ctx = context!()

    log_anyway(
      :error,
      "Hourglass.Workflow #{inspect(ctx.info[:workflow_type])}: the workflow task failed: #{message}"
    )

    :ok = complete_failed(ctx, message)
    await_eviction(ctx, message)
  end

  defp complete_failed(ctx, message) do
    case complete(ctx, {:failed, message}) do
      :ok -> :ok
      {:error, _} -> complete_failed(ctx, "the workflow task failed")
    end
  end

  # Answers the activation. When the worker has answered it already (it took this process for
  # dead or stuck), this process is being replaced: it ends.
  defp complete(ctx, completion) do
    # The flags the run went by: Core records in the history those it has not yet.
    completion =
      case completion do
        {:ok, commands} -> {:ok, commands, MapSet.to_list(ctx.flags)}
        {:failed, _message} -> completion
      end

    case Native.worker_complete_activation(
           ctx.core,
           ctx.run_id,
           ctx.activation_token,
           completion
         ) do
      :ok ->
        :ok

      {:error, :already_answered} ->
        stop({:shutdown, :answered_by_worker})

      {:error, message} ->
        {:error, message}
    end
  end

  defp await_eviction(ctx, message) do
    monitor = ctx.worker_monitor

    receive do
      {:DOWN, ^monitor, :process, _pid, _reason} ->
        stop({:shutdown, :worker_down})

      {:"$hourglass_workflow_activation", activation, token} ->
        ctx = %{ctx | activation_token: token}
        put(ctx)

        if Enum.any?(activation.jobs, &match?({:remove_from_cache, _, _}, &1)) do
          :ok = complete(ctx, {:ok, []})
          stop(@evicted)
        else
          complete_failed(ctx, message)
          await_eviction(ctx, message)
        end
    end
  end
end
