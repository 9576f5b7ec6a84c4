defmodule Hourglass.Client do
  @moduledoc """
  A Temporal client over the same Rust core as the worker: Standalone Activities (activities
  started on their own, without a workflow) and workflows (`start_workflow/4`,
  `execute_workflow/4`, `workflow_result/3`, `signal_workflow/4`, `query_workflow/4`,
  `cancel_workflow/3`, `terminate_workflow/3`, `describe_workflow/2`).

      {:ok, client} = Hourglass.Client.connect(address: "localhost:7233")

      {:ok, "Hello, Ada!"} =
        Hourglass.Client.execute_activity(client, "greet", ["Ada"],
          task_queue: "greetings",
          start_to_close_timeout: 10_000
        )

      {:ok, handle} = Hourglass.Client.start_activity(client, "hourglass.sleep", [60_000], task_queue: "q", start_to_close_timeout: 120_000, heartbeat_timeout: 5_000)
      :ok = Hourglass.Client.cancel(client, handle, "not needed any more")
      {:error, {:cancelled, _details}} = Hourglass.Client.result(client, handle)

  Arguments and results are converted like the worker converts them (`json/plain` for terms,
  `binary/plain` for binaries that are not UTF-8 text, `binary/null` for nil).

  ## Results

  `result/3` and `execute_activity/4` return `{:ok, value}` or `{:error, reason}` with reason:

    * `{:failed, %Hourglass.ApplicationError{}}` - the last attempt failed and no retry is left.
    * `{:cancelled, details}` - the activity was cancelled.
    * `{:terminated, reason}` - it was terminated.
    * `{:timed_out, type}` - `:start_to_close`, `:schedule_to_close`, `:schedule_to_start` or
      `:heartbeat`.
    * `{code, message}` - the server refused the call (`:not_found`, `:already_exists`,
      `:invalid_argument`, `:unavailable`, …).
    * `:timeout` - no answer within the call's `:timeout`.
  """

  alias Hourglass.{Native, PayloadCodec}

  @enforce_keys [:resource, :namespace, :address]
  defstruct [:resource, :namespace, :address, :identity, :payload_codec]

  @type t :: %__MODULE__{
          resource: reference(),
          namespace: String.t(),
          address: String.t(),
          identity: String.t(),
          payload_codec: {module(), term()} | nil
        }

  defmodule ActivityHandle do
    @moduledoc "A started Standalone Activity: its id and the run the start created."
    @enforce_keys [:activity_id, :run_id]
    defstruct [:activity_id, :run_id]
    @type t :: %__MODULE__{activity_id: String.t(), run_id: String.t()}
  end

  @typedoc "An activity to act on: a handle, or an activity id (its latest run)."
  @type activity :: ActivityHandle.t() | String.t()

  defmodule WorkflowHandle do
    @moduledoc "A started workflow: its id and the run the start created."
    @enforce_keys [:workflow_id, :run_id]
    defstruct [:workflow_id, :run_id]
    @type t :: %__MODULE__{workflow_id: String.t(), run_id: String.t()}
  end

  @typedoc "A workflow to act on: a handle, or a workflow id (its latest run)."
  @type workflow :: WorkflowHandle.t() | String.t()

  defmodule UpdateHandle do
    @moduledoc "An update the workflow accepted (`start_update/5`): its workflow and its id."
    @enforce_keys [:workflow_id, :run_id, :update_id]
    defstruct [:workflow_id, :run_id, :update_id]

    @type t :: %__MODULE__{
            workflow_id: String.t(),
            run_id: String.t(),
            update_id: String.t()
          }
  end

  @connect_options [
    :address,
    :namespace,
    :identity,
    :tls,
    :api_key,
    :connect_timeout,
    :grpc_compression,
    :payload_codec,
    :payload_size_limit
  ]

  @doc """
  Connects to a Temporal server.

  Options: `:address` (default `"localhost:7233"`), `:namespace` (default `"default"`),
  `:identity`, `:tls`, `:api_key`, `:connect_timeout`, `:grpc_compression`, `:payload_codec`
  and `:payload_size_limit`, as for `Hourglass.Worker`. With a codec, arguments, results and
  details are encoded and decoded with it; a codec error is `{:error, {:payload_codec, message}}`.
  A request whose encoded payloads (arguments, an asynchronous result, failure or heartbeat
  details) are over the payload size limit is refused before it is sent, with
  `{:error, {:payload_too_large, message}}`.
  Returns `{:error, {:unavailable, message}}` when the server cannot be reached.
  """
  @spec connect(keyword()) :: {:ok, t()} | {:error, term()}
  def connect(opts \\ []) do
    with {:ok, options} <- validate_connect(opts) do
      settings = Hourglass.Worker.Options.nif_settings(options, @connect_options)

      case call(&Native.client_connect(settings, self(), &1), options.connect_timeout + 20_000) do
        {:ok, resource} ->
          {:ok,
           %__MODULE__{
             resource: resource,
             namespace: options.namespace,
             address: options.address,
             identity: options.identity,
             payload_codec: options.payload_codec
           }}

        error ->
          error
      end
    end
  end

  defp validate_connect(opts) when is_list(opts) do
    if Keyword.keyword?(opts),
      do: validate_connect_keywords(opts),
      else: {:error, {:invalid_option, :options, "must be a keyword list, got: #{inspect(opts)}"}}
  end

  defp validate_connect(other),
    do: {:error, {:invalid_option, :options, "must be a keyword list, got: #{inspect(other)}"}}

  defp validate_connect_keywords(opts) do
    # The worker's validation, with a placeholder activity: the connection options are shared.
    worker_opts =
      [task_queue: "client", native_activities: ["hourglass.echo"]] ++
        Keyword.take(opts, @connect_options)

    case Keyword.keys(opts) -- @connect_options do
      [] -> Hourglass.Worker.Options.validate(worker_opts)
      [key | _] -> {:error, {:invalid_option, key, "#{inspect(key)} is not a client option"}}
    end
  end

  @start_options [
    :task_queue,
    :activity_id,
    :schedule_to_close_timeout,
    :schedule_to_start_timeout,
    :start_to_close_timeout,
    :heartbeat_timeout,
    :retry_policy,
    :timeout
  ]

  @doc """
  Starts a Standalone Activity of `activity_type` with `args` and returns its handle.

  Options:

    * `:task_queue` (required) - where a worker serves `activity_type`.
    * `:activity_id` - default: a random UUID. Starting an id that is running fails with
      `{:error, {:already_exists, message}}`.
    * `:start_to_close_timeout`, `:schedule_to_close_timeout` (one of them is required),
      `:schedule_to_start_timeout`, `:heartbeat_timeout` - milliseconds.
    * `:retry_policy` - `[initial_interval: ms, backoff_coefficient: float, maximum_interval: ms,
      maximum_attempts: n, non_retryable_error_types: [type]]`; the server's default otherwise
      (retry forever with exponential backoff).
    * `:timeout` - how long to wait for the server's answer (default 30_000 ms).
  """
  @spec start_activity(t(), String.t(), list(), keyword()) ::
          {:ok, ActivityHandle.t()} | {:error, term()}
  def start_activity(%__MODULE__{} = client, activity_type, args, opts)
      when is_binary(activity_type) and is_list(args) and is_list(opts) do
    with :ok <- known_options(opts, @start_options),
         {:ok, request} <- start_request(activity_type, args, opts),
         {:ok, input} <- encode(client, args),
         request = %{request | input: input},
         {:ok, run_id} <-
           call(
             &Native.client_start_activity(client.resource, request, self(), &1),
             Keyword.get(opts, :timeout, 30_000)
           ) do
      {:ok, %ActivityHandle{activity_id: request.activity_id, run_id: run_id}}
    end
  end

  def start_activity(client, activity_type, args, opts),
    do:
      {:error,
       {:invalid_arguments,
        [client: client, activity_type: activity_type, args: args, opts: opts]}}

  defp start_request(activity_type, args, opts) do
    timeouts = [
      :schedule_to_close_timeout,
      :schedule_to_start_timeout,
      :start_to_close_timeout,
      :heartbeat_timeout
    ]

    cond do
      not (is_binary(opts[:task_queue]) and opts[:task_queue] != "") ->
        {:error, {:invalid_option, :task_queue, "is required and must be a non-empty string"}}

      key =
          Enum.find(
            timeouts,
            &(Keyword.has_key?(opts, &1) and not (is_integer(opts[&1]) and opts[&1] >= 0))
          ) ->
        {:error, {:invalid_option, key, "must be a non-negative integer of milliseconds"}}

      is_nil(opts[:start_to_close_timeout]) and is_nil(opts[:schedule_to_close_timeout]) ->
        {:error,
         {:invalid_option, :start_to_close_timeout, "or :schedule_to_close_timeout is required"}}

      Keyword.has_key?(opts, :activity_id) and
          not (is_binary(opts[:activity_id]) and opts[:activity_id] != "") ->
        {:error, {:invalid_option, :activity_id, "must be a non-empty string"}}

      true ->
        with {:ok, retry_policy} <- retry_policy(Keyword.get(opts, :retry_policy)) do
          {:ok,
           opts
           |> Keyword.take(timeouts)
           |> Map.new()
           |> Map.merge(%{
             activity_type: activity_type,
             activity_id: Keyword.get_lazy(opts, :activity_id, &uuid/0),
             task_queue: opts[:task_queue],
             input: args,
             retry_policy: retry_policy,
             request_id: uuid()
           })}
        end
    end
  end

  defp retry_policy(nil), do: {:ok, nil}

  defp retry_policy(policy) when is_list(policy) do
    allowed = [
      :initial_interval,
      :backoff_coefficient,
      :maximum_interval,
      :maximum_attempts,
      :non_retryable_error_types
    ]

    if Keyword.keyword?(policy) and Keyword.keys(policy) -- allowed == [],
      do: {:ok, Map.new(policy)},
      else:
        {:error,
         {:invalid_option, :retry_policy, "must be a keyword list of #{inspect(allowed)}"}}
  end

  defp retry_policy(_), do: {:error, {:invalid_option, :retry_policy, "must be a keyword list"}}

  @doc """
  Waits for the activity to close; see "Results" above. Option `:timeout` (default
  `:infinity`): after it, `{:error, :timeout}`, and the wait on the server stops too, as it does
  when the caller dies.
  """
  @spec result(t(), activity(), keyword()) :: {:ok, term()} | {:error, term()}
  def result(%__MODULE__{} = client, activity, opts \\ []) do
    with {:ok, id, run_id} <- identify(activity) do
      fetch = &Native.client_activity_result(client.resource, id, run_id, self(), &1)
      fetch |> call(Keyword.get(opts, :timeout, :infinity)) |> decode_outcome(client)
    end
  end

  defp decode_outcome({:ok, payload}, client) do
    case PayloadCodec.decode_value(client.payload_codec, payload) do
      {:ok, value} -> {:ok, value}
      {:error, message} -> {:error, {:payload_codec, message}}
    end
  end

  defp decode_outcome({:error, failure}, client),
    do: {:error, PayloadCodec.decode_failure(client.payload_codec, failure)}

  @doc "Starts an activity and waits for its result: `start_activity/4` then `result/3`."
  @spec execute_activity(t(), String.t(), list(), keyword()) :: {:ok, term()} | {:error, term()}
  def execute_activity(client, activity_type, args, opts) do
    with {:ok, handle} <- start_activity(client, activity_type, args, opts) do
      result(client, handle, Keyword.take(opts, [:timeout]))
    end
  end

  @doc """
  Requests cancellation. The worker running the activity learns of it on the activity's next
  heartbeat, so only activities with a `:heartbeat_timeout` that heartbeat can be cancelled
  while they run.
  """
  @spec cancel(t(), activity(), String.t()) :: :ok | {:error, term()}
  def cancel(%__MODULE__{} = client, activity, reason \\ "") when is_binary(reason) do
    with {:ok, id, run_id} <- identify(activity) do
      request = %{activity_id: id, run_id: run_id, reason: reason, request_id: uuid()}
      call(&Native.client_cancel_activity(client.resource, request, self(), &1), 30_000)
    end
  end

  @doc """
  What the server knows of the activity: a map with `:activity_id`, `:run_id`,
  `:activity_type`, `:status` (`:running`, `:completed`, `:failed`, `:cancelled`,
  `:terminated`, `:timed_out`), `:task_queue`, `:attempt`, `:heartbeat_details`,
  `:last_failure`, `:last_worker_identity`, `:canceled_reason` and times as `DateTime`s.
  """
  @spec describe(t(), activity()) :: {:ok, map()} | {:error, term()}
  def describe(%__MODULE__{} = client, activity) do
    with {:ok, id, run_id} <- identify(activity),
         {:ok, info} <-
           call(&Native.client_describe_activity(client.resource, id, run_id, self(), &1), 30_000) do
      times = [:last_heartbeat_time, :last_started_time, :schedule_time, :close_time]

      info =
        Enum.reduce(times, info, fn key, info ->
          Map.update!(info, key, &(&1 && DateTime.from_unix!(&1, :microsecond)))
        end)

      with {:ok, details} <- decode(client, info.heartbeat_details) do
        last_failure =
          info.last_failure &&
            PayloadCodec.decode_failure(client.payload_codec, info.last_failure)

        {:ok, %{info | heartbeat_details: details, last_failure: last_failure}}
      end
    end
  end

  ## Workflows

  @start_workflow_options [
    :id,
    :task_queue,
    :execution_timeout,
    :run_timeout,
    :task_timeout,
    :start_delay,
    :retry_policy,
    :id_reuse_policy,
    :id_conflict_policy,
    :cron_schedule,
    :memo,
    :search_attributes,
    :timeout
  ]

  # (The server's deprecated :terminate_if_running is `id_conflict_policy: :terminate_existing`.)
  @id_reuse_policies [:allow_duplicate, :allow_duplicate_failed_only, :reject_duplicate]
  @id_conflict_policies [:fail, :use_existing, :terminate_existing]

  @doc """
  Starts a workflow of type `workflow_type` with `args` (one payload each). Returns a
  `WorkflowHandle`.

  Options:

    * `:id` and `:task_queue` (required)
    * `:execution_timeout`, `:run_timeout`, `:task_timeout`, `:start_delay` (milliseconds)
    * `:retry_policy` (as for `start_activity/4`), `:cron_schedule`
    * `:id_reuse_policy` - whether the id of a *closed* workflow may start a new one:
      `:allow_duplicate` (the server's default), `:allow_duplicate_failed_only`,
      `:reject_duplicate`
    * `:id_conflict_policy` - when a workflow with the id is *running*: `:fail` (the server's
      default: `{:error, {:already_exists, message}}`), `:use_existing` (the handle of the
      running one), `:terminate_existing`
    * `:memo` - a map of names to values, stored with the workflow (through the payload
      codec, like the arguments)
    * `:search_attributes` - a map of names to values (strings, numbers, booleans, lists of
      strings, `DateTime`s) for attributes registered on the server; never encoded by the
      codec, so the server can index them
    * `:timeout` - for the call (default 30 s)

  `describe_workflow/2` shows the memo and search attributes.
  """
  @spec start_workflow(t(), String.t(), list(), keyword()) ::
          {:ok, WorkflowHandle.t()} | {:error, term()}
  def start_workflow(%__MODULE__{} = client, workflow_type, args, opts)
      when is_binary(workflow_type) and is_list(args) and is_list(opts),
      do: start(client, workflow_type, args, opts, %{})

  def start_workflow(client, workflow_type, args, opts),
    do:
      {:error,
       {:invalid_arguments,
        [client: client, workflow_type: workflow_type, args: args, opts: opts]}}

  @doc """
  Sends the signal `{name, signal_args}` to the running workflow with the id in `opts`, or
  starts it first (with `args`) when none is running, atomically. Takes the options of
  `start_workflow/4`; returns the handle of the run that got the signal.
  """
  @spec signal_with_start_workflow(t(), String.t(), list(), {String.t(), list()}, keyword()) ::
          {:ok, WorkflowHandle.t()} | {:error, term()}
  def signal_with_start_workflow(%__MODULE__{} = client, workflow_type, args, signal, opts)
      when is_binary(workflow_type) and is_list(args) and is_list(opts) do
    case signal do
      {name, signal_args} when is_binary(name) and name != "" and is_list(signal_args) ->
        with {:ok, input} <- encode(client, signal_args),
             do:
               start(client, workflow_type, args, opts, %{signal_name: name, signal_input: input})

      other ->
        {:error, {:invalid_signal, other}}
    end
  end

  def signal_with_start_workflow(client, workflow_type, args, signal, opts),
    do:
      {:error,
       {:invalid_arguments,
        [client: client, workflow_type: workflow_type, args: args, signal: signal, opts: opts]}}

  defp start(client, workflow_type, args, opts, signal) do
    timeouts = [:execution_timeout, :run_timeout, :task_timeout, :start_delay]

    with :ok <- known_options(opts, @start_workflow_options),
         :ok <- required_text(opts, [:id, :task_queue]),
         :ok <- milliseconds(opts, timeouts),
         :ok <- one_of(opts, :id_reuse_policy, @id_reuse_policies),
         :ok <- one_of(opts, :id_conflict_policy, @id_conflict_policies),
         :ok <- optional_text(opts, :cron_schedule),
         {:ok, retry_policy} <- retry_policy(Keyword.get(opts, :retry_policy)),
         {:ok, memo} <- memo(client, Keyword.get(opts, :memo, %{})),
         {:ok, search_attributes} <-
           search_attributes(Keyword.get(opts, :search_attributes, %{})),
         {:ok, input} <- encode(client, args) do
      request =
        opts
        |> Keyword.take(timeouts ++ [:id_reuse_policy, :id_conflict_policy, :cron_schedule])
        |> Map.new()
        |> Map.merge(signal)
        |> Map.merge(%{
          workflow_id: opts[:id],
          workflow_type: workflow_type,
          task_queue: opts[:task_queue],
          input: input,
          retry_policy: retry_policy,
          memo: memo,
          search_attributes: search_attributes,
          request_id: uuid()
        })

      with {:ok, run_id} <-
             call(
               &Native.client_start_workflow(client.resource, request, self(), &1),
               Keyword.get(opts, :timeout, 30_000)
             ),
           do: {:ok, %WorkflowHandle{workflow_id: opts[:id], run_id: run_id}}
    end
  end

  defp one_of(opts, key, allowed) do
    case Keyword.fetch(opts, key) do
      :error ->
        :ok

      {:ok, value} ->
        if value in allowed, do: :ok, else: invalid(key, "must be one of #{inspect(allowed)}")
    end
  end

  defp optional_text(opts, key) do
    case Keyword.fetch(opts, key) do
      :error -> :ok
      {:ok, value} -> if text?(value), do: :ok, else: invalid(key, "must be a string")
    end
  end

  defp invalid(key, message), do: {:error, {:invalid_option, key, message}}

  # Names as strings; the values through the codec, like every other payload of the workflow.
  defp memo(client, memo) when is_map(memo) do
    with {:ok, names} <- names(:memo, memo),
         {:ok, values} <- encode(client, Map.values(memo)),
         do: {:ok, Map.new(Enum.zip(names, values))}
  end

  defp memo(_client, _memo), do: invalid(:memo, "must be a map of names to values")

  defp search_attributes(attributes) do
    case Hourglass.SearchAttributes.normalize(attributes) do
      {:ok, normalized} -> {:ok, normalized}
      {:error, message} -> invalid(:search_attributes, message)
    end
  end

  defp names(key, map) do
    names = Enum.map(Map.keys(map), &Hourglass.SearchAttributes.name/1)

    if Enum.all?(names, &match?({:ok, _}, &1)),
      do: {:ok, Enum.map(names, fn {:ok, name} -> name end)},
      else: invalid(key, "names must be non-empty strings or atoms")
  end

  @doc """
  Starts a workflow and waits for its result: `start_workflow/4` then `workflow_result/3`.
  """
  @spec execute_workflow(t(), String.t(), list(), keyword()) :: {:ok, term()} | {:error, term()}
  def execute_workflow(client, workflow_type, args, opts) do
    with {:ok, handle} <- start_workflow(client, workflow_type, args, opts),
         do: workflow_result(client, handle, Keyword.take(opts, [:timeout]))
  end

  @doc """
  Waits for the workflow to close, following its continue-as-new runs: `{:ok, value}` or
  `{:error, reason}` with the reasons `result/3` gives (`{:failed, %ApplicationError{}}`,
  `{:cancelled, details}`, `{:terminated, reason}`, `{:timed_out, :workflow}`, a refused
  call, `:timeout`), or `{:failed, %Hourglass.ActivityError{}}` /
  `{:failed, %Hourglass.ChildWorkflowError{}}` for a workflow that failed with an activity's or
  a child's error (its cause inside, in the same shapes). Option `:timeout` (default
  `:infinity`).
  """
  @spec workflow_result(t(), workflow(), keyword()) :: {:ok, term()} | {:error, term()}
  def workflow_result(%__MODULE__{} = client, workflow, opts \\ []) do
    with {:ok, ids} <- workflow_ids(workflow) do
      fetch = &Native.client_workflow_result(client.resource, ids, self(), &1)
      fetch |> call(Keyword.get(opts, :timeout, :infinity)) |> decode_outcome(client)
    end
  end

  @doc "Sends the signal `name` with `args` to the workflow."
  @spec signal_workflow(t(), workflow(), String.t(), list()) :: :ok | {:error, term()}
  def signal_workflow(%__MODULE__{} = client, workflow, name, args)
      when is_binary(name) and is_list(args) do
    with {:ok, ids} <- workflow_ids(workflow),
         {:ok, input} <- encode(client, args) do
      request = Map.merge(ids, %{name: name, input: input, request_id: uuid()})
      call(&Native.client_signal_workflow(client.resource, request, self(), &1), 30_000)
    end
  end

  @doc """
  Queries the workflow: `{:ok, value}`, or `{:error, {code, message}}` from the server (an
  unknown query, a handler's error, a workflow that does not exist).
  """
  @spec query_workflow(t(), workflow(), String.t(), list()) :: {:ok, term()} | {:error, term()}
  def query_workflow(%__MODULE__{} = client, workflow, name, args \\ [])
      when is_binary(name) and is_list(args) do
    with {:ok, ids} <- workflow_ids(workflow),
         {:ok, arguments} <- encode(client, args) do
      request = Map.merge(ids, %{name: name, arguments: arguments})

      query = &Native.client_query_workflow(client.resource, request, self(), &1)
      query |> call(30_000) |> decode_outcome(client)
    end
  end

  @doc """
  Sends the update `name` with `args` and waits for its answer: `{:ok, value}`, or
  `{:error, {:failed, %ApplicationError{}}}` when the workflow's validator rejected it or its
  handler failed. Options: `:update_id` (default: a new UUID; the same id is the same update,
  so a retried call does not update twice) and `:timeout` (default `:infinity`).
  """
  @spec execute_update(t(), workflow(), String.t(), list(), keyword()) ::
          {:ok, term()} | {:error, term()}
  def execute_update(%__MODULE__{} = client, workflow, name, args, opts \\ [])
      when is_binary(name) and is_list(args) and is_list(opts) do
    with {:ok, request} <- update_request(client, workflow, name, args, opts) do
      update = &Native.client_update_workflow(client.resource, request, self(), &1)
      update |> call(Keyword.get(opts, :timeout, :infinity)) |> decode_outcome(client)
    end
  end

  @doc """
  Sends the update `name` with `args` and returns once the workflow accepted it:
  `{:ok, %UpdateHandle{}}` for `update_result/3`, or `{:error, {:failed, %ApplicationError{}}}`
  when its validator rejected it. Options as for `execute_update/5`.
  """
  @spec start_update(t(), workflow(), String.t(), list(), keyword()) ::
          {:ok, UpdateHandle.t()} | {:error, term()}
  def start_update(%__MODULE__{} = client, workflow, name, args, opts \\ [])
      when is_binary(name) and is_list(args) and is_list(opts) do
    with {:ok, request} <- update_request(client, workflow, name, args, opts) do
      request = %{request | until_accepted: true}
      update = &Native.client_update_workflow(client.resource, request, self(), &1)
      handle = struct!(UpdateHandle, Map.take(request, [:workflow_id, :run_id, :update_id]))

      case call(update, Keyword.get(opts, :timeout, :infinity)) do
        :accepted -> {:ok, handle}
        # Completed as it was accepted: the handler answered in the same workflow task.
        {:ok, _value} -> {:ok, handle}
        other -> decode_outcome(other, client)
      end
    end
  end

  @doc """
  Waits for an accepted update's answer, as `execute_update/5` does. Option `:timeout`
  (default `:infinity`).
  """
  @spec update_result(t(), UpdateHandle.t(), keyword()) :: {:ok, term()} | {:error, term()}
  def update_result(%__MODULE__{} = client, %UpdateHandle{} = handle, opts \\ []) do
    request = %{
      workflow_id: handle.workflow_id,
      run_id: handle.run_id,
      update_id: handle.update_id,
      until_accepted: false
    }

    update = &Native.client_update_workflow(client.resource, request, self(), &1)
    update |> call(Keyword.get(opts, :timeout, :infinity)) |> decode_outcome(client)
  end

  defp update_request(client, workflow, name, args, opts) do
    update_id = Keyword.get(opts, :update_id, uuid())

    with :ok <- known_options(opts, [:update_id, :timeout]),
         :ok <- required_text([update_id: update_id], [:update_id]),
         {:ok, ids} <- workflow_ids(workflow),
         {:ok, input} <- encode(client, args) do
      {:ok,
       Map.merge(ids, %{update_id: update_id, name: name, args: input, until_accepted: false})}
    end
  end

  @doc """
  The run's whole history (a workflow id: its latest run's), for `Hourglass.Replayer`:
  `{:ok, %Hourglass.WorkflowHistory{}}`.
  """
  @spec fetch_history(t(), workflow()) :: {:ok, Hourglass.WorkflowHistory.t()} | {:error, term()}
  def fetch_history(%__MODULE__{} = client, workflow) do
    with {:ok, ids} <- workflow_ids(workflow),
         {:ok, data} <-
           call(&Native.client_fetch_history(client.resource, ids, self(), &1), 60_000),
         do: {:ok, Hourglass.WorkflowHistory.from_protobuf(data, ids.workflow_id)}
  end

  @doc "Asks the workflow to cancel; its code decides how (see `Hourglass.Workflow`)."
  @spec cancel_workflow(t(), workflow(), String.t()) :: :ok | {:error, term()}
  def cancel_workflow(%__MODULE__{} = client, workflow, reason \\ "") when is_binary(reason) do
    with {:ok, ids} <- workflow_ids(workflow) do
      request = Map.merge(ids, %{reason: reason, request_id: uuid()})
      call(&Native.client_cancel_workflow(client.resource, request, self(), &1), 30_000)
    end
  end

  @doc "Ends the workflow at once, without running its code."
  @spec terminate_workflow(t(), workflow(), String.t()) :: :ok | {:error, term()}
  def terminate_workflow(%__MODULE__{} = client, workflow, reason \\ "")
      when is_binary(reason) do
    with {:ok, ids} <- workflow_ids(workflow) do
      request = Map.put(ids, :reason, reason)
      call(&Native.client_terminate_workflow(client.resource, request, self(), &1), 30_000)
    end
  end

  @doc """
  What the server knows of the workflow's run: a map with `:workflow_id`, `:run_id`,
  `:workflow_type`, `:status` (`:running`, `:completed`, `:failed`, `:cancelled`,
  `:terminated`, `:continued_as_new`, `:timed_out`), `:task_queue`, `:history_length`,
  `:start_time` / `:close_time` as `DateTime`s (nil while open), `:memo` and
  `:search_attributes` (maps of names to values; a date-time attribute as its ISO 8601 text).
  """
  @spec describe_workflow(t(), workflow()) :: {:ok, map()} | {:error, term()}
  def describe_workflow(%__MODULE__{} = client, workflow) do
    with {:ok, ids} <- workflow_ids(workflow),
         {:ok, info} <-
           call(&Native.client_describe_workflow(client.resource, ids, self(), &1), 30_000) do
      info =
        Enum.reduce([:start_time, :close_time], info, fn key, info ->
          Map.update!(info, key, &(&1 && DateTime.from_unix!(&1, :microsecond)))
        end)

      with {:ok, values} <- decode(client, Map.values(info.memo)),
           do: {:ok, %{info | memo: Map.new(Enum.zip(Map.keys(info.memo), values))}}
    end
  end

  defp workflow_ids(%WorkflowHandle{workflow_id: id, run_id: run_id} = handle) do
    if text?(id) and id != "" and text?(run_id),
      do: {:ok, %{workflow_id: id, run_id: run_id}},
      else: {:error, {:invalid_workflow, handle}}
  end

  defp workflow_ids(id) when is_binary(id) and id != "" do
    if text?(id),
      do: {:ok, %{workflow_id: id, run_id: ""}},
      else: {:error, {:invalid_workflow, id}}
  end

  defp workflow_ids(other), do: {:error, {:invalid_workflow, other}}

  defp required_text(opts, keys) do
    case Enum.find(keys, &(not (text?(opts[&1]) and opts[&1] != ""))) do
      nil -> :ok
      key -> {:error, {:invalid_option, key, "is required and must be a non-empty string"}}
    end
  end

  defp milliseconds(opts, keys) do
    case Enum.find(
           keys,
           &(Keyword.has_key?(opts, &1) and not (is_integer(opts[&1]) and opts[&1] >= 0))
         ) do
      nil -> :ok
      key -> {:error, {:invalid_option, key, "must be a non-negative integer of milliseconds"}}
    end
  end

  @typedoc """
  An attempt left open by `Hourglass.Activity.complete_async/0`: its task token
  (`Hourglass.Activity.info().task_token`, a binary), or the ids of the activity as a map with
  `:activity_id` and, for an activity of a workflow, `:workflow_id` (and `:run_id`, default: the
  latest run), or the `ActivityHandle` of a Standalone Activity.
  """
  @type async_target ::
          binary()
          | ActivityHandle.t()
          | %{
              required(:activity_id) => String.t(),
              optional(:workflow_id) => String.t(),
              optional(:run_id) => String.t()
            }

  @doc """
  Completes an asynchronously completed activity (see `Hourglass.Activity.complete_async/0`)
  with `result`. Returns `{:error, {:not_found, message}}` when the server has no such open
  attempt (an unknown token, or an attempt already completed or timed out).
  """
  @spec complete_activity(t(), async_target(), term()) :: :ok | {:error, term()}
  def complete_activity(%__MODULE__{} = client, target, result) do
    with {:ok, [payload]} <- encode(client, [result]),
         do: respond_async(client, target, {:completed, payload})
  end

  @doc """
  Fails an asynchronously completed activity. `error` is an `Hourglass.ApplicationError` (its
  type, message, details, `non_retryable` and `next_retry_delay` reach the caller's retry
  policy, as from a worker) or a message. The server retries the activity as usual.
  """
  @spec fail_activity(t(), async_target(), Hourglass.ApplicationError.t() | String.t()) ::
          :ok | {:error, term()}
  def fail_activity(%__MODULE__{} = client, target, %Hourglass.ApplicationError{} = error) do
    with {:ok, details} <- encode(client, error.details),
         do: respond_async(client, target, {:failed, %{error | details: details}})
  end

  def fail_activity(%__MODULE__{} = client, target, message) when is_binary(message),
    do:
      fail_activity(client, target, %Hourglass.ApplicationError{type: "Error", message: message})

  def fail_activity(%__MODULE__{}, _target, other),
    do: {:error, {:invalid_argument, "not an ApplicationError or a message: #{inspect(other)}"}}

  @doc """
  Reports an asynchronously completed activity cancelled, with `details`: the answer to a
  cancellation request seen in `heartbeat_activity/3`.
  """
  @spec report_activity_cancellation(t(), async_target(), term()) :: :ok | {:error, term()}
  def report_activity_cancellation(%__MODULE__{} = client, target, details \\ nil) do
    with {:ok, [payload]} <- encode(client, [details]),
         do: respond_async(client, target, {:cancelled, payload})
  end

  @doc """
  Records a heartbeat for an asynchronously completed activity, with `details` if given (the
  next attempt finds them in `info().heartbeat_details`). Returns
  `{:ok, %{cancel_requested: boolean, paused: boolean, reset: boolean}}`: when
  `cancel_requested` is true, stop the work and call `report_activity_cancellation/3`.
  """
  @spec heartbeat_activity(t(), async_target()) :: {:ok, map()} | {:error, term()}
  @spec heartbeat_activity(t(), async_target(), term()) :: {:ok, map()} | {:error, term()}
  def heartbeat_activity(client, target), do: heartbeat_async(client, target, [])

  def heartbeat_activity(client, target, details),
    do: heartbeat_async(client, target, [details])

  defp respond_async(client, target, outcome) do
    with {:ok, target} <- async_target(target) do
      call(&Native.client_respond_async(client.resource, target, outcome, self(), &1), 30_000)
    end
  end

  defp heartbeat_async(%__MODULE__{} = client, target, details) do
    with {:ok, target} <- async_target(target),
         {:ok, details} <- encode(client, details) do
      call(&Native.client_heartbeat_async(client.resource, target, details, self(), &1), 30_000)
    end
  end

  defp async_target(token) when is_binary(token) and token != "", do: {:ok, {:token, token}}

  defp async_target(%ActivityHandle{activity_id: id, run_id: run_id}),
    do: {:ok, {:ids, "", run_id, id}}

  defp async_target(%{activity_id: id} = ids) when is_binary(id) and id != "" do
    workflow_id = Map.get(ids, :workflow_id) || ""
    run_id = Map.get(ids, :run_id) || ""

    if is_binary(workflow_id) and is_binary(run_id),
      do: {:ok, {:ids, workflow_id, run_id, id}},
      else: {:error, {:invalid_target, ids}}
  end

  defp async_target(other), do: {:error, {:invalid_target, other}}

  defp encode(client, values) do
    case PayloadCodec.encode_values(client.payload_codec, values) do
      {:ok, encoded} -> {:ok, encoded}
      {:error, message} -> {:error, {:payload_codec, message}}
    end
  end

  defp decode(client, payloads) do
    case PayloadCodec.decode_values(client.payload_codec, payloads) do
      {:ok, values} -> {:ok, values}
      {:error, message} -> {:error, {:payload_codec, message}}
    end
  end

  # Ids reach the NIF as strings: anything else is refused here, with the caller's own value in
  # the error. The NIF checks them again only so that a direct call never raises.
  defp identify(%ActivityHandle{activity_id: id, run_id: run_id} = handle) do
    if text?(id) and id != "" and text?(run_id),
      do: {:ok, id, run_id},
      else: {:error, {:invalid_activity, handle}}
  end

  defp identify(id) when is_binary(id) and id != "" do
    if text?(id), do: {:ok, id, ""}, else: {:error, {:invalid_activity, id}}
  end

  defp identify(other), do: {:error, {:invalid_activity, other}}

  defp text?(value), do: is_binary(value) and String.valid?(value)

  defp known_options(opts, known) do
    case Keyword.keys(opts) -- known do
      [] ->
        :ok

      [key | _] ->
        {:error,
         {:invalid_option, key, "#{inspect(key)} is not a known option; known: #{inspect(known)}"}}
    end
  end

  # Makes an asynchronous NIF call and waits for its answer.
  # Each NIF call returns `{:ok, pending}` and answers later with a message. The work stops,
  # and no answer comes, once `pending` is abandoned: at a timeout here, or when this process
  # dies (the resource is freed with its heap). `pending` stays live while the receive waits:
  # its `after` clause uses it.
  defp call(fun, timeout) do
    ref = make_ref()

    case fun.(ref) do
      {:ok, pending} ->
        receive do
          {:"$hourglass_client_reply", ^ref, answer} -> Native.resolve(answer)
        after
          timeout ->
            :ok = Native.client_abandon(pending)
            # An answer sent before the abandonment may be here already.
            receive do
              {:"$hourglass_client_reply", ^ref, _answer} -> :ok
            after
              0 -> :ok
            end

            {:error, :timeout}
        end

      {:error, {:payload_too_large, _message} = too_large} ->
        {:error, too_large}

      {:error, message} ->
        {:error, {:invalid_argument, message}}
    end
  end

  defp uuid do
    <<a::32, b::16, c::16, d::16, e::48>> = :crypto.strong_rand_bytes(16)
    c = Bitwise.bor(Bitwise.band(c, 0x0FFF), 0x4000)
    d = Bitwise.bor(Bitwise.band(d, 0x3FFF), 0x8000)

    [a, b, c, d, e]
    |> Enum.zip([8, 4, 4, 4, 12])
    |> Enum.map_join("-", fn {value, width} ->
      value |> Integer.to_string(16) |> String.downcase() |> String.pad_leading(width, "0")
    end)
  end
end
