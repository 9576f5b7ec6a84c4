defmodule Hourglass.Integration.SecretsTest do
  # A worker and a client configured with an API key, a TLS client key and a codec key, through
  # a real TLS front: whatever goes wrong — a worker that stops abnormally, options that are
  # refused, an executor that dies — nothing logged shows any of the three. Both Elixir's Logger
  # (capture_log) and every event Erlang's logger sees (crash reports, supervisor reports, a
  # handler of this test's own, formatted the way OTP's default handler formats them) count.
  use Hourglass.IntegrationCase, async: true

  import ExUnit.CaptureLog

  alias Hourglass.{Client, Worker}
  alias Hourglass.IntegrationActivities, as: A
  alias Hourglass.PayloadCodec.Encryption

  @moduletag :tmp_dir

  # Every event Erlang's logger hands to handlers, formatted as text and sent to the test.
  defmodule Collector do
    @moduledoc false
    def log(event, %{config: %{test: test}}) do
      send(test, {:logged, IO.chardata_to_string(:logger_formatter.format(event, %{}))})
    end
  end

  setup ctx do
    proxy = start_tls_proxy(ctx)
    handler = :"secrets_test_#{System.unique_integer([:positive])}"
    :ok = :logger.add_handler(handler, Collector, %{config: %{test: self()}, level: :all})
    on_exit(fn -> :logger.remove_handler(handler) end)

    secrets = %{
      api_key: "api-key-#{System.unique_integer([:positive])}-do-not-print",
      codec_key: "codec-key-never-printed-32bytes!",
      # The key's longest base64 line: however the key is printed, it shows.
      tls_key:
        proxy.tls[:client_private_key]
        |> String.split("\n")
        |> Enum.reject(&String.starts_with?(&1, "-----"))
        |> Enum.max_by(&String.length/1)
    }

    Map.merge(proxy, %{secrets: secrets})
  end

  defp collected(acc \\ "") do
    receive do
      {:logged, text} -> collected(acc <> text)
    after
      500 -> acc
    end
  end

  defp assert_no_secret(text, secrets) do
    for {name, secret} <- secrets do
      refute String.contains?(text, secret), "the #{name} was printed:\n#{text}"
    end
  end

  test "never reach a log, a crash report or a supervisor report", ctx do
    codec = {Encryption, key_id: "k1", key: ctx.secrets.codec_key}

    options = [
      address: ctx.tls_address,
      tls: ctx.tls,
      api_key: ctx.secrets.api_key,
      payload_codec: codec
    ]

    test = register_test()

    log =
      capture_log(fn ->
        worker = start_worker(ctx, [activities: [A.Blocked, A.Echo]] ++ options)
        {:ok, client} = Client.connect(options)
        assert {:ok, "through"} = run_activity(%{ctx | client: client}, "echo", ["through"])

        # Printed state: the worker's and the client's.
        assert_no_secret(inspect(:sys.get_state(worker)), ctx.secrets)
        assert_no_secret(inspect(client), ctx.secrets)

        # An executor that dies: its supervisor reports the start call, task and all.
        {:ok, _handle} =
          Client.start_activity(client, "blocked", [test, 60_000],
            task_queue: ctx.queue,
            start_to_close_timeout: 30_000,
            retry_policy: [maximum_attempts: 1]
          )

        assert_receive {:started, executor, _info}, 10_000
        ref = Process.monitor(executor)
        Process.exit(executor, :crashed_for_the_test)
        assert_receive {:DOWN, ^ref, :process, _, :crashed_for_the_test}

        # Options refused, with the secrets in them.
        bad_tls = Keyword.put(ctx.tls, :unknown, "x")

        for bad <- [
              [tls: bad_tls],
              [api_key: ctx.secrets.api_key, tls: :yes],
              [payload_codec: {:not_a_codec, key: ctx.secrets.codec_key}],
              [payload_codec: {"not a module", key: ctx.secrets.codec_key}]
            ] do
          assert {:error, {:invalid_option, _key, message}} =
                   Worker.start(
                     [task_queue: ctx.queue, activities: [A.Echo]] ++ Keyword.merge(options, bad)
                   )

          assert_no_secret(message, ctx.secrets)

          assert {:error, {:invalid_option, _key, message}} =
                   Client.connect(Keyword.merge(options, bad))

          assert_no_secret(message, ctx.secrets)
        end

        # A worker that stops abnormally: its state is printed.
        ref = Process.monitor(worker)
        :sys.terminate(worker, :crashed_for_the_test, :infinity)
        assert_receive {:DOWN, ^ref, :process, _, :crashed_for_the_test}, 60_000
      end)

    assert log =~ "crashed_for_the_test"
    assert_no_secret(log, ctx.secrets)

    reports = collected()
    # The reports are there — the executor's supervisor's, the worker's end with its state —
    # and show nothing. (An executor never crashes from within: ActivityRunner catches what an
    # activity, a codec or a completion raises, so there is no crash report of its own.)
    assert reports =~ "Hourglass.ActivityExecutor.DynamicSupervisor"
    assert reports =~ ~r"Generic server .* terminating.*State: "
    assert_no_secret(reports, ctx.secrets)
  end
end
