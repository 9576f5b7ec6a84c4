defmodule Hourglass.Payload do
  @moduledoc """
  A Temporal payload as it travels: metadata (string keys, binary values; `"encoding"` says how
  `data` is encoded) and data.

  Activities never see payloads, only the values they carry. Payload codecs
  (`Hourglass.PayloadCodec`) work on payloads: they get the ones the default converter made
  (`json/plain`, `binary/plain`, `binary/null`) and return new ones, for example encrypted.
  """

  @enforce_keys [:data]
  defstruct metadata: %{}, data: <<>>

  @type t :: %__MODULE__{metadata: %{optional(String.t()) => binary()}, data: binary()}

  alias Hourglass.Native

  @doc """
  The bytes of the `temporal.api.common.v1.Payload` protobuf message for `payload` — what the
  official SDKs' codecs encrypt or compress whole (Python's `Payload.SerializeToString()`).
  """
  @spec to_protobuf(t()) :: {:ok, binary()} | {:error, String.t()}
  def to_protobuf(%__MODULE__{} = payload), do: Native.payload_to_protobuf(payload)

  @doc "The payload encoded by protobuf `bytes`; the inverse of `to_protobuf/1`."
  @spec from_protobuf(binary()) :: {:ok, t()} | {:error, String.t()}
  def from_protobuf(bytes) when is_binary(bytes), do: Native.payload_from_protobuf(bytes)

  @doc "Values as payloads, by the default converter (see `Hourglass.Client`)."
  @spec from_values([term()]) :: {:ok, [t()]} | {:error, String.t()}
  def from_values(values) when is_list(values), do: Native.payloads_from_values(values)

  @doc "The values of payloads made by the default converter; the inverse of `from_values/1`."
  @spec to_values([t()]) :: {:ok, [term()]} | {:error, String.t()}
  def to_values(payloads) when is_list(payloads), do: Native.payloads_to_values(payloads)
end
