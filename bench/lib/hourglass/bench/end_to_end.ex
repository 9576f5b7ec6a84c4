defmodule Hourglass.Bench.EndToEnd do
  @moduledoc """
  End to end on one local dev server: the Hourglass worker (twice: with the VM's default flags,
  and with idle schedulers that do not busy-wait, `Hourglass.Bench.Peer.no_spin_flags/0`), the
  official Python SDK worker and the Rust SDK worker serve the same echo activity; the same
  driver runs `:count` (default 5_000) of them at `:concurrency` (default 200), driven as
  Standalone Activities and by workflows. For each: throughput, latency, and the worker
  process's CPU time per activity (the OS's accounting), because on such a machine the dev
  server is usually the bottleneck. Every worker connects with `:grpc_compression` (default
  `:gzip`, the SDKs' default).
  """

  alias Hourglass.{Bench, DevServer}
  alias Hourglass.Bench.Peer

  @workers [:hourglass, :hourglass_no_spin, :python, :rust]
  @ours [:hourglass, :hourglass_no_spin]
  @modes ["standalone", "workflow"]

  @doc "Runs the suite."
  def run(opts \\ []) do
    count = Keyword.get(opts, :count, 5_000)
    concurrency = Keyword.get(opts, :concurrency, 200)
    compression = Keyword.get(opts, :grpc_compression, :gzip)
    Peer.build()
    {:ok, server} = DevServer.start_link()
    address = DevServer.address(server)

    try do
      results =
        for mode <- @modes, worker <- rotate(@workers, mode), into: %{} do
          {"#{worker}/#{mode}", run_one(worker, mode, address, {count, concurrency}, compression)}
        end

      chart(results, compression)

      Map.merge(results, %{
        count: count,
        concurrency: concurrency,
        grpc_compression: compression,
        no_spin_flags: Peer.no_spin_flags(),
        cpu_vs_python: ratios(results, :python),
        cpu_vs_rust: ratios(results, :rust)
      })
    after
      DevServer.stop(server)
    end
  end

  # Alternate the order between modes, so no worker always runs first.
  defp rotate(workers, "standalone"), do: workers
  defp rotate(workers, _), do: Enum.reverse(workers)

  defp run_one(worker, mode, address, {count, concurrency}, compression) do
    queue = "e2e-#{worker}-#{mode}-#{System.unique_integer([:positive])}"
    peer = Peer.start(worker, address, queue, concurrency, grpc_compression: compression)
    cpu_before = Peer.cpu_ms(peer.os_pid)
    summary = Peer.drive(address, queue, mode, count, concurrency)
    cpu_after = Peer.cpu_ms(peer.os_pid)
    Peer.stop(peer)
    completed = max(summary["completed"], 1)

    %{
      throughput: summary["throughput"],
      latency_ms: summary["latency_ms"],
      completed: summary["completed"],
      failed: summary["failed"],
      worker_cpu_ms: Float.round(cpu_after - cpu_before, 1),
      worker_cpu_ms_per_activity: Float.round((cpu_after - cpu_before) / completed, 3)
    }
  end

  # Hourglass's CPU per activity over the peer's, per Hourglass worker and mode.
  defp ratios(results, peer),
    do: Bench.cpu_ratios(results, @ours, peer, @modes, :worker_cpu_ms_per_activity)

  defp chart(results, compression) do
    Bench.cpu_chart(
      Bench.suite_name("end_to_end", compression),
      results,
      @workers,
      @modes,
      :worker_cpu_ms_per_activity,
      title: "Worker CPU time per echo activity (ms, lower is better)",
      ylabel: "ms of CPU per activity"
    )
  end
end
