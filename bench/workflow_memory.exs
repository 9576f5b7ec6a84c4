# What a cached workflow run holds after its code has awaited many results and discarded them
# (issue 26): a run of the workflow below awaits `count` local activities one at a time, each
# returning a binary of 20,000 bytes, keeps none of them, and then waits for a "done" signal.
# While it waits, its process (found under Hourglass.WorkflowExecutor.DynamicSupervisor by the
# workflow id in its context) is garbage collected and measured: `Process.info(pid, :memory)`
# (heap, stack, message queue, the process's own structures) plus the sizes of the refc binaries
# it references (`Process.info(pid, :binary)`, each binary counted once). One row per count:
#
#     MIX_ENV=test mix run --no-start bench/workflow_memory.exs [count ...]   (default 10 1000 5000)
#
# The workflow and its activity are defined here, not in bench/lib or test/support, so the same
# script runs on any Hourglass since the workflow API (to compare two commits, copy it into a
# checkout of each). The test environment is fine for a memory measurement: its NIF is a debug
# build (the test crate, which carries the built-in native activities), which changes how fast
# things run but not which terms and binaries a run's process keeps, and that is all this
# measures; it also saves a release build of the NIF per checkout.
#
# A dev server keeps a history to 50 MB by default and terminates a workflow whose history grows
# past it; 5,000 results of 20 KB are ~100 MB of markers, so the server starts with the limit
# raised (through a `temporal` wrapper on the PATH that adds `--dynamic-config-value` to
# `server start-dev`, which Hourglass.DevServer has no option for).
alias Hourglass.{Client, DevServer}

defmodule WorkflowMemoryBench.Bytes do
  @moduledoc false
  use Hourglass.Activity, name: "workflow_memory_bench_bytes"
  def execute(size), do: {:ok, String.duplicate("x", size)}
end

defmodule WorkflowMemoryBench.Discards do
  @moduledoc false
  # Awaits `count` activities that each return `size` bytes, one at a time, keeping none, then
  # waits for the "done" signal. The query "awaited" says how many it has awaited so far.
  use Hourglass.Workflow, name: "WorkflowMemoryBench"
  alias Hourglass.Workflow

  @impl true
  def init([_count, _size]), do: %{awaited: 0, done: false}

  @impl true
  def run(count, size) do
    for i <- 1..count do
      {:ok, _} =
        Workflow.execute_local_activity("workflow_memory_bench_bytes", [size],
          start_to_close_timeout: 10_000
        )

      Workflow.update_state(&%{&1 | awaited: i})
      # A workflow task's completion carries its local activities' results: a timer now and
      # then keeps each under the server's 4 MB message limit.
      if rem(i, 50) == 0, do: :ok = Workflow.sleep(1)
    end

    :ok = Workflow.wait_condition(& &1.done)
    {:ok, count}
  end

  @impl true
  def handle_signal("done", [], state), do: %{state | done: true}

  @impl true
  def handle_query("awaited", [], state), do: {:reply, state.awaited}
end

counts =
  case System.argv() do
    [] -> [10, 1_000, 5_000]
    args -> Enum.map(args, &String.to_integer/1)
  end

size = 20_000
Logger.configure(level: :error)
{:ok, _} = Application.ensure_all_started(:hourglass)

# The `temporal` wrapper that raises the dev server's history limits (see the top).
temporal = DevServer.executable() || raise "no temporal CLI (bin/setup installs it)"

wrapper_dir =
  Path.join(System.tmp_dir!(), "workflow_memory_bench_#{System.unique_integer([:positive])}")

File.mkdir_p!(wrapper_dir)

File.write!(Path.join(wrapper_dir, "temporal"), """
#!/bin/sh
if [ "$1 $2" = "server start-dev" ]; then
  shift 2
  exec #{temporal} server start-dev \\
    --dynamic-config-value limit.historySize.error=1000000000 \\
    --dynamic-config-value limit.historySize.warn=500000000 "$@"
fi
exec #{temporal} "$@"
""")

