defmodule Hourglass.PayloadCodec.Encryption do
  @moduledoc """
  An example payload codec: AES-256-GCM encryption, in the scheme of the official SDKs'
  documented encryption samples, so payloads encrypted by a Python, Go or TypeScript worker or
  client with the same key are decrypted here, and the other way round.

  Each payload is serialized whole (its protobuf bytes, metadata included) and encrypted with a
  fresh 12-byte nonce; the encrypted payload has metadata `"encoding" => "binary/encrypted"` and
  `"encryption-key-id" => key_id`, and data `nonce <> ciphertext <> 16-byte tag`. Payloads that
  are not `binary/encrypted` are decoded as they are; one encrypted with another key id is an
  error.

      payload_codec: {Hourglass.PayloadCodec.Encryption, key_id: "2026-11", key: key}

  `key` is 32 bytes. Keep it out of the source: read it from the environment or a secret store
  when the application starts. Rotating keys means decoding with several keys, which a codec of
  your own can do by key id.
  """

  @behaviour Hourglass.PayloadCodec

  alias Hourglass.Payload

  @encoding "binary/encrypted"
  @key_id "encryption-key-id"

  @impl true
  def encode(payloads, options) do
    with {:ok, key_id, key} <- key(options) do
      encrypt_all(payloads, key_id, key, [])
    end
  end

  @impl true
  def decode(payloads, options) do
    with {:ok, key_id, key} <- key(options) do
      decrypt_all(payloads, key_id, key, [])
    end
  end

  defp encrypt_all([], _key_id, _key, done), do: {:ok, Enum.reverse(done)}

  defp encrypt_all([payload | rest], key_id, key, done) do
    with {:ok, plain} <- Payload.to_protobuf(payload) do
      nonce = :crypto.strong_rand_bytes(12)

      {ciphertext, tag} =
        :crypto.crypto_one_time_aead(:aes_256_gcm, key, nonce, plain, <<>>, 16, true)

      encrypted = %Payload{
        metadata: %{"encoding" => @encoding, @key_id => key_id},
        data: nonce <> ciphertext <> tag
      }

      encrypt_all(rest, key_id, key, [encrypted | done])
    end
  end

  defp decrypt_all([], _key_id, _key, done), do: {:ok, Enum.reverse(done)}

  defp decrypt_all([payload | rest], key_id, key, done) do
    with {:ok, decrypted} <- decrypt(payload, key_id, key) do
      decrypt_all(rest, key_id, key, [decrypted | done])
    end
  end

  defp decrypt(%Payload{metadata: %{"encoding" => @encoding} = metadata, data: data}, key_id, key) do
    cond do
      Map.get(metadata, @key_id) != key_id ->
        {:error,
         "payload encrypted with key id #{inspect(Map.get(metadata, @key_id))}, " <>
           "this codec has #{inspect(key_id)}"}

      byte_size(data) < 28 ->
        {:error, "encrypted payload too short"}

      true ->
        size = byte_size(data) - 28
        <<nonce::binary-12, ciphertext::binary-size(size), tag::binary-16>> = data

        case :crypto.crypto_one_time_aead(:aes_256_gcm, key, nonce, ciphertext, <<>>, tag, false) do
          plain when is_binary(plain) -> Payload.from_protobuf(plain)
          :error -> {:error, "payload decryption failed (wrong key or tampered data)"}
        end
    end
  end

  defp decrypt(payload, _key_id, _key), do: {:ok, payload}

  defp key(options) do
    key_id = options[:key_id]
    key = options[:key]

    cond do
      not (is_binary(key_id) and key_id != "") -> {:error, ":key_id must be a non-empty string"}
      not (is_binary(key) and byte_size(key) == 32) -> {:error, ":key must be 32 bytes"}
      true -> {:ok, key_id, key}
    end
  end
end
