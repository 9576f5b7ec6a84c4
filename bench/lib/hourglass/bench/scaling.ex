defmodule Hourglass.Bench.Scaling do
  @moduledoc """
  Scaling: end-to-end throughput (Standalone echo activities on a local dev server) as the
  number of activities in flight grows from 1 to 1_000, for Hourglass and, on the same server in
  the same run, the official Python and Rust SDK workers — so that what the server allows shows
  beside what the worker does.
  """

  alias Hourglass.{Bench, DevServer}
  alias Hourglass.Bench.Peer

  @levels [1, 5, 20, 50, 100, 200, 500, 1_000]
  @workers [:hourglass, :python, :rust]

  @doc "Runs the suite."
  def run(opts \\ []) do
    levels = Keyword.get(opts, :levels, @levels)
    Peer.build()
    {:ok, server} = DevServer.start_link()
    address = DevServer.address(server)

    try do
      series = for worker <- @workers, into: %{}, do: {worker, points(worker, address, levels)}

      Bench.chart(
        "scaling",
        :lines,
        for(worker <- @workers, do: {"#{worker}", xy(series[worker])}),
        title: "Throughput as concurrency grows (standalone echo, one local dev server)",
        xlabel: "activities in flight",
        ylabel: "activities per second",
        logx: true
      )

      # Hourglass's points stay under `points`, where earlier results have them.
      %{points: series.hourglass, python: series.python, rust: series.rust}
    after
      DevServer.stop(server)
    end
  end

  defp points(worker, address, levels) do
    queue = "scaling-#{worker}-#{System.unique_integer([:positive])}"
    peer = Peer.start(worker, address, queue, Enum.max(levels))

    try do
      for concurrency <- levels do
        count = concurrency |> Kernel.*(4) |> max(100) |> min(2_000)
        summary = Peer.drive(address, queue, "standalone", count, concurrency)

        %{
          concurrency: concurrency,
          count: count,
          throughput: summary["throughput"],
          latency_ms: summary["latency_ms"]
        }
      end
    after
      Peer.stop(peer)
    end
  end

  defp xy(points), do: Enum.map(points, &{&1.concurrency, &1.throughput})
end