File.chmod!(Path.join(wrapper_dir, "temporal"), 0o755)
System.put_env("PATH", wrapper_dir <> ":" <> System.get_env("PATH"))

{:ok, server} = DevServer.start_link([])
address = DevServer.address(server)
queue = "workflow-memory"

{:ok, worker} =
  Hourglass.Worker.start_link(
    task_queue: queue,
    address: address,
    workflows: [WorkflowMemoryBench.Discards],
    activities: [WorkflowMemoryBench.Bytes]
  )

{:ok, client} = Client.connect(address: address)

# The run's process: the child of the executor supervisor whose context names the workflow id.
run_process = fn workflow_id ->
  Hourglass.WorkflowExecutor.DynamicSupervisor
  |> DynamicSupervisor.which_children()
  |> Enum.find_value(fn {_, pid, _, _} ->
    with {:dictionary, dictionary} <- Process.info(pid, :dictionary),
         %{info: %{workflow_id: ^workflow_id}} <-
           Keyword.get(dictionary, :"$hourglass_workflow_run"),
         do: pid,
         else: (_ -> nil)
  end)
end

# Until the run has awaited all `count` results (a query is answered while the run waits, so
# an answer of `count` means the main routine is past its loop, in wait_condition).
wait_until_awaited = fn handle, count ->
  Stream.repeatedly(fn ->
    case Client.query_workflow(client, handle, "awaited", []) do
      {:ok, ^count} -> :ok
      {:ok, _fewer} -> Process.sleep(500) && :waiting
      {:error, reason} -> {:error, reason}
    end
  end)
  # A query can time out while a workflow task is open; a few in a row cannot.
  |> Stream.scan({0, nil}, fn
    {:error, reason}, {errors, _} when errors >= 10 ->
      raise "#{handle.workflow_id}: queries failed: #{inspect(reason)}"

    {:error, reason}, {errors, _} ->
      {errors + 1, reason}

    outcome, _ ->
      {0, outcome}
  end)
  |> Enum.find(&match?({0, :ok}, &1))
end

IO.puts(
  "Hourglass #{String.slice(elem(System.cmd("git", ["rev-parse", "HEAD"]), 0), 0, 7)}, " <>
    "OTP #{System.otp_release()}, Elixir #{System.version()}, " <>
    "#{:erlang.system_info(:schedulers_online)} schedulers, results of #{size} bytes"
)

IO.puts("| awaited | process memory (B) | binaries (B) | total (B) | took (s) |")
IO.puts("| ---: | ---: | ---: | ---: | ---: |")

try do
  for count <- counts do
    id = "workflow-memory-#{count}-#{System.unique_integer([:positive])}"
    started = System.monotonic_time(:millisecond)

    {:ok, handle} =
      Client.start_workflow(client, "WorkflowMemoryBench", [count, size],
        id: id,
        task_queue: queue
      )

    wait_until_awaited.(handle, count)
    took = (System.monotonic_time(:millisecond) - started) / 1000
    pid = run_process.(id) || raise "#{id}: no run process"
    true = :erlang.garbage_collect(pid)
    {:memory, memory} = Process.info(pid, :memory)
    {:binary, binaries} = Process.info(pid, :binary)
    binary_bytes = binaries |> Enum.uniq_by(&elem(&1, 0)) |> Enum.map(&elem(&1, 1)) |> Enum.sum()

    IO.puts(
      "| #{count} | #{memory} | #{binary_bytes} | #{memory + binary_bytes} | " <>
        "#{:erlang.float_to_binary(took, decimals: 1)} |"
    )

    :ok = Client.signal_workflow(client, handle, "done", [])
    {:ok, ^count} = Client.workflow_result(client, handle, timeout: 120_000)
  end
after
  Hourglass.Worker.stop(worker)
  DevServer.stop(server)
  File.rm_rf!(wrapper_dir)
end
