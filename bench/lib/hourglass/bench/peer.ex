defmodule Hourglass.Bench.Peer do
  @moduledoc """
  Worker processes for the end-to-end benchmarks — Hourglass in a VM of its own, the official
  Python SDK worker and the Rust SDK worker (`bench/peers/`) — and the load driver
  (`bench/peers/drive.py`), with the OS's accounting of each worker's CPU time.
  """

  alias Hourglass.Bench.JSON
  alias Hourglass.WorkerNode

  @root Path.expand("../../../..", __DIR__)
  @peers Path.join(@root, "bench/peers")

  @type worker :: :hourglass | :hourglass_no_spin | :python | :rust

  # Emulator flags that stop idle schedulers from busy-waiting before they sleep (the default
  # keeps them spinning for a while after every wake-up, which at a few hundred wake-ups a
  # second costs more CPU than the work itself). A choice for the user's VM, measured here as a
  # worker of its own beside the default one.
  @no_spin "+sbwt none +sbwtdcpu none +sbwtdio none"

  # Workflow tasks at once in every worker: the Python SDK's default and Hourglass's.
  @workflow_task_slots 100

  @doc "The emulator flags of the `:hourglass_no_spin` worker."
  def no_spin_flags, do: @no_spin

  @doc "Builds what the workers need (the Rust peer, in release mode)."
  def build do
    {out, status} =
      System.cmd("cargo", ["build", "--release", "--quiet"],
        cd: Path.join(@peers, "rust_worker"),
        stderr_to_stdout: true
      )

    if status != 0, do: raise("cannot build the Rust peer worker:\n#{out}")
    :ok
  end

  @doc """
  Starts a worker on `task_queue`; returns once it polls. Every worker serves the echo activity
  and the benchmark workflows (`Hourglass.Bench.Workflows`, the same in the peers), with
  `max_concurrent` activity slots, 100 workflow task slots, and a cache of `:max_cached`
  (default 1,000) runs. An Hourglass worker runs the build of the checkout at `:root` (default:
  this one).
  """
  def start(worker, address, task_queue, max_concurrent, opts \\ [])

  def start(worker, address, task_queue, max_concurrent, opts)
      when worker in [:hourglass, :hourglass_no_spin] do
    address
    |> WorkerNode.start(task_queue,
      activities: [Hourglass.Bench.Activities.Echo],
      workflows: Hourglass.Bench.Workflows.all(),
      native_activities: ["hourglass.echo"],
      max_concurrent_activities: max_concurrent,
      max_concurrent_workflow_tasks: @workflow_task_slots,
      max_cached_workflows: Keyword.get(opts, :max_cached, 1_000),
      grpc_compression: Keyword.get(opts, :grpc_compression, :gzip),
      erl_flags: if(worker == :hourglass_no_spin, do: @no_spin, else: ""),
      root: Keyword.get(opts, :root, @root)
    )
    |> Map.put(:worker, worker)
  end

  def start(:python, address, queue, max, opts) do
    python = System.find_executable("python3")
    args = [Path.join(@peers, "python_worker.py"), address, queue | peer_args(max, opts)]
    python |> WorkerNode.start_program(args) |> Map.put(:worker, :python)
  end

  def start(:rust, address, queue, max, opts) do
    program = Path.join(@peers, "rust_worker/target/release/rust_worker")

    program
    |> WorkerNode.start_program([address, queue | peer_args(max, opts)])
    |> Map.put(:worker, :rust)
  end

  defp peer_args(max_concurrent, opts) do
    [
      "--max-concurrent",
      "#{max_concurrent}",
      "--max-cached",
      "#{Keyword.get(opts, :max_cached, 1_000)}",
      "--grpc-compression",
      "#{Keyword.get(opts, :grpc_compression, :gzip)}"
    ]
  end

  @doc "Stops a worker with SIGTERM and waits for it."
  def stop(peer), do: WorkerNode.stop(peer)

  @doc "CPU time the process has used so far (user + system), in milliseconds."
  def cpu_ms(os_pid) do
    stat = File.read!("/proc/#{os_pid}/stat")
    # Fields after the command name, which is in parentheses and may contain spaces.
    [_, after_name] = String.split(stat, ") ", parts: 2)
    fields = String.split(after_name)
    ticks = String.to_integer(Enum.at(fields, 11)) + String.to_integer(Enum.at(fields, 12))
    ticks * 1000 / clock_ticks()
  end

  defp clock_ticks do
    case System.cmd("getconf", ["CLK_TCK"]) do
      {ticks, 0} -> ticks |> String.trim() |> String.to_integer()
      _ -> 100
    end
  end

  @doc "Runs the load driver and returns its JSON summary as a map."
  def drive(address, task_queue, mode, count, concurrency) do
    args = [
      Path.join(@peers, "drive.py"),
      address,
      task_queue,
      "--mode",
      mode,
      "--count",
      "#{count}",
      "--concurrency",
      "#{concurrency}"
    ]

    run_driver(args)
  end

  @doc """
  Runs `count` benchmark workflows of `type` ("BenchSeq3", "BenchPar10", "BenchTimers5") with
  `bench/peers/drive_workflows.py`; returns its JSON summary as a map (with the workflow tasks
  their histories record).
  """
  def drive_workflows(address, task_queue, type, count, concurrency) do
    run_driver([
      Path.join(@peers, "drive_workflows.py"),
      address,
      task_queue,
      "run",
      type,
      "--count",
      "#{count}",
      "--concurrency",
      "#{concurrency}"
    ])
  end

  @doc """
  Starts `count` BenchIdle workflows and returns once each is cached and waiting for its signal,
  with the driver's port; `release_idle/1` signals them all and returns the driver's summary.
  """
  def start_idle(address, task_queue, count, concurrency) do
    args = [
      Path.join(@peers, "drive_workflows.py"),
      address,
      task_queue,
      "idle",
      "--count",
      "#{count}",
      "--concurrency",
      "#{concurrency}"
    ]

    port =
      Port.open({:spawn_executable, System.find_executable("python3")}, [
        :binary,
        :exit_status,
        :stderr_to_stdout,
        args: args
      ])

    {port, await_json(port, "")}
  end

  @doc "Releases the workflows `start_idle/4` started; returns the driver's summary."
  def release_idle({port, _}) do
    true = Port.command(port, "release\n")
    summary = await_json(port, "")

    receive do
      {^port, {:exit_status, _}} -> :ok
    after
      30_000 -> :ok
    end

    summary
  end

  defp await_json(port, buffer) do
    receive do
      {^port, {:data, data}} ->
        buffer = buffer <> data

        case Regex.run(~r/^(\{.*\})$/m, buffer) do
          [_, line | _] ->
            {:ok, summary} = JSON.decode(line)
            summary

          nil ->
            await_json(port, buffer)
        end

      {^port, {:exit_status, status}} ->
        raise "the workflow driver exited with #{status}:\n#{buffer}"
    after
      600_000 -> raise "the workflow driver said nothing for 10 minutes:\n#{buffer}"
    end
  end

  defp run_driver(args) do
    {out, status} = System.cmd("python3", args, stderr_to_stdout: true)
    if status != 0, do: raise("the load driver failed:\n#{out}")
    line = out |> String.split("\n", trim: true) |> Enum.find(&String.starts_with?(&1, "{"))
    {:ok, summary} = JSON.decode(line)
    summary
  end
end
