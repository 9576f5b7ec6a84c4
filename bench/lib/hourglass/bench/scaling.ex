defmodule Hourglass.Bench.Scaling do
  @moduledoc """
  Scaling: Hourglass's end-to-end throughput (Standalone echo activities on a local dev server)
  as the number of activities in flight grows from 1 to 1_000.
  """

  alias Hourglass.{Bench, DevServer}
  alias Hourglass.Bench.Peer

  @levels [1, 5, 20, 50, 100, 200, 500, 1_000]

  @doc "Runs the suite."
  def run(opts \\ []) do
    levels = Keyword.get(opts, :levels, @levels)
    {:ok, server} = DevServer.start_link()
    address = DevServer.address(server)

    try do
      queue = "scaling-#{System.unique_integer([:positive])}"
      peer = Peer.start(:hourglass, address, queue, Enum.max(levels))

      points =
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

      Peer.stop(peer)

      Bench.chart(
        "scaling",
        :lines,
        [{"Hourglass, standalone echo", Enum.map(points, &{&1.concurrency, &1.throughput})}],
        title: "Throughput as concurrency grows (one local dev server)",
        xlabel: "activities in flight",
        ylabel: "activities per second",
        logx: true
      )

      %{points: points}
    after
      DevServer.stop(server)
    end
  end
end
