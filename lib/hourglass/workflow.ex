defmodule Hourglass.Workflow do
  @moduledoc """
  Defines a workflow written in Elixir, and the calls its code makes.

      defmodule MyApp.Approval do
        use Hourglass.Workflow, name: "Approval"
        alias Hourglass.Workflow

        @impl true
        def init([_order]), do: %{approver: nil}

        @impl true
        def run(order) do
          :ok = Workflow.wait_condition(fn state -> state.approver != nil end)
          {:ok, receipt} = Workflow.execute_activity("charge", [order], start_to_close_timeout: 10_000)
          {:ok, %{"receipt" => receipt, "approver" => Workflow.state().approver}}
        end

        @impl true
        def handle_signal("approve", [by], state), do: %{state | approver: by}

        @impl true
        def handle_query("approver", [], state), do: {:reply, state.approver}
      end

  Serve it with `{Hourglass.Worker, task_queue: "orders", workflows: [MyApp.Approval]}`.
  `:name` is the workflow type clients start; it defaults to the module name without
  `Elixir.`. `:failure_exception_types` (a list of exception modules, default `[]`) names
  exceptions that fail this workflow rather than its task (see below), as the worker's
  `:workflow_failure_exception_types` does for all its workflows. `:unfinished_policies`
  (a map of signal or update names to `:warn_and_abandon`, the default, or `:abandon`) says
  what the end of a run does with that name's handlers still waiting: both abandon them
  (an update gets no answer); `:abandon` does so without a warning, as the official SDKs'
  per-handler policy.

  ## How a run runs

  Each run the worker has cached is one process under
  `Hourglass.WorkflowExecutor.DynamicSupervisor`, started when Core initializes the run and
  stopped when Core evicts it. `run/N` runs in that process, with one argument per input
  payload. A call that waits (an activity, a timer, a condition) answers the current activation
  with the commands the run has issued so far and waits for the next one, which Core sends
  once something the run waits for has happened; signals and queries are handled between. Core
  replays history into a new process after an eviction, so the code must be deterministic:
  take the time from `now/0`, random numbers from `random/0` or `:rand` (seeded per run),
  ids from `uuid4/0`, and never wait with `receive` or `Process.sleep/1`. The module's
  functions are checked for such calls as it compiles (`Hourglass.Workflow.Determinism`).

  ## What `run` returns

    * `{:ok, value}` - completes the workflow with `value`.
    * `{:error, %Hourglass.ApplicationError{}}` - fails the workflow with that error; raising
      it does the same. `{:error, %Hourglass.ActivityError{}}` or
      `{:error, %Hourglass.ChildWorkflowError{}}` (returned or raised) fails it with that
      error and its cause, as the other SDKs do: a Python client sees an `ActivityError` whose
      cause is the last attempt's `ApplicationError`. `{:error, reason}` fails it with type
      `"WorkflowError"`.
    * `{:error, :cancelled}` after the workflow was cancelled - ends it cancelled (so does an
      activity's or child's error caused by that cancellation).
    * `continue_as_new(arguments, opts)` - ends this run and starts the next, with a fresh
      history (clients waiting for the result follow it).

  An error a `Workflow` call reported that the code did not handle ends the workflow as if
  `run` had returned it, as in the official SDKs: a `MatchError`, `CaseClauseError` or
  `WithClauseError` whose term is `{:error, %Hourglass.ActivityError{}}` or
  `{:error, %Hourglass.ChildWorkflowError{}}` (so `{:ok, r} = Workflow.execute_activity(...)`
  fails the workflow with the activity's error), or `{:error, :cancelled}` once the workflow
  was cancelled (so `:ok = Workflow.wait_condition(...)` ends it cancelled). An exception of
  a type named in `:failure_exception_types` fails the workflow with an
  `Hourglass.ApplicationError` whose type is the exception's module and whose message is its
  message; `Hourglass.Workflow.NondeterminismError` there fails the workflow when its code no
  longer replays its history. Any other exception is a bug and fails the workflow *task*:
  Temporal retries the task, so deploying a fix carries the run on.

  ## Cancellation

  A cancel request reaches the run once, at the main routine's wait (the one pending when it
  arrives, or the next): every operation pending then is cancelled, in the order the code
  started them (timers at once; activities and children as their `:cancellation_type` says),
  and a `wait_condition/2` pending then returns `{:error, :cancelled}`. Later waits work as
  before, so cleanup code can run activities and timers before `run` returns; `cancelled?/0`
  says whether a cancel came. Update handlers are not cancelled. `cancel/1` cancels one
  operation.

  ## Callbacks

    * `init/1` (optional) - the initial state from the run's arguments (default `%{}`).
    * `handle_signal/3` (optional) - the new state. A signal no clause matches is kept, per
      name and in order, until the code sets a handler for it (`set_signal_handler/2`), as the
      official SDKs do.
    * `handle_query/3` (optional) - `{:reply, value}`; it sees the state and must not change
      it. An unknown query is answered with an error that names it.
    * `handle_update/3` (optional) - `{:reply, value, new_state}`, or `{:error, reason}` to
      fail the update. An update with no handler is rejected. It may wait (activities,
      timers, conditions) while the main routine and other handlers go on; the state it was
      given is then out of date, so after a wait it changes the state with `update_state/1`
      and replies with `state/0` as its new state.
    * `validate_update/3` (optional) - `:ok`, or `{:error, reason}` to reject the update
      before it is accepted; a validator with no clause for an update accepts it.

  Handlers set with `set_signal_handler/2` and `set_query_handler/2` take precedence over
  the callbacks for their name. Handlers run between the main routine's waits, one piece of
  code at a time, in the order the history gives. Signal and update handlers may wait
  (activities, timers, conditions) while the main routine and other handlers go on; the state
  a handler was given is then out of date, so after a wait it builds on `state/0` (or changes
  the state with `update_state/1`). A signal handler that raises `Hourglass.ApplicationError`
  fails the workflow with it. Queries and
  validators cannot change the run: no commands, no state, and the random generator is as
  they found it; one that raises, throws or exits answers the query with an error or rejects
  the update. Input a client sent that the converter cannot read (an unknown encoding, bad
  JSON) never fails the task: such a signal is logged and dropped, such an update rejected,
  such a query answered with an error. A payload codec that fails on it fails the task (it is
  retried): a codec's failure, unlike the converter's, may not repeat on replay. Handlers whose wait is over when `run` returns take
  their turns first; a run that returns while others still wait abandons them, leaving their
  updates unanswered (with a warning): wait for `all_handlers_finished?/0` first.

  Awaiting hands an operation's outcome out once: a cached run keeps no result the code took
  (keep what you need in variables or the state). Awaiting the same handle again raises.
  """

  alias Hourglass.Workflow.{Handle, Run}

  @doc "The run's initial state, from its arguments."
  @callback init(arguments :: [term()]) :: term()
  @doc "Handles a signal: returns the new state."
  @callback handle_signal(name :: String.t(), arguments :: [term()], state :: term()) :: term()
  @doc "Answers a query from the state."
  @callback handle_query(name :: String.t(), arguments :: [term()], state :: term()) ::
              {:reply, term()}

  @doc """
  Handles an update: `{:reply, value, new_state}` answers the caller with `value`;
  `{:error, reason}` (or raising `Hourglass.ApplicationError`) fails the update, not the
  workflow.
  """
  @callback handle_update(name :: String.t(), arguments :: [term()], state :: term()) ::
              {:reply, term(), term()} | {:error, term()}
  @doc """
  Checks an update before it is accepted: `:ok`, or `{:error, reason}` to reject it (a
  rejected update leaves no trace in the history). It sees the state and must not change it.
  """
  @callback validate_update(name :: String.t(), arguments :: [term()], state :: term()) ::
              :ok | {:error, term()}

  # run/N takes one argument per input payload; a callback per arity lets `@impl true` mark
  # whichever the workflow defines.
  @doc "The workflow's main routine (one argument per input payload)."
  @callback run() :: term()
  @callback run(term()) :: term()
  @callback run(term(), term()) :: term()
  @callback run(term(), term(), term()) :: term()
  @callback run(term(), term(), term(), term()) :: term()
  @callback run(term(), term(), term(), term(), term()) :: term()
  @callback run(term(), term(), term(), term(), term(), term()) :: term()

  @optional_callbacks init: 1,
                      handle_signal: 3,
                      handle_query: 3,
                      handle_update: 3,
                      validate_update: 3,
                      run: 0,
                      run: 1,
                      run: 2,
                      run: 3,
                      run: 4,
                      run: 5,
                      run: 6

  defmacro __using__(opts) do
    quote bind_quoted: [opts: opts] do
      @behaviour Hourglass.Workflow
      @on_definition Hourglass.Workflow
      @before_compile Hourglass.Workflow
      Module.register_attribute(__MODULE__, :hourglass_handler_names, accumulate: true)

      @hourglass_workflow_name Keyword.get(
                                 opts,
                                 :name,
                                 __MODULE__
                                 |> Atom.to_string()
                                 |> String.replace_prefix("Elixir.", "")
                               )

      @hourglass_failure_exception_types Hourglass.Workflow.failure_exception_types!(
                                           Keyword.get(opts, :failure_exception_types, []),
                                           __MODULE__
                                         )

      @doc false
      def __workflow_name__, do: @hourglass_workflow_name

      @hourglass_unfinished_policies Hourglass.Workflow.unfinished_policies!(
                                       Keyword.get(opts, :unfinished_policies, %{}),
                                       __MODULE__
                                     )

      @doc false
      def __workflow_failure_exception_types__, do: @hourglass_failure_exception_types

      @doc false
      def __workflow_unfinished_policies__, do: @hourglass_unfinished_policies
    end
  end

  @doc false
  # Checks the exception modules a workflow (or a worker) fails the workflow with.
  @spec failure_exception_types!([module()], term()) :: [module()]
  def failure_exception_types!(types, where) do
    # At compile time the modules may be compiling in parallel: wait for them.
    compiled? = &(is_atom(&1) and match?({:module, _}, Code.ensure_compiled(&1)))

    if is_list(types) and Enum.all?(types, &(compiled?.(&1) and exception_module?(&1))) do
      types
    else
      raise ArgumentError,
            "#{inspect(where)}: :failure_exception_types must be a list of exception modules, " <>
              "got: #{inspect(types)}"
    end
  end

  @doc false
  # Checks what a workflow does with handlers still running when it ends, per signal or update
  # name.
  @spec unfinished_policies!(term(), term()) :: %{String.t() => :warn_and_abandon | :abandon}
  def unfinished_policies!(policies, where) do
    if is_map(policies) and
         Enum.all?(policies, fn {name, policy} ->
           is_binary(name) and policy in [:warn_and_abandon, :abandon]
         end) do
      policies
    else
      raise ArgumentError,
            "#{inspect(where)}: :unfinished_policies must map signal or update names to " <>
              ":warn_and_abandon or :abandon, got: #{inspect(policies)}"
    end
  end

  @doc false
  @spec exception_module?(term()) :: boolean()
  def exception_module?(module) do
    is_atom(module) and Code.ensure_loaded?(module) and
      function_exported?(module, :exception, 1) and function_exported?(module, :message, 1)
  end

  @handlers [:handle_signal, :handle_query, :handle_update]

  @doc false
  # Each function is checked for determinism (Hourglass.Workflow.Determinism); the names a
  # handler's clauses take are recorded, so that an update no clause takes is rejected before
  # it is accepted, as the official SDKs reject one with no handler.
  def __on_definition__(env, kind, name, args, guards, body) do
    Hourglass.Workflow.Determinism.__on_definition__(env, kind, name, args, guards, body)

    if kind == :def and name in @handlers and length(args) == 3 do
      taken = if is_binary(hd(args)), do: hd(args), else: :any
      Module.put_attribute(env.module, :hourglass_handler_names, {name, taken})
    end
  end

  @doc false
  defmacro __before_compile__(env) do
    names =
      env.module
      |> Module.get_attribute(:hourglass_handler_names)
      |> Enum.group_by(&elem(&1, 0), &elem(&1, 1))
      |> Map.new(fn {handler, taken} ->
        {handler, if(:any in taken, do: :any, else: Enum.uniq(taken))}
      end)

    quote do
      @doc false
      # The names each handler callback's clauses take (:any when a clause takes any name).
      def __workflow_handler_names__, do: unquote(Macro.escape(names))
    end
  end

  @typedoc "What a workflow waits on: an activity, a timer or a child workflow it started."
  @type handle :: Handle.t()

  @typedoc "An activity's outcome in a workflow."
  @type activity_result :: {:ok, term()} | {:error, Hourglass.ActivityError.t() | :cancelled}

  @doc """
  Starts an activity and waits for its outcome: `{:ok, value}`, or
  `{:error, %Hourglass.ActivityError{}}` carrying why it failed (see `start_activity/3`).
  """
  @spec execute_activity(String.t(), [term()], keyword()) :: activity_result()
  def execute_activity(activity_type, arguments, opts \\ []),
    do: activity_type |> start_activity(arguments, opts) |> await()

  @doc """
  Schedules an activity and returns its handle at once; `await/1` waits for it. Several
  started before any is awaited run at the same time.

  Options: `:task_queue` (default: the workflow's), `:activity_id` (default: its sequence
  number in this run), `:start_to_close_timeout`, `:schedule_to_close_timeout`,
  `:schedule_to_start_timeout`, `:heartbeat_timeout` (milliseconds; one of the first two is
  required), `:retry_policy` (`:initial_interval`, `:backoff_coefficient`,
  `:maximum_interval`, `:maximum_attempts`, `:non_retryable_error_types`) and
  `:cancellation_type` (`:try_cancel`, `:wait_cancellation_completed`, `:abandon`).
  """
  @spec start_activity(String.t(), [term()], keyword()) :: handle()
  def start_activity(activity_type, arguments, opts \\ [])
      when is_binary(activity_type) and is_list(arguments) and is_list(opts),
      do: Run.start_activity(activity_type, arguments, opts)

  @doc """
  Starts a child workflow and waits for its result: `{:ok, value}`, or
  `{:error, %Hourglass.ChildWorkflowError{}}` carrying why it did not complete (see
  `start_child_workflow/3`).
  """
  @spec execute_child_workflow(String.t(), [term()], keyword()) ::
          {:ok, term()} | {:error, Hourglass.ChildWorkflowError.t() | term()}
  def execute_child_workflow(workflow_type, arguments, opts \\ []) do
    with {:ok, handle} <- start_child_workflow(workflow_type, arguments, opts), do: await(handle)
  end

  @doc """
  Starts a child workflow of type `workflow_type` (of any SDK, on any task queue) and waits
  until the server started it: `{:ok, handle}` (`await/1` waits for its result), or
  `{:error, %Hourglass.ChildWorkflowError{cause: {:start_failed, reason}}}`.

  Options: `:id` (default: the parent's workflow id, `-child-N` and the end of the parent's run
  id, the same on replay and different in the next run of a continue-as-new), `:task_queue` (default:
  the parent's), `:execution_timeout`, `:run_timeout`, `:task_timeout` (milliseconds),
  `:retry_policy`, `:cron_schedule`, `:id_reuse_policy` (`:allow_duplicate`,
  `:allow_duplicate_failed_only`, `:reject_duplicate`), `:parent_close_policy` (what happens
  to the child when the parent closes first: `:terminate`, the default, `:abandon`,
  `:request_cancel`), `:cancellation_type` (when the parent is cancelled:
  `:wait_cancellation_completed`, the default, `:wait_cancellation_requested`, `:try_cancel`,
  `:abandon`), `:memo` and `:search_attributes` (maps of names to values).
  """
  @spec start_child_workflow(String.t(), [term()], keyword()) ::
          {:ok, handle()} | {:error, Hourglass.ChildWorkflowError.t() | term()}
  def start_child_workflow(workflow_type, arguments, opts \\ [])
      when is_binary(workflow_type) and is_list(arguments) and is_list(opts),
      do: Run.start_child_workflow(workflow_type, arguments, opts)

  @doc """
  Signals another workflow: a child's handle, or a workflow id (option `:run_id`, default:
  its latest run). Returns `:ok` once the server delivered it, or `{:error, cause}` (the
  workflow does not exist, or has closed).
  """
  @spec signal_external_workflow(handle() | String.t(), String.t(), [term()], keyword()) ::
          :ok | {:error, term()}
  def signal_external_workflow(target, name, arguments, opts \\ [])
      when is_binary(name) and is_list(arguments) and is_list(opts) do
    external_target!(target)
    Run.signal_external_workflow(target, name, arguments, opts)
  end

  @doc """
  Asks another workflow to cancel: a child's handle, or a workflow id (option `:run_id`).
  Returns `:ok` once the server recorded the request, or `{:error, cause}`.
  """
  @spec cancel_external_workflow(handle() | String.t(), keyword()) :: :ok | {:error, term()}
  def cancel_external_workflow(target, opts \\ []) when is_list(opts) do
    external_target!(target)
    Run.cancel_external_workflow(target, opts)
  end

  defp external_target!(%Handle{kind: :child}), do: :ok
  defp external_target!(workflow_id) when is_binary(workflow_id) and workflow_id != "", do: :ok

  defp external_target!(other),
    do:
      raise(
        ArgumentError,
        "another workflow is a child's handle or a workflow id, got: #{inspect(other)}"
      )

  @doc """
  Runs a local activity and waits for its outcome, as `execute_activity/3` does (see
  `start_local_activity/3`).
  """
  @spec execute_local_activity(String.t(), [term()], keyword()) :: activity_result()
  def execute_local_activity(activity_type, arguments, opts \\ []),
    do: activity_type |> start_local_activity(arguments, opts) |> await()

  @doc """
  Schedules a local activity: one this worker runs itself, at once, without a round trip
  through the server's task queue (only its outcome is recorded in the history). For short
  work; `await/1` waits for it. The activity must be registered on this worker (Elixir or
  native).

  Options: those of `start_activity/3` but `:task_queue` and `:heartbeat_timeout` (one of
  `:start_to_close_timeout`, `:schedule_to_close_timeout` is required), and
  `:local_retry_threshold` (milliseconds): Core retries a failed attempt by itself while the
  backoff is shorter; a longer backoff is a durable timer of the run's.
  """
  @spec start_local_activity(String.t(), [term()], keyword()) :: handle()
  def start_local_activity(activity_type, arguments, opts \\ [])
      when is_binary(activity_type) and is_list(arguments) and is_list(opts),
      do: Run.start_local_activity(activity_type, arguments, opts)

  @doc "Starts a durable timer of `milliseconds`; `await/1` returns `{:ok, nil}` when it fires."
  @spec start_timer(non_neg_integer()) :: handle()
  def start_timer(milliseconds) when is_integer(milliseconds) and milliseconds >= 0,
    do: Run.start_timer(milliseconds)

  @doc "Waits `milliseconds` of workflow time (a durable timer)."
  @spec sleep(non_neg_integer()) :: :ok | {:error, :cancelled}
  def sleep(milliseconds) do
    case milliseconds |> start_timer() |> await() do
      {:ok, nil} -> :ok
      {:error, _} = error -> error
    end
  end

  @doc """
  Waits for what `handle` stands for: `{:ok, value}` or `{:error, reason}`. With
  `timeout:` (milliseconds of workflow time, a durable timer) it gives up after that long with
  `{:error, :timeout}`; what the handle stands for carries on, and can be awaited again (or
  cancelled with `cancel/1`).
  """
  @spec await(handle(), keyword()) :: {:ok, term()} | {:error, term()}
  def await(%Handle{} = handle, opts \\ []) when is_list(opts) do
    case Keyword.get(opts, :timeout) do
      nil ->
        Run.await_handles([handle], :all) |> hd()

      milliseconds when is_integer(milliseconds) and milliseconds >= 0 ->
        # Checked before its timer starts, which would otherwise be left pending.
        Run.awaitable!(handle)
        timer = start_timer(milliseconds)

        case Run.await_handles([handle, timer], :any) do
          {^timer, {:ok, _fired}} ->
            {:error, :timeout}

          # The workflow was cancelled: its timers are.
          {^timer, {:error, :cancelled}} ->
            {:error, :cancelled}

          {^handle, outcome} ->
            Run.drop_timer(timer)
            outcome
        end
    end
  end

  @doc """
  Cancels what `handle` stands for, if it is still pending: a timer (`await/1` then returns
  `{:error, :cancelled}` at once), an activity or a local activity, or a child workflow. An
  activity or a child is cancelled as its `:cancellation_type` says (`:try_cancel`: resolved
  at once; `:wait_cancellation_completed`: once it has ended; `:abandon`: at once, and left
  running), and `await/1` then returns its `{:error, %Hourglass.ActivityError{}}` or
  `{:error, %Hourglass.ChildWorkflowError{}}` with cause `{:cancelled, details}` (or its
  result, if it ended first). Returns `:ok`.
  """
  @spec cancel(handle()) :: :ok
  def cancel(%Handle{} = handle), do: Run.cancel(handle)

  @doc "Waits for every handle; their outcomes, in the same order."
  @spec await_all([handle()]) :: [{:ok, term()} | {:error, term()}]
  def await_all(handles) when is_list(handles), do: Run.await_handles(handles, :all)

  @doc "Waits for the first of `handles` to finish: `{handle, outcome}`."
  @spec await_any([handle(), ...]) :: {handle(), {:ok, term()} | {:error, term()}}
  def await_any([_ | _] = handles), do: Run.await_handles(handles, :any)

  @doc """
  Waits until `condition`, given the state, returns true. With `timeout:` (milliseconds) it
  gives up after that much workflow time with `{:error, :timeout}`.
  """
  @spec wait_condition((term() -> boolean()), keyword()) ::
          :ok | {:error, :timeout} | {:error, :cancelled}
  def wait_condition(condition, opts \\ []) when is_function(condition, 1),
    do: Run.wait_condition(condition, Keyword.get(opts, :timeout))

  @doc """
  Sets the handler of signal `name` for the rest of the run: `handler.(arguments, state)`
  returns the new state. Signals of that name that came before (no `handle_signal/3` clause
  took them) are handed to it now, in the order they came.
  """
  @spec set_signal_handler(String.t(), ([term()], term() -> term())) :: :ok
  def set_signal_handler(name, handler) when is_binary(name) and is_function(handler, 2),
    do: Run.set_signal_handler(name, handler)

  @doc """
  Sets the handler of query `name` for the rest of the run: `handler.(arguments, state)`
  returns `{:reply, value}`.
  """
  @spec set_query_handler(String.t(), ([term()], term() -> {:reply, term()})) :: :ok
  def set_query_handler(name, handler) when is_binary(name) and is_function(handler, 2),
    do: Run.set_query_handler(name, handler)

  @doc """
  Sets search attributes of the workflow (a map of names to values: strings, numbers,
  booleans, lists of strings, `DateTime`s), for `temporal workflow list --query` and
  `Hourglass.Client.describe_workflow/2`; the names must be registered on the server.
  `info().search_attributes` shows them from now on.
  """
  @spec upsert_search_attributes(map()) :: :ok
  def upsert_search_attributes(attributes) when is_map(attributes),
    do: Run.upsert_search_attributes(attributes)

  @doc """
  Sets memo entries of the workflow (a map of names to values, through the payload codec).
  `info().memo` shows them from now on.
  """
  @spec upsert_memo(map()) :: :ok
  def upsert_memo(memo) when is_map(memo), do: Run.upsert_memo(memo)

  @doc "The run's state."
  @spec state() :: term()
  def state, do: Run.state()

  @doc "Replaces the run's state with `fun.(state)`; returns the new state."
  @spec update_state((term() -> term())) :: term()
  def update_state(fun) when is_function(fun, 1), do: Run.update_state(fun)

  @doc """
  About this run: `:workflow_id`, `:run_id`, `:workflow_type`, `:task_queue`, `:namespace`,
  `:attempt`, `:first_execution_run_id`, `:continued_from_execution_run_id`, `:start_time`,
  `:parent` (nil, or the parent's `%{namespace, workflow_id, run_id}`), `:memo`,
  `:search_attributes`, `:cron_schedule`, `:execution_timeout`, `:run_timeout`,
  `:task_timeout` (milliseconds, or nil), `:history_length`, `:continue_as_new_suggested`.
  """
  @spec info() :: map()
  def info, do: Run.info()

  @doc "Workflow time: the time of the activation being handled, the same on every replay."
  @spec now() :: DateTime.t()
  def now, do: Run.now()

  @doc "A float in [0, 1), from the run's seeded generator: the same on every replay."
  @spec random() :: float()
  def random, do: :rand.uniform()

  @doc "A version 4 UUID from the run's seeded generator: the same on every replay."
  @spec uuid4() :: String.t()
  def uuid4 do
    <<a::32, b::16, _::4, c::12, _::2, d::14, e::48>> = <<:rand.uniform(2 ** 128) - 1::128>>
    d = Bitwise.bor(d, 0x8000)

    :io_lib.format("~8.16.0b-~4.16.0b-4~3.16.0b-~4.16.0b-~12.16.0b", [a, b, c, d, e])
    |> IO.iodata_to_binary()
  end

  @doc """
  Whether the code may take the new path of the change named `patch_id`: true in runs that
  reached this point with this code (and from then on, the same in their replays), false when
  replaying a history made by code without the patch. Keep both paths until no such history is
  open; then `deprecate_patch/1`, then remove the call.
  """
  @spec patched?(String.t()) :: boolean()
  def patched?(patch_id) when is_binary(patch_id), do: Run.patched?(patch_id)

  @doc "Marks `patch_id` as the only path: histories made before the patch no longer replay."
  @spec deprecate_patch(String.t()) :: :ok
  def deprecate_patch(patch_id) when is_binary(patch_id), do: Run.deprecate_patch(patch_id)

  @doc """
  What `run` returns to continue as a new run of the workflow with `arguments` and a fresh
  history. Options: `:workflow_type` and `:task_queue` (default: this run's), `:run_timeout`
  and `:task_timeout` (milliseconds), and `:memo`, `:search_attributes` and `:retry_policy`
  (as `start_child_workflow/3` takes them; default: this run's).
  """
  @spec continue_as_new([term()], keyword()) :: {:continue_as_new, [term()], keyword()}
  def continue_as_new(arguments, opts \\ []) when is_list(arguments) and is_list(opts) do
    # Checked here, where a mistake fails the task at the line that made it.
    if memo = opts[:memo], do: Run.memo_names!(memo)
    if attributes = opts[:search_attributes], do: Run.search_attributes!(attributes)
    {:continue_as_new, arguments, opts}
  end

  @doc """
  Marks a call as reviewed for determinism: `use Hourglass.Workflow` warns at compile time on
  calls that can break replay (see `Hourglass.Workflow.Determinism`), except inside this.
  It returns what `expression` returns.

      Workflow.reviewed(Logger.info("at \#{DateTime.utc_now()}"))
  """
  defmacro reviewed(expression), do: expression

  @doc """
  Whether every update handler that started has ended (one that is running, the caller
  itself included, has not). Wait for it before returning from `run`:

      :ok = Workflow.wait_condition(fn _ -> Workflow.all_handlers_finished?() end)
  """
  @spec all_handlers_finished?() :: boolean()
  def all_handlers_finished?, do: Run.all_handlers_finished?()

  @doc "Whether the workflow was asked to cancel."
  @spec cancelled?() :: boolean()
  def cancelled?, do: Run.cancelled?()
end
