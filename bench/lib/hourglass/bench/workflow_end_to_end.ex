defmodule Hourglass.Bench.WorkflowEndToEnd do
  @moduledoc """
  Workflows end to end on one local dev server: the Hourglass worker (with the VM's default
  flags, and without busy-waiting schedulers), the official Python SDK worker and the Rust SDK
  worker each serve the same benchmark workflows (`Hourglass.Bench.Workflows`; the peers' in
  `bench/peers/`) and the echo activity they call. For each workflow type — 3 sequential
  activities, 10 parallel activities, 5 sequential timers — the same driver
  (`bench/peers/drive_workflows.py`) runs `:count` (default 500) workflows, at most
  `:concurrency` (default 100) at once. For each worker: workflows per second, latency, the
  worker process's CPU time (the OS's accounting; it includes the activities the workflows
  call), and that CPU time per workflow and per workflow task, with the workflow tasks counted
  in the histories (WorkflowTaskCompleted events), and the median time the workflow tasks and
  the activities waited in the server's queues and ran on the worker (from the events' times).
  On 2 cores the dev server is the bottleneck for throughput: compare CPU. Every worker connects
  with `:grpc_compression` (default `:gzip`, the SDKs' default).
  """

  alias Hourglass.{Bench, DevServer}
  alias Hourglass.Bench.Peer

  @workers [:hourglass, :hourglass_no_spin, :python, :rust]
  @ours [:hourglass, :hourglass_no_spin]
  @types ["BenchSeq3", "BenchPar10", "BenchTimers5"]

  @doc "Runs the suite."
  def run(opts \\ []) do
    count = Keyword.get(opts, :count, 500)
    concurrency = Keyword.get(opts, :concurrency, 100)
    workers = Keyword.get(opts, :workers, @workers)
    compression = Keyword.get(opts, :grpc_compression, :gzip)
    if :rust in workers, do: Peer.build()
    {:ok, server} = DevServer.start_link()
    address = DevServer.address(server)

    try do
      results =
        for {type, i} <- Enum.with_index(@types),
            worker <- rotate(workers, i),
            into: %{} do
          {"#{worker}/#{type}", run_one(worker, type, address, {count, concurrency}, compression)}
        end

      if Keyword.get(opts, :chart, true), do: chart(results, workers, compression)

      Map.merge(results, %{
        count: count,
        concurrency: concurrency,
        grpc_compression: compression,
        no_spin_flags: Peer.no_spin_flags(),
        cpu_per_task_vs_python: ratios(results, :python),
        cpu_per_task_vs_rust: ratios(results, :rust)
      })
    after
      DevServer.stop(server)
    end
  end

  # A different worker goes first for each workflow type.
  defp rotate(workers, i) do
    {front, back} = Enum.split(workers, rem(i, length(workers)))
    back ++ front
  end

  defp run_one(worker, type, address, {count, concurrency}, compression) do
    queue = "wf-e2e-#{worker}-#{type}-#{System.unique_integer([:positive])}"
    peer = Peer.start(worker, address, queue, 200, grpc_compression: compression)
    cpu_before = Peer.cpu_ms(peer.os_pid)
    summary = Peer.drive_workflows(address, queue, type, count, concurrency)
    cpu_after = Peer.cpu_ms(peer.os_pid)
    Peer.stop(peer)
    cpu = cpu_after - cpu_before
    completed = max(summary["completed"], 1)
    tasks = max(summary["workflow_tasks"], 1)

    %{
      throughput: summary["throughput"],
      latency_ms: summary["latency_ms"],
      completed: summary["completed"],
      failed: summary["failed"],
      workflow_tasks: summary["workflow_tasks"],
      # Where a workflow's time goes, from its history (see drive_workflows.py).
      phase_p50_ms: summary["phase_p50_ms"],
      worker_cpu_ms: Float.round(cpu, 1),
      worker_cpu_ms_per_workflow: Float.round(cpu / completed, 3),
      worker_cpu_ms_per_workflow_task: Float.round(cpu / tasks, 3)
    }
  end

  # Hourglass's CPU per workflow task over the peer's, per Hourglass worker and workflow type.
  defp ratios(results, peer),
    do: Bench.cpu_ratios(results, @ours, peer, @types, :worker_cpu_ms_per_workflow_task)

  defp chart(results, workers, compression) do
    Bench.cpu_chart(
      Bench.suite_name("workflow_end_to_end", compression),
      results,
      workers,
      @types,
      :worker_cpu_ms_per_workflow_task,
      title: "Worker CPU time per workflow task (ms, lower is better)",
      ylabel: "ms of CPU per workflow task"
    )
  end
end
