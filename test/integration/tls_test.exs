defmodule Hourglass.Integration.TlsTest do
  # The dev server speaks plaintext only; test/support/python/tls_proxy.py puts a real TLS
  # front (its own CA, a server certificate for "localhost", client certificates required)
  # before it, and the worker and the client connect through that.
  use Hourglass.IntegrationCase, async: true

  alias Hourglass.{Client, Worker, WorkerNode}
  alias Hourglass.IntegrationActivities, as: A

  @moduletag :tmp_dir

  setup ctx, do: start_tls_proxy(ctx)

  test "a worker and a client over TLS with client certificates run activities", ctx do
    start_supervised!(
      {Worker,
       task_queue: ctx.queue,
       address: ctx.tls_address,
       tls: ctx.tls,
       activities: [A.Echo],
       native_activities: ["hourglass.echo"]}
    )

    {:ok, client} = Client.connect(address: ctx.tls_address, tls: ctx.tls)
    opts = [task_queue: ctx.queue, start_to_close_timeout: 10_000]

    assert {:ok, %{"over" => "tls"}} =
             Client.execute_activity(client, "echo", [%{"over" => "tls"}], opts)

    assert {:ok, "native"} = Client.execute_activity(client, "hourglass.echo", ["native"], opts)

    # Both really came through the TLS front, with the client's certificate.
    assert WorkerNode.output(%{port: ctx.proxy}) =~ "ACCEPTED hourglass-test-client"

    # Stopped while the TLS front is still there, so that its shutdown reaches the server.
    :ok = stop_supervised({Worker, ctx.queue})
  end

  test "without the client certificate, or trusting another CA, the connection is refused",
       ctx do
    no_client_cert = Keyword.drop(ctx.tls, [:client_cert, :client_private_key])

    assert {:error, {:unavailable, _}} =
             Client.connect(address: ctx.tls_address, tls: no_client_cert, connect_timeout: 3_000)

    # Trusting another certificate (the client's, no CA) instead of the test CA: the server's
    # certificate is refused.
    wrong_ca =
      Keyword.put(ctx.tls, :server_ca_cert, File.read!(Path.join(ctx.tmp_dir, "client.pem")))

    assert {:error, {:unavailable, message}} =
             Client.connect(address: ctx.tls_address, tls: wrong_ca, connect_timeout: 3_000)

    assert message =~ "UnknownIssuer"

    # Plaintext to the TLS port fails too, and so does a worker there: clear errors, no crash.
    assert {:error, {:unavailable, _}} =
             Client.connect(address: ctx.tls_address, connect_timeout: 3_000)

    assert {:error, {:connect_failed, _}} =
             Worker.start(
               task_queue: ctx.queue,
               address: ctx.tls_address,
               tls: no_client_cert,
               activities: [A.Echo],
               connect_timeout: 3_000,
               require_connection: true
             )
  end
end
