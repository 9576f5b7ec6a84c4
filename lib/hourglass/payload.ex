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

  @doc """
  Values as payloads, by the default converter (see `Hourglass.Client`).

  Heavy values (more than about a millisecond of work) are converted on Hourglass's tokio pool,
  whose threads run at a low OS priority, while the caller waits: the schedulers stay free for
  other processes.
  """
  @spec from_values([term()]) :: {:ok, [t()]} | {:error, String.t()}
  def from_values(values) when is_list(values) do
    case Native.payloads_from_values(values) do
      :heavy -> off_scheduler(&Native.payloads_from_values_etf/2, :erlang.term_to_binary(values))
      converted -> converted
    end
  end

  @doc """
  The values of payloads made by the default converter; the inverse of `from_values/1`. Heavy
  payloads are converted off the schedulers, as in `from_values/1`.
  """
  @spec to_values([t()]) :: {:ok, [term()]} | {:error, String.t()}
  def to_values(payloads) when is_list(payloads) do
    case Native.payloads_to_values(payloads) do
      :heavy -> off_scheduler(&Native.payloads_to_values_etf/2, payloads)
      converted -> converted
    end
  end

  # The conversion runs on tokio and answers with the result, or with the result in the external
  # term format (values holding a map too wide to be made on a tokio thread, erlang/otp#8208),
  # which binary_to_term/1 reads here. Both that and term_to_binary/1 yield to other processes as
  # they go, where a NIF making or reading the terms would hold the scheduler throughout.
  defp off_scheduler(nif, input) do
    ref = make_ref()
    {:ok, pending} = nif.(input, ref)

    answer =
      receive do
        {:"$hourglass_client_reply", ^ref, answer} -> answer
      end

    # Used after the receive so that it stays live while the conversion runs: freeing it would
    # abandon the conversion. Answered, it has nothing left to abandon.
    :ok = Native.client_abandon(pending)

    case answer do
      {:ok, {:external, external}} -> {:ok, :erlang.binary_to_term(external)}
      {:ok, converted} -> {:ok, converted}
      {:error, _message} = error -> error
    end
  end
end
