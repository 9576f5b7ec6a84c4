# Ports of temporalio/features' data converter features (features/data_converter/*/feature.py).

defmodule Hourglass.Features.DataConverter.Echo do
  @moduledoc false
  # features/data_converter/json, /binary and /codec: returns its input (a JSON object, bytes,
  # a JSON object through a codec), which the checker compares, payload to payload, with the
  # result.
  use Hourglass.Workflow, name: "Workflow"

  @impl true
  def run(value), do: {:ok, value}
end

defmodule Hourglass.Features.DataConverter.NullActivity do
  @moduledoc false
  use Hourglass.Activity, name: "null_activity"

  def execute(nil), do: :ok

  def execute(_input),
    do:
      {:error,
       %Hourglass.ApplicationError{message: "Activity input should be None", non_retryable: true}}
end

defmodule Hourglass.Features.DataConverter.Empty do
  @moduledoc false
  # features/data_converter/empty: passes nil to an activity (a binary/null payload).
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def run do
    with {:ok, nil} <-
           Workflow.execute_activity("null_activity", [nil], start_to_close_timeout: 60_000),
         do: {:ok, nil}
  end
end

defmodule Hourglass.Features.DataConverter.Base64Codec do
  @moduledoc false
  # The codec of features/data_converter/codec: every payload whole (its protobuf bytes),
  # base64, in a payload of encoding "my_encoding".
  @behaviour Hourglass.PayloadCodec
  alias Hourglass.Payload

  @encoding "my_encoding"

  @impl true
  def encode(payloads, _options) do
    {:ok,
     Enum.map(payloads, fn payload ->
       {:ok, bytes} = Payload.to_protobuf(payload)
       %Payload{metadata: %{"encoding" => @encoding}, data: Base.encode64(bytes)}
     end)}
  end

  @impl true
  def decode(payloads, _options) do
    {:ok,
     Enum.map(payloads, fn
       %Payload{metadata: %{"encoding" => @encoding}, data: data} ->
         {:ok, payload} = data |> Base.decode64!() |> Payload.from_protobuf()
         payload

       payload ->
         payload
     end)}
  end
end
