defmodule Hourglass.WorkerNode do
  @moduledoc """
  A worker in an OS process of its own, for what must kill, stop or measure a whole worker: the
  fault suite, the VM-kill tests and the end-to-end benchmarks (compiled in dev, test and bench,
  never into a release).

  `start/3` runs `faults/worker_node.exs` in a new VM (`mix run`, the current Mix env) with an
  `Hourglass.Worker` under the application's supervisor, as in a user's tree;
  `start_program/3` runs any program that prints `READY` once it polls (the benchmarks' Python
  and Rust peers). Both return once `READY` is printed, and raise with the process's output if
  it exits or stays silent first.
  """

  @root Path.expand("../../..", __DIR__)

  @type t :: %{port: port(), os_pid: non_neg_integer()}

  @doc """
  Starts an Hourglass worker VM polling `task_queue` at `address`. `opts`: `:activities` and
  `:workflows` (modules), `:native_activities`, `:max_concurrent_activities`,
  `:max_cached_workflows`, `:max_concurrent_workflow_tasks`, `:graceful_shutdown_timeout`,
  `:grpc_compression`, `:log_level` (Logger's and the NIF's in the new VM, e.g. `:debug`),
  `:erl_flags` (emulator flags for the new VM, e.g. `"+sbwt none"`; default: none), and
  `:root`: the checkout whose build runs (default: this one; `bench/compare_builds.exs` runs
  another commit's build beside this one's).
  """
  @spec start(String.t(), String.t(), keyword()) :: t()
  def start(address, task_queue, opts \\ []) do
    {erl_flags, opts} = Keyword.pop(opts, :erl_flags, "")
    {root, opts} = Keyword.pop(opts, :root, @root)

    args =
      Enum.map(opts, fn
        {kind, modules} when kind in [:activities, :workflows] ->
          "#{kind}=" <> Enum.map_join(modules, ",", &inspect/1)

        {:native_activities, types} ->
          "native_activities=" <> Enum.join(types, ",")

        {key, value} when is_integer(value) ->
          "#{key}=#{value}"

        {:grpc_compression, mode} when mode in [:gzip, :none] ->
          "grpc_compression=#{mode}"

        {:log_level, level} when is_atom(level) ->
          "log_level=#{level}"
      end)

    start_program(
      System.find_executable("mix"),
      ["run", "--no-compile", "faults/worker_node.exs", address, task_queue | args],
      # ERL_FLAGS is set either way, so that the new VM never inherits this one's.
      [{~c"MIX_ENV", ~c"#{Mix.env()}"}, {~c"ERL_FLAGS", String.to_charlist(erl_flags)}],
      root
    )
  end

  @doc """
  Starts `program` with `args` and `env` in `root` (default: the project's root); returns once
  it says READY.
  """
  @spec start_program(String.t(), [String.t()], [{charlist(), charlist()}], String.t()) :: t()
  def start_program(program, args, env \\ [], root \\ @root) do
    port =
      Port.open({:spawn_executable, program}, [
        :binary,
        :exit_status,
        :stderr_to_stdout,
        args: args,
        cd: root,
        env: env
      ])

    {:os_pid, os_pid} = Port.info(port, :os_pid)
    await_ready(port, os_pid, "")
    %{port: port, os_pid: os_pid}
  end

  defp await_ready(port, os_pid, buffer) do
    receive do
      {^port, {:data, data}} ->
        buffer = buffer <> data
        if buffer =~ "READY", do: :ok, else: await_ready(port, os_pid, buffer)

      {^port, {:exit_status, status}} ->
        raise "worker process #{os_pid} exited with #{status}: #{buffer}"
    after
      120_000 ->
        kill(%{os_pid: os_pid})
        raise "worker process #{os_pid} did not start within 120 s: #{buffer}"
    end
  end

  @doc "What the process printed since it started (or since the last call), without waiting."
  @spec output(t()) :: String.t()
  def output(%{port: port}) do
    receive do
      {^port, {:data, data}} -> data <> output(%{port: port})
    after
      0 -> ""
    end
  end

  @doc """
  Memory inside a worker VM started by `start/3`: the VM's total (`:erlang.memory(:total)`, after
  a garbage collection), the NIF's Rust heap, and the workflow run processes with their memory.
  """
  @spec stats(t()) :: %{
          beam: non_neg_integer(),
          rust: non_neg_integer(),
          run_processes: non_neg_integer(),
          run_process_bytes: non_neg_integer()
        }
  def stats(%{port: port}) do
    true = Port.command(port, "stats\n")
    await_stats(port, "")
  end

  defp await_stats(port, buffer) do
    receive do
      {^port, {:data, data}} ->
        buffer = buffer <> data

        case Regex.run(~r/STATS ([^\n]*)\n/, buffer) do
          [_, fields] ->
            for field <- String.split(fields), into: %{} do
              [key, value] = String.split(field, "=")
              {String.to_atom(key), String.to_integer(value)}
            end

          nil ->
            await_stats(port, buffer)
        end
    after
      60_000 -> raise "the worker VM did not answer stats within 60 s: #{buffer}"
    end
  end

  @doc "Resident memory of the OS process (VmRSS), in bytes."
  @spec rss_bytes(%{os_pid: non_neg_integer()}) :: non_neg_integer()
  def rss_bytes(%{os_pid: os_pid}) do
    [_, kb] = Regex.run(~r/VmRSS:\s+(\d+) kB/, File.read!("/proc/#{os_pid}/status"))
    String.to_integer(kb) * 1024
  end

  @doc "Kills the process with SIGKILL."
  @spec kill(%{os_pid: non_neg_integer()}) :: :ok
  def kill(%{os_pid: os_pid}) do
    System.cmd("kill", ["-KILL", "#{os_pid}"], stderr_to_stdout: true)
    :ok
  end

  @doc """
  Stops the process with SIGTERM and waits up to `timeout` for it to exit; kills it after that.
  Returns its exit status, or `:killed`.
  """
  @spec stop(t(), timeout()) :: non_neg_integer() | :killed
  def stop(%{port: port} = node, timeout \\ 30_000) do
    System.cmd("kill", ["-TERM", "#{node.os_pid}"], stderr_to_stdout: true)

    receive do
      {^port, {:exit_status, status}} -> status
    after
      timeout ->
        kill(node)
        :killed
    end
  end
end
