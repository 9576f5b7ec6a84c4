defmodule Hourglass.Bench.WorkflowMemory do
  @moduledoc """
  Memory per cached idle workflow run: each worker (Hourglass, the Python SDK's, the Rust SDK's;
  cache of `:count` + 1,000 runs) holds `:count` (default 10,000) `BenchIdle` runs that wait for
  a signal, and the growth of its memory is divided by the count. For every worker the OS's
  figure: the growth of the process's resident memory (VmRSS), after a warm-up round of
  `:warm_up` (default 500) runs started and released (allocators keep what they once took). For Hourglass also the
  parts, from inside its VM: the growth of `:erlang.memory(:total)` (the run processes and what
  the VM holds for them), the memory of the run processes alone, and the growth of the NIF's
  Rust heap (Core's share: each run's history and state machines in its sticky cache).
  """

  alias Hourglass.{Bench, DevServer, WorkerNode}
  alias Hourglass.Bench.Peer

  @workers [:hourglass, :python, :rust]

  @doc "Runs the suite."
  def run(opts \\ []) do
    count = Keyword.get(opts, :count, 10_000)
    workers = Keyword.get(opts, :workers, @workers)
    warm_up = Keyword.get(opts, :warm_up, 500)
    if :rust in workers, do: Peer.build()
    {:ok, server} = DevServer.start_link()
    address = DevServer.address(server)

    try do
      results =
        for worker <- workers, into: %{}, do: {worker, measure(worker, address, count, warm_up)}

      if Keyword.get(opts, :chart, true) do
        Bench.chart(
          "workflow_memory",
          :bars,
          for(
            {worker, result} <- results,
            do: {Atom.to_string(worker), result.rss_bytes_per_run}
          ),
          title: "Resident memory per cached idle workflow run (#{count} runs; bytes)",
          ylabel: "bytes per run"
        )
      end

      Map.put(results, :count, count)
    after
      DevServer.stop(server)
    end
  end

  defp measure(worker, address, count, warm_up_count) do
    queue = "wf-memory-#{worker}-#{System.unique_integer([:positive])}"
    peer = Peer.start(worker, address, queue, 200, max_cached: count + 1_000)

    try do
      warm_up = Peer.start_idle(address, queue, warm_up_count, 100)
      %{"completed" => ^warm_up_count} = Peer.release_idle(warm_up)
      Process.sleep(1_000)
      before = snapshot(peer)
      idle = Peer.start_idle(address, queue, count, 100)
      Process.sleep(1_000)
      held = snapshot(peer)
      released = Peer.release_idle(idle)
      per_run = fn key -> div(held[key] - before[key], count) end

      Map.merge(
        %{
          rss_bytes_per_run: per_run.(:rss),
          seconds_to_start: elem(idle, 1)["seconds"],
          completed_after_release: released["completed"],
          failed_after_release: released["failed"]
        },
        if worker == :hourglass do
          %{
            beam_bytes_per_run: per_run.(:beam),
            run_process_bytes_per_run: div(held.run_process_bytes, max(held.run_processes, 1)),
            rust_bytes_per_run: per_run.(:rust),
            beam_and_rust_bytes_per_run: per_run.(:beam) + per_run.(:rust),
            run_processes: held.run_processes
          }
        else
          %{}
        end
      )
    after
      Peer.stop(peer)
    end
  end

  defp snapshot(%{worker: :hourglass} = peer),
    do: peer |> WorkerNode.stats() |> Map.put(:rss, WorkerNode.rss_bytes(peer))

  defp snapshot(peer), do: %{rss: WorkerNode.rss_bytes(peer)}
end
