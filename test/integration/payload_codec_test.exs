defmodule Hourglass.Integration.PayloadCodecTest do
  # Payloads encrypted end to end: an Hourglass worker and client with
  # Hourglass.PayloadCodec.Encryption, and the official Python SDK with a codec of the same
  # documented scheme, read each other's payloads; the server only ever stores ciphertext.
  use Hourglass.IntegrationCase, async: true

  alias Hourglass.{ApplicationError, Client}
  alias Hourglass.IntegrationActivities, as: A
  alias Hourglass.PayloadCodec.Encryption

  @script Path.expand("../support/python/codec_peer.py", __DIR__)
  @key :crypto.hash(:sha256, "hourglass codec test key")
  @codec {Encryption, key_id: "test-key", key: @key}

  test "a Python SDK client with the same codec and an Hourglass worker read each other", ctx do
    start_worker(ctx, activities: [A.Echo, A.NonRetryable, A.Resume], payload_codec: @codec)

    {out, status} =
      System.cmd(
        "python3",
        [@script, ctx.address, ctx.queue, "test-key", Base.encode16(@key, case: :lower)],
        stderr_to_stdout: true
      )

    assert status == 0, out
    results = python_results(out)

    # Encrypted by Python, decrypted and echoed by Hourglass, encrypted again, decrypted by Python.
    assert results["echo"] == %{"secret" => "swordfish", "n" => [1, 2]}
    assert results["stored_input"] == ["binary/encrypted"]
    assert results["stored_result"] == ["binary/encrypted"]

    # Failure details and heartbeat details go through the codec too.
    assert %{"failed" => %{"type" => "Fatal", "details" => [%{"why" => "testing"}]}} =
             results["failure"]

    assert results["heartbeat_resume"] == [%{"done" => 41}]
  end

  test "an Hourglass client with the codec; without it, only ciphertext", ctx do
    start_worker(ctx, activities: [A.Echo], payload_codec: @codec)
    {:ok, client} = Client.connect(address: ctx.address, payload_codec: @codec)
    opts = [task_queue: ctx.queue, start_to_close_timeout: 10_000]

    {:ok, handle} = Client.start_activity(client, "echo", [%{"card" => "4242"}], opts)
    assert {:ok, %{"card" => "4242"}} = Client.result(client, handle)

    # The same result read without the codec: the server has only the encrypted payload.
    assert {:error, {:undecodable_result, message}} = Client.result(ctx.client, handle)
    assert message =~ "binary/encrypted"

    # Encrypted under another key id: the worker cannot decrypt the input, and says so.
    {:ok, other} =
      Client.connect(
        address: ctx.address,
        payload_codec: {Encryption, key_id: "other", key: @key}
      )

    opts = opts ++ [retry_policy: [maximum_attempts: 3]]

    assert {:error, {:failed, %ApplicationError{type: "PayloadDecodingError"} = error}} =
             Client.execute_activity(other, "echo", ["x"], opts)

    assert error.non_retryable
    assert error.message =~ ~s(key id "other")
  end

  test "a codec that fails on the worker fails the attempt clearly, and nothing is lost", ctx do
    start_worker(ctx, activities: [A.Echo], payload_codec: {__MODULE__.Broken, []})
    opts = [task_queue: ctx.queue, start_to_close_timeout: 10_000]

    # Decoding passes (plain payloads); encoding the result raises.
    assert {:error, {:failed, %ApplicationError{type: "PayloadEncodingError"} = error}} =
             Client.execute_activity(ctx.client, "echo", ["x"], opts)

    assert error.non_retryable
    assert error.message =~ "raised RuntimeError: no key today"

    assert {:error, {:invalid_option, :payload_codec, _}} =
             Client.connect(address: ctx.address, payload_codec: String)
  end

  defmodule Broken do
    @moduledoc false
    @behaviour Hourglass.PayloadCodec
    def encode(_payloads, _opts), do: raise("no key today")
    def decode(payloads, _opts), do: {:ok, payloads}
  end
end
