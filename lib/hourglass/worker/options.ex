defmodule Hourglass.Worker.Options do
  @moduledoc """
  Validates `Hourglass.Worker` options up front, so a mistake is a clear error at start rather
  than a surprise later. See `Hourglass.Worker` for the options themselves.
  """

  alias Hourglass.Secret

  @type t :: %{
          task_queue: String.t(),
          activities: [module()],
          native_activities: [String.t()],
          workflows: [module()],
          max_cached_workflows: non_neg_integer(),
          max_concurrent_workflow_tasks: pos_integer(),
          deadlock_timeout: pos_integer() | :infinity,
          workflow_failure_exception_types: [module()],
          address: String.t(),
          namespace: String.t(),
          identity: String.t(),
          max_concurrent_activities: pos_integer(),
          graceful_shutdown_timeout: non_neg_integer(),
          cancel_grace_period: non_neg_integer(),
          max_activities_per_second: number() | nil,
          max_task_queue_activities_per_second: number() | nil,
          tls: map() | nil,
          api_key: Secret.t() | nil,
          metrics_address: String.t() | nil,
          connect_timeout: pos_integer(),
          grpc_compression: :gzip | :none,
          payload_codec: {module(), term()} | nil,
          payload_size_limit: pos_integer(),
          require_connection: boolean(),
          name: GenServer.name() | nil
        }

  # The Temporal server's default limit.blobSize.error.
  @default_payload_size_limit 2 * 1024 * 1024

  @known [
    :task_queue,
    :activities,
    :native_activities,
    :workflows,
    :max_cached_workflows,
    :max_concurrent_workflow_tasks,
    :deadlock_timeout,
    :workflow_failure_exception_types,
    :address,
    :namespace,
    :identity,
    :max_concurrent_activities,
    :graceful_shutdown_timeout,
    :cancel_grace_period,
    :max_activities_per_second,
    :max_task_queue_activities_per_second,
    :tls,
    :api_key,
    :metrics_address,
    :connect_timeout,
    :grpc_compression,
    :payload_codec,
    :payload_size_limit,
    :require_connection,
    :name
  ]

  @doc """
  Returns the options as a map with defaults filled in, or
  `{:error, {:invalid_option, key, message}}` for the first bad one.
  """
  @spec validate(term()) :: {:ok, t()} | {:error, {:invalid_option, atom(), String.t()}}
  def validate(opts) when is_list(opts) do
    if Keyword.keyword?(opts),
      do: do_validate(opts),
      else: invalid(:options, "must be a keyword list", opts)
  end

  def validate(opts), do: invalid(:options, "must be a keyword list", opts)

  defp do_validate(opts) do
    with :ok <- unknown_keys(opts),
         {:ok, task_queue} <-
           fetch(opts, :task_queue, nil, &non_empty_string?/1, "must be a non-empty string"),
         {:ok, activities} <-
           fetch(
             opts,
             :activities,
             [],
             &activity_modules?/1,
             "must be a list of modules that use Hourglass.Activity"
           ),
         {:ok, natives} <-
           fetch(
             opts,
             :native_activities,
             [],
             &native_types?/1,
             "must be a list of names from Hourglass.Native.activity_types/0 (#{inspect(safe_native_types())})"
           ),
         {:ok, workflows} <-
           fetch(
             opts,
             :workflows,
             [],
             &workflow_modules?/1,
             "must be a list of modules that use Hourglass.Workflow, with distinct names"
           ),
         :ok <- serves_something(activities, natives, workflows),
         {:ok, max_cached} <-
           fetch(
             opts,
             :max_cached_workflows,
             1_000,
             &non_neg_integer?/1,
             "must be a non-negative integer"
           ),
         {:ok, max_workflow_tasks} <-
           fetch(
             opts,
             :max_concurrent_workflow_tasks,
             100,
             &pos_integer?/1,
             "must be a positive integer"
           ),
         {:ok, deadlock_timeout} <-
           fetch(
             opts,
             :deadlock_timeout,
             2_000,
             &(&1 == :infinity or pos_integer?(&1)),
             "must be a positive integer of milliseconds, or :infinity"
           ),
         {:ok, failure_exception_types} <-
           fetch(
             opts,
             :workflow_failure_exception_types,
             [],
             &(is_list(&1) and
                 Enum.all?(&1, fn type -> Hourglass.Workflow.exception_module?(type) end)),
             "must be a list of exception modules"
           ),
         {:ok, address} <-
           fetch(
             opts,
             :address,
             "localhost:7233",
             &non_empty_string?/1,
             "must be a \"host:port\" string"
           ),
         {:ok, namespace} <-
           fetch(opts, :namespace, "default", &non_empty_string?/1, "must be a non-empty string"),
         {:ok, identity} <-
           fetch(
             opts,
             :identity,
             default_identity(),
             &non_empty_string?/1,
             "must be a non-empty string"
           ),
         {:ok, max} <-
           fetch(
             opts,
             :max_concurrent_activities,
             100,
             &pos_integer?/1,
             "must be a positive integer"
           ),
         {:ok, grace} <-
           fetch(
             opts,
             :graceful_shutdown_timeout,
             10_000,
             &non_neg_integer?/1,
             "must be a non-negative integer of milliseconds"
           ),
         {:ok, cancel_grace} <-
           fetch(
             opts,
             :cancel_grace_period,
             5_000,
             &non_neg_integer?/1,
             "must be a non-negative integer of milliseconds"
           ),
         {:ok, rate} <-
           fetch(
             opts,
             :max_activities_per_second,
             nil,
             &optional_rate?/1,
             "must be a positive number or nil"
           ),
         {:ok, queue_rate} <-
           fetch(
             opts,
             :max_task_queue_activities_per_second,
             nil,
             &optional_rate?/1,
             "must be a positive number or nil"
           ),
         {:ok, tls} <- tls(Keyword.get(opts, :tls, false)),
         {:ok, api_key} <-
           fetch(
             opts,
             :api_key,
             nil,
             &(is_nil(&1) or non_empty_string?(Secret.reveal(&1))),
             "must be a string or nil"
           ),
         {:ok, metrics} <-
           fetch(
             opts,
             :metrics_address,
             nil,
             &(is_nil(&1) or ip_port?(&1)),
             "must be an \"ip:port\" string, e.g. \"127.0.0.1:9464\""
           ),
         {:ok, connect_timeout} <-
           fetch(
             opts,
             :connect_timeout,
             10_000,
             &pos_integer?/1,
             "must be a positive integer of milliseconds"
           ),
         {:ok, grpc_compression} <-
           fetch(
             opts,
             :grpc_compression,
             :gzip,
             &(&1 in [:gzip, :none]),
             "must be :gzip or :none"
           ),
         {:ok, codec} <- payload_codec(opts),
         {:ok, payload_size_limit} <-
           fetch(
             opts,
             :payload_size_limit,
             @default_payload_size_limit,
             &pos_integer?/1,
             "must be a positive integer of bytes"
           ),
         {:ok, require_connection} <-
           fetch(opts, :require_connection, false, &is_boolean/1, "must be true or false") do
      {:ok,
       %{
         task_queue: task_queue,
         activities: activities,
         native_activities: natives,
         workflows: workflows,
         max_cached_workflows: max_cached,
         max_concurrent_workflow_tasks: max_workflow_tasks,
         deadlock_timeout: deadlock_timeout,
         workflow_failure_exception_types: failure_exception_types,
         address: address,
         namespace: namespace,
         identity: identity,
         max_concurrent_activities: max,
         graceful_shutdown_timeout: grace,
         cancel_grace_period: cancel_grace,
         max_activities_per_second: rate && rate / 1,
         max_task_queue_activities_per_second: queue_rate && queue_rate / 1,
         tls: tls,
         api_key: api_key && Secret.wrap(api_key),
         metrics_address: metrics,
         connect_timeout: connect_timeout,
         grpc_compression: grpc_compression,
         payload_codec: codec,
         payload_size_limit: payload_size_limit,
         require_connection: require_connection,
         name: Keyword.get(opts, :name)
       }}
    end
  end

  defp payload_codec(opts) do
    case Hourglass.PayloadCodec.validate(Keyword.get(opts, :payload_codec)) do
      {:ok, {module, options}} -> {:ok, {module, Secret.wrap(options)}}
      {:ok, nil} -> {:ok, nil}
      {:error, message} -> invalid(:payload_codec, message, Keyword.get(opts, :payload_codec))
    end
  end

  @doc """
  The options with their secrets (`:api_key`, the TLS `:client_private_key`, the payload
  codec's options) wrapped in `Hourglass.Secret`, so that whatever keeps or prints them (a child
  spec, a supervisor's report) never shows them. Anything malformed is left for `validate/1`
  to refuse.
  """
  @spec conceal(keyword()) :: keyword()
  def conceal(opts) when is_list(opts) do
    Enum.map(opts, fn
      {:api_key, key} when is_binary(key) -> {:api_key, Secret.wrap(key)}
      {:tls, tls} when is_list(tls) -> {:tls, conceal_tls_list(tls)}
      {:payload_codec, {module, options}} -> {:payload_codec, {module, Secret.wrap(options)}}
      other -> other
    end)
  end

  def conceal(opts), do: opts

  defp conceal_tls({:client_private_key, key}), do: {:client_private_key, Secret.wrap(key)}
  defp conceal_tls(other), do: other

  @doc """
  The connection settings the NIF takes, secrets revealed: they leave the BEAM here, and only
  here.
  """
  @spec nif_settings(t(), [atom()]) :: map()
  def nif_settings(options, keys) do
    options
    |> Map.take(keys)
    |> Map.update(:api_key, nil, &Secret.reveal/1)
    |> Map.update(:tls, nil, fn
      nil -> nil
      tls -> Map.new(tls, fn {key, value} -> {key, Secret.reveal(value)} end)
    end)
  end

  defp unknown_keys(opts) do
    case Keyword.keys(opts) -- @known do
      [] ->
        :ok

      [key | _] ->
        invalid(key, "is not a known option; known: #{inspect(@known)}", Keyword.get(opts, key))
    end
  end

  defp fetch(opts, key, default, valid?, expected) do
    case Keyword.fetch(opts, key) do
      {:ok, value} -> if valid?.(value), do: {:ok, value}, else: invalid(key, expected, value)
      :error when is_nil(default) and key == :task_queue -> invalid(key, "is required", nil)
      :error -> {:ok, default}
    end
  end

  defp serves_something([], [], []),
    do:
      invalid(
        :activities,
        ", :native_activities and :workflows are all empty: the worker would serve nothing",
        []
      )

  defp serves_something(_, _, _), do: :ok

  defp workflow_modules?(modules) do
    is_list(modules) and
      Enum.all?(modules, fn module ->
        is_atom(module) and Code.ensure_loaded?(module) and
          function_exported?(module, :__workflow_name__, 0)
      end) and
      modules |> Enum.map(& &1.__workflow_name__()) |> Enum.uniq() |> length() ==
        length(modules)
  end

  defp tls(false), do: {:ok, nil}
  defp tls(nil), do: {:ok, nil}
  defp tls(true), do: {:ok, %{}}

  defp tls(opts) when is_list(opts) do
    allowed = [:server_ca_cert, :server_name, :client_cert, :client_private_key]

    cond do
      not Keyword.keyword?(opts) or Keyword.keys(opts) -- allowed != [] ->
        invalid(:tls, "must be true, false or a keyword list of #{inspect(allowed)}", opts)

      not Enum.all?(opts, fn {_key, value} -> is_binary(Secret.reveal(value)) end) ->
        invalid(:tls, "values must be strings (PEM for certificates and keys)", opts)

      Keyword.has_key?(opts, :client_cert) != Keyword.has_key?(opts, :client_private_key) ->
        invalid(:tls, "needs both :client_cert and :client_private_key, or neither", opts)

      true ->
        {:ok, opts |> conceal_tls_list() |> Map.new()}
    end
  end

  defp tls(other), do: invalid(:tls, "must be true, false or a keyword list", other)

  defp conceal_tls_list(opts), do: Enum.map(opts, &conceal_tls/1)

  defp invalid(key, message, value) do
    {:error, {:invalid_option, key, "#{inspect(key)} #{message}, got: #{describe(key, value)}"}}
  end

  # Options that hold secrets are described, never shown.
  defp describe(:api_key, value), do: "a value of type #{type_of(value)}"

  defp describe(:tls, value) when is_list(value),
    do: "a list of #{inspect(Enum.map(value, &tls_entry_name/1))}"

  defp describe(:tls, value), do: "a value of type #{type_of(value)}"

  defp describe(:payload_codec, {module, _options}),
    do: "{#{inspect(module)}, options (not shown)}"

  defp describe(:payload_codec, value) when is_atom(value), do: inspect(value)
  defp describe(:payload_codec, value), do: "a value of type #{type_of(value)}"
  defp describe(:options, value) when is_list(value), do: "a list, not a keyword list"
  defp describe(:options, value), do: "a value of type #{type_of(value)}"
  defp describe(_key, value), do: inspect(value, limit: 5)

  defp tls_entry_name({key, _value}) when is_atom(key), do: key
  defp tls_entry_name(_entry), do: :not_a_pair

  defp type_of(value) when is_binary(value), do: "string"
  defp type_of(value) when is_integer(value), do: "integer"
  defp type_of(value) when is_atom(value), do: "atom"
  defp type_of(value) when is_list(value), do: "list"
  defp type_of(value) when is_tuple(value), do: "tuple"
  defp type_of(value) when is_map(value), do: "map"
  defp type_of(_value), do: "other"

  defp non_empty_string?(value), do: is_binary(value) and value != "" and String.valid?(value)
  defp pos_integer?(value), do: is_integer(value) and value > 0
  defp non_neg_integer?(value), do: is_integer(value) and value >= 0
  defp optional_rate?(value), do: is_nil(value) or (is_number(value) and value > 0)

  defp ip_port?(value) do
    with true <- is_binary(value),
         [ip, port] <- String.split(value, ":", parts: 2),
         {:ok, _} <- :inet.parse_address(String.to_charlist(ip)),
         {port, ""} when port in 0..65_535 <- Integer.parse(port) do
      true
    else
      _ -> false
    end
  end

  defp activity_modules?(modules) do
    is_list(modules) and
      Enum.all?(modules, &(is_atom(&1) and is_binary(Hourglass.Activity.name(&1))))
  end

  defp native_types?(names) do
    is_list(names) and Enum.all?(names, &(&1 in safe_native_types()))
  end

  defp safe_native_types do
    Hourglass.Native.activity_types()
  rescue
    _ -> []
  end

  defp default_identity do
    {:ok, host} = :inet.gethostname()
    "#{System.pid()}@#{host}"
  end
end
