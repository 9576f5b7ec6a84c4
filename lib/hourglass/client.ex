defmodule Hourglass.Client do
  @moduledoc """
  A Temporal client for Standalone Activities — activities started on their own, without a
  workflow — over the same Rust core as the worker.

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

  alias Hourglass.Native

  @enforce_keys [:resource, :namespace, :address]
  defstruct [:resource, :namespace, :address, :identity]

  @type t :: %__MODULE__{
          resource: reference(),
          namespace: String.t(),
          address: String.t(),
          identity: String.t()
        }

  defmodule ActivityHandle do
    @moduledoc "A started Standalone Activity: its id and the run the start created."
    @enforce_keys [:activity_id, :run_id]
    defstruct [:activity_id, :run_id]
    @type t :: %__MODULE__{activity_id: String.t(), run_id: String.t()}
  end

  @typedoc "An activity to act on: a handle, or an activity id (its latest run)."
  @type activity :: ActivityHandle.t() | String.t()

  @doc """
  Connects to a Temporal server.

  Options: `:address` (default `"localhost:7233"`), `:namespace` (default `"default"`),
  `:identity`, `:tls`, `:api_key` and `:connect_timeout`, as for `Hourglass.Worker`.
  Returns `{:error, {:unavailable, message}}` when the server cannot be reached.
  """
  @spec connect(keyword()) :: {:ok, t()} | {:error, term()}
  def connect(opts \\ []) do
    with {:ok, options} <- validate_connect(opts) do
      settings =
        Map.take(options, [:address, :namespace, :identity, :tls, :api_key, :connect_timeout])

      case call(&Native.client_connect(settings, self(), &1), options.connect_timeout + 20_000) do
        {:ok, resource} ->
          {:ok,
           %__MODULE__{
             resource: resource,
             namespace: options.namespace,
             address: options.address,
             identity: options.identity
           }}

        error ->
          error
      end
    end
  end

  defp validate_connect(opts) when is_list(opts) do
    # The worker's validation, with a placeholder activity: the connection options are shared.
    worker_opts =
      [task_queue: "client", native_activities: ["hourglass.echo"]] ++
        Keyword.take(opts, [:address, :namespace, :identity, :tls, :api_key, :connect_timeout])

    case Keyword.keys(opts) -- [:address, :namespace, :identity, :tls, :api_key, :connect_timeout] do
      [] -> Hourglass.Worker.Options.validate(worker_opts)
      [key | _] -> {:error, {:invalid_option, key, "#{inspect(key)} is not a client option"}}
    end
  end

  defp validate_connect(other),
    do: {:error, {:invalid_option, :options, "must be a keyword list, got: #{inspect(other)}"}}

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

  @doc "Waits for the activity to close; see \"Results\" above. Option `:timeout` (default `:infinity`)."
  @spec result(t(), activity(), keyword()) :: {:ok, term()} | {:error, term()}
  def result(%__MODULE__{} = client, activity, opts \\ []) do
    with {:ok, id, run_id} <- identify(activity) do
      call(
        &Native.client_activity_result(client.resource, id, run_id, self(), &1),
        Keyword.get(opts, :timeout, :infinity)
      )
    end
  end

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

      {:ok,
       Enum.reduce(times, info, fn key, info ->
         Map.update!(info, key, &(&1 && DateTime.from_unix!(&1, :microsecond)))
       end)}
    end
  end

  defp identify(%ActivityHandle{activity_id: id, run_id: run_id}), do: {:ok, id, run_id}
  defp identify(id) when is_binary(id) and id != "", do: {:ok, id, ""}
  defp identify(other), do: {:error, {:invalid_activity, other}}

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
  defp call(fun, timeout) do
    ref = make_ref()

    case fun.(ref) do
      :ok ->
        receive do
          {:"$hourglass_client_reply", ^ref, answer} -> answer
        after
          timeout -> {:error, :timeout}
        end

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
