defmodule Hourglass.IntegrationCase do
  @moduledoc false
  # Tests against the run's Temporal dev server, each on a task queue of its own.
  use ExUnit.CaseTemplate

  using do
    quote do
      import Hourglass.IntegrationCase
      import Hourglass.TestHelpers
      @moduletag :integration
      @moduletag timeout: 300_000
    end
  end

  setup do
    address = Application.fetch_env!(:hourglass, :test_server_address)
    {:ok, client} = Hourglass.Client.connect(address: address)
    %{address: address, client: client, queue: "it-#{System.unique_integer([:positive])}"}
  end

  @doc """
  How many events of `type` (`"TIMER_STARTED"`, …) the workflow's history has, as the
  temporal CLI shows it.
  """
  def count_history_events(context, workflow_id, type) do
    {json, 0} =
      System.cmd("temporal", [
        "workflow",
        "show",
        "--address",
        context.address,
        "-w",
        workflow_id,
        "-o",
        "json"
      ])

    payload = %Hourglass.Payload{metadata: %{"encoding" => "json/plain"}, data: json}
    {:ok, [%{"events" => events}]} = Hourglass.Payload.to_values([payload])
    Enum.count(events, &(&1["eventType"] in [type, "EVENT_TYPE_" <> type]))
  end

  @doc "Starts a worker for the test, stopped (gracefully) when the test ends."
  def start_worker(context, opts) do
    opts = Keyword.merge([task_queue: context.queue, address: context.address], opts)
    ExUnit.Callbacks.start_supervised!({Hourglass.Worker, opts}, restart: :temporary)
  end

  @doc """
  Runs a Standalone Activity on the test's task queue and waits for its result: one attempt
  unless `opts` give a retry policy, 10 s start-to-close.
  """
  def run_activity(context, type, args, opts \\ []) do
    Hourglass.Client.execute_activity(
      context.client,
      type,
      args,
      Keyword.merge(
        [
          task_queue: context.queue,
          start_to_close_timeout: 10_000,
          retry_policy: [initial_interval: 100, maximum_attempts: 1]
        ],
        opts
      )
    )
  end

  @doc """
  Starts test/support/python/tls_proxy.py: a real TLS front (its own CA, a server certificate
  for "localhost", client certificates required) before the run's plaintext dev server, with
  its certificates in the test's `tmp_dir`. Returns `%{proxy: port, tls_address: "ip:port",
  tls: options}` for the context, where `tls` are the `:tls` options that connect through it.
  """
  def start_tls_proxy(context) do
    script = Path.expand("python/tls_proxy.py", __DIR__)

    port =
      Port.open({:spawn_executable, System.find_executable("python3")}, [
        :binary,
        :exit_status,
        :stderr_to_stdout,
        args: [script, context.address, context.tmp_dir]
      ])

    [tls_port] = Hourglass.TestHelpers.await_output(port, ~r/READY (\d+)/, 30_000)
    ExUnit.Callbacks.on_exit(fn -> if Port.info(port), do: Port.close(port) end)

    pem = fn name -> File.read!(Path.join(context.tmp_dir, name)) end

    tls = [
      server_ca_cert: pem.("ca.pem"),
      server_name: "localhost",
      client_cert: pem.("client.pem"),
      client_private_key: pem.("client.key")
    ]

    %{proxy: port, tls_address: "127.0.0.1:#{tls_port}", tls: tls}
  end

  @doc "Runs the temporal CLI against the run's dev server."
  def cli(context, args) do
    System.cmd(Hourglass.DevServer.executable(), args ++ ["--address", context.address],
      stderr_to_stdout: true
    )
  end

  @doc "Registers the test process under a fresh name, for activities to report to."
  def register_test do
    name = :"hourglass_test_#{System.unique_integer([:positive])}"
    Process.register(self(), name)
    Atom.to_string(name)
  end

  @doc """
  The results a Python peer script printed as an Erlang term on its last line (Elixir 1.14 has
  no JSON module, and Hourglass uses no hex package).
  """
  def python_results(output) do
    line = output |> String.split("\n", trim: true) |> List.last()
    {:ok, tokens, _} = :erl_scan.string(String.to_charlist(line))
    {:ok, term} = :erl_parse.parse_term(tokens)
    term
  end
end
