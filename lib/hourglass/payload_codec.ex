defmodule Hourglass.PayloadCodec do
  @moduledoc """
  A payload codec transforms payloads on their way to and from the server: encryption,
  compression. It sits after the default converter, exactly as in the official SDKs, so a codec
  that follows the same scheme as a Python, Go or TypeScript codec reads their payloads and they
  read its payloads.

  Configure one on the worker and on the client, as a module or `{module, options}`:

      {Hourglass.Worker, task_queue: "orders", activities: [...],
       payload_codec: {Hourglass.PayloadCodec.Encryption, key_id: "k1", key: key}}

      Hourglass.Client.connect(address: "...", payload_codec: {Hourglass.PayloadCodec.Encryption, key_id: "k1", key: key})

  The worker decodes activity inputs and heartbeat details (in the executor process, before the
  activity runs) and encodes results, heartbeat details, failure details and cancellation
  details; the client encodes what it sends and decodes what it receives.

  ## Errors

  A callback returns `{:ok, payloads}` with as many payloads as it was given, or
  `{:error, reason}`. A codec that raises, or returns anything else, is an error too, reported
  clearly and never a crash: an input the worker cannot decode fails the attempt,
  non-retryable, with type `"PayloadDecodingError"`; a result it cannot encode fails the
  attempt with type `"PayloadEncodingError"`; the client returns `{:error, {:payload_codec,
  message}}`.
  """

  alias Hourglass.{ActivityError, ApplicationError, ChildWorkflowError, Payload}

  @typedoc "A codec as configured: a module, or a module and its options."
  @type t :: module() | {module(), term()}

  @doc "Encodes payloads (for example, encrypts them). `options` are those configured."
  @callback encode(payloads :: [Payload.t()], options :: term()) ::
              {:ok, [Payload.t()]} | {:error, term()}

  @doc "Decodes payloads; leaves payloads it did not encode as they are."
  @callback decode(payloads :: [Payload.t()], options :: term()) ::
              {:ok, [Payload.t()]} | {:error, term()}

  @doc """
  Checks a codec option: `nil`, a module implementing this behaviour, or `{module, options}`.
  Returns `{:ok, {module, options}}` (or `{:ok, nil}`) or `{:error, message}`.
  """
  @spec validate(term()) :: {:ok, {module(), term()} | nil} | {:error, String.t()}
  def validate(nil), do: {:ok, nil}
  def validate({module, options}) when is_atom(module), do: check_module(module, options)
  def validate(module) when is_atom(module), do: check_module(module, [])

  # The value is not shown: a codec's options hold its keys.
  def validate(_other), do: {:error, "a payload codec is a module or {module, options}"}

  defp check_module(module, options) do
    if Code.ensure_loaded?(module) and function_exported?(module, :encode, 2) and
         function_exported?(module, :decode, 2),
       do: {:ok, {module, options}},
       else: {:error, "#{inspect(module)} does not implement Hourglass.PayloadCodec"}
  end

  @doc false
  # Values → payloads by the default converter, then through the codec. Without a codec, the
  # values go as they are (the NIF converts them).
  @spec encode_values({module(), term()} | nil, [term()]) ::
          {:ok, [term()]} | {:error, String.t()}
  def encode_values(nil, values), do: {:ok, values}

  def encode_values(codec, values) do
    with {:ok, payloads} <- Payload.from_values(values) do
      apply_codec(codec, :encode, payloads)
    end
  end

  @doc false
  # Payloads → through the codec, then values by the default converter.
  @spec decode_values({module(), term()} | nil, [term()]) ::
          {:ok, [term()]} | {:error, String.t()}
  def decode_values(nil, values), do: {:ok, values}

  def decode_values(codec, payloads) do
    with {:ok, decoded} <- apply_codec(codec, :decode, payloads) do
      Payload.to_values(decoded)
    end
  end

  @doc false
  # Payloads → through the codec only: {:ok, payloads}, or why the codec could not.
  @spec decode_payloads({module(), term()} | nil, [term()]) ::
          {:ok, [term()]} | {:error, String.t()}
  def decode_payloads(nil, payloads), do: {:ok, payloads}
  def decode_payloads(codec, payloads), do: apply_codec(codec, :decode, payloads)

  @doc false
  # One value; see encode_values/2.
  @spec encode_value({module(), term()} | nil, term()) :: {:ok, term()} | {:error, String.t()}
  def encode_value(codec, value) do
    with {:ok, [payload]} <- encode_values(codec, [value]), do: {:ok, payload}
  end

  @doc false
  # One payload; see decode_values/2.
  @spec decode_value({module(), term()} | nil, term()) :: {:ok, term()} | {:error, String.t()}
  def decode_value(codec, payload) do
    with {:ok, [value]} <- decode_values(codec, [payload]), do: {:ok, value}
  end

  @doc false
  # A failure as the worker and the client hand it over (`{:failed, error}`, `{:cancelled,
  # details}`, ...) with its details decoded: an application error's, a cancellation's, and
  # those in the causes of an activity's or a child's error, however deep. Details the codec
  # cannot decode are left as payloads: the failure itself is still worth seeing.
  @spec decode_failure({module(), term()} | nil, term()) :: term()
  def decode_failure(codec, {:failed, %ApplicationError{details: details} = error})
      when is_list(details) do
    case decode_values(codec, details) do
      {:ok, decoded} -> {:failed, %{error | details: decoded}}
      {:error, _message} -> {:failed, error}
    end
  end

  def decode_failure(codec, {:failed, %error_type{cause: cause} = error})
      when error_type in [ActivityError, ChildWorkflowError],
      do: {:failed, %{error | cause: decode_failure(codec, cause)}}

  def decode_failure(codec, {:cancelled, details}) do
    case decode_value(codec, details) do
      {:ok, decoded} -> {:cancelled, decoded}
      {:error, _message} -> {:cancelled, details}
    end
  end

  def decode_failure(_codec, failure), do: failure

  defp apply_codec({module, options}, function, payloads) do
    case apply(module, function, [payloads, Hourglass.Secret.reveal(options)]) do
      {:ok, result} when is_list(result) and length(result) == length(payloads) ->
        if Enum.all?(result, &valid_payload?/1),
          do: {:ok, result},
          else:
            {:error,
             "#{inspect(module)}.#{function}/2 returned something that is not a list of Hourglass.Payload structs with string metadata keys and binary values"}

      {:ok, result} when is_list(result) ->
        {:error,
         "#{inspect(module)}.#{function}/2 returned #{length(result)} payloads for " <>
           "#{length(payloads)}"}

      {:error, reason} ->
        {:error, "#{inspect(module)}.#{function}/2 failed: #{format_reason(reason)}"}

      other ->
        {:error,
         "#{inspect(module)}.#{function}/2 returned #{inspect(other, limit: 5)} instead of " <>
           "{:ok, payloads} or {:error, reason}"}
    end
  rescue
    exception ->
      {:error,
       "#{inspect(module)}.#{function}/2 raised #{inspect(exception.__struct__)}: " <>
         Exception.message(exception)}
  catch
    kind, reason ->
      {:error, "#{inspect(module)}.#{function}/2 #{kind}: #{inspect(reason, limit: 5)}"}
  end

  defp valid_payload?(%Payload{metadata: metadata, data: data})
       when is_map(metadata) and is_binary(data),
       do: Enum.all?(metadata, fn {key, value} -> is_binary(key) and is_binary(value) end)

  defp valid_payload?(_other), do: false

  defp format_reason(reason) when is_binary(reason), do: reason
  defp format_reason(reason), do: inspect(reason, limit: 5)
end
