defmodule Hourglass.PayloadCodecTest do
  use ExUnit.Case, async: true

  alias Hourglass.{Payload, PayloadCodec}
  alias Hourglass.PayloadCodec.Encryption

  @key :crypto.hash(:sha256, "test key")
  @codec {Encryption, key_id: "k1", key: @key}

  defmodule Raises do
    @moduledoc false
    @behaviour Hourglass.PayloadCodec
    def encode(_payloads, _opts), do: raise("boom")
    def decode(_payloads, _opts), do: throw(:ball)
  end

  defmodule Garbage do
    @moduledoc false
    @behaviour Hourglass.PayloadCodec
    def encode(_payloads, :wrong_count), do: {:ok, []}
    def encode(_payloads, :not_payloads), do: {:ok, [:nope]}
    def encode(_payloads, :bad_metadata), do: {:ok, [%Payload{metadata: %{a: 1}, data: ""}]}
    def encode(_payloads, :error), do: {:error, :no_key}
    def encode(_payloads, _other), do: :what
    def decode(payloads, _opts), do: {:ok, payloads}
  end

  test "values become payloads of the default converter and back" do
    values = [%{"a" => [1, 2.5, nil, true]}, "text", <<255, 0>>, nil, 2 ** 80]
    assert {:ok, payloads} = Payload.from_values(values)

    assert [
             %Payload{metadata: %{"encoding" => "json/plain"}, data: ~s({"a":[1,2.5,null,true]})}
             | _
           ] = payloads

    assert %Payload{metadata: %{"encoding" => "binary/plain"}, data: <<255, 0>>} =
             Enum.at(payloads, 2)

    assert %Payload{metadata: %{"encoding" => "binary/null"}} = Enum.at(payloads, 3)
    assert {:ok, ^values} = Payload.to_values(payloads)

    assert {:error, "value 1: " <> _} = Payload.from_values([{:a, :tuple}])
    assert {:error, "payload 1: " <> _} = Payload.to_values([:not_a_payload])

    assert {:error, "payload 1: payload encoding \"binary/encrypted\"" <> _} =
             Payload.to_values([%Payload{metadata: %{"encoding" => "binary/encrypted"}, data: ""}])
  end

  test "a payload round-trips through its protobuf bytes" do
    payload = %Payload{metadata: %{"encoding" => "json/plain", "x" => <<0, 1>>}, data: "[1]"}
    assert {:ok, bytes} = Payload.to_protobuf(payload)
    assert {:ok, ^payload} = Payload.from_protobuf(bytes)
    assert {:error, "not a protobuf Payload" <> _} = Payload.from_protobuf(<<255, 255, 255>>)
    assert {:error, _} = Payload.to_protobuf(%Payload{metadata: %{"k" => 1}, data: ""})
  end

  test "the encryption codec encrypts whole payloads and decrypts them" do
    assert {:ok, [encrypted]} = PayloadCodec.encode_values(@codec, [%{"secret" => "swordfish"}])

    assert %Payload{
             metadata: %{"encoding" => "binary/encrypted", "encryption-key-id" => "k1"},
             data: data
           } = encrypted

    refute data =~ "swordfish"
    assert {:ok, [%{"secret" => "swordfish"}]} = PayloadCodec.decode_values(@codec, [encrypted])

    # A fresh nonce each time.
    assert {:ok, [again]} = PayloadCodec.encode_values(@codec, [%{"secret" => "swordfish"}])
    assert again.data != data

    # Payloads it did not encrypt pass through.
    assert {:ok, [plain]} = Payload.from_values([1])
    assert {:ok, [1]} = PayloadCodec.decode_values(@codec, [plain])
  end

  test "a wrong key, another key id or tampered data is a clear error" do
    {:ok, [encrypted]} = PayloadCodec.encode_values(@codec, ["x"])
    other_key = {Encryption, key_id: "k1", key: :crypto.hash(:sha256, "other")}

    assert {:error, message} = PayloadCodec.decode_values(other_key, [encrypted])
    assert message =~ "decryption failed"

    assert {:error, message} =
             PayloadCodec.decode_values({Encryption, key_id: "k2", key: @key}, [encrypted])

    assert message =~ ~s(key id "k1")

    <<head::binary-20, byte, rest::binary>> = encrypted.data
    tampered = %{encrypted | data: head <> <<Bitwise.bxor(byte, 1)>> <> rest}
    assert {:error, _} = PayloadCodec.decode_values(@codec, [tampered])
    assert {:error, _} = PayloadCodec.decode_values(@codec, [%{encrypted | data: "short"}])

    assert {:error, message} = PayloadCodec.encode_values({Encryption, key: "short"}, [1])
    assert message =~ ":key_id"
  end

  test "a codec that raises or returns garbage is an error, never a crash" do
    assert {:error, message} = PayloadCodec.encode_values({Raises, []}, [1])
    assert message =~ "raised RuntimeError: boom"
    {:ok, payloads} = Payload.from_values([1])
    assert {:error, message} = PayloadCodec.decode_values({Raises, []}, payloads)
    assert message =~ "throw: :ball"

    for {opts, needle} <- [
          wrong_count: "returned 0 payloads for 1",
          not_payloads: "not a list of Hourglass.Payload",
          bad_metadata: "not a list of Hourglass.Payload",
          error: "failed: :no_key",
          other: "instead of {:ok, payloads}"
        ] do
      assert {:error, message} = PayloadCodec.encode_values({Garbage, opts}, [1])
      assert message =~ needle
    end
  end

  test "codec options are checked" do
    assert {:ok, nil} = PayloadCodec.validate(nil)
    assert {:ok, {Encryption, []}} = PayloadCodec.validate(Encryption)
    assert {:ok, {Encryption, [a: 1]}} = PayloadCodec.validate({Encryption, a: 1})
    assert {:error, message} = PayloadCodec.validate(String)
    assert message =~ "does not implement Hourglass.PayloadCodec"
    assert {:error, _} = PayloadCodec.validate("nope")
  end
end
