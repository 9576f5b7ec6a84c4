defmodule Hourglass.Bench.Replay do
  @moduledoc """
  Replay speed: one `BenchLong` workflow (batches of 100 activities) runs on a dev server until
  its history has `:events` (default 10,000) events; its history, fetched with
  `Hourglass.Client.fetch_history/2`, is then replayed `:rounds` (default 5) times with
  `Hourglass.Replayer.replay_workflow/2` (each replay on a new Core replay worker, as users call
  it). Events per second of the median round.
  """

  alias Hourglass.{Bench, Client, Replayer}
  alias Hourglass.Bench.Workflows.Long
  alias Hourglass.Testing.WorkflowEnvironment

  @doc "Runs the suite."
  def run(opts \\ []) do
    events = Keyword.get(opts, :events, 10_000)
    rounds = Keyword.get(opts, :rounds, 5)
    {:ok, env} = WorkflowEnvironment.start_link()

    try do
      worker =
        WorkflowEnvironment.start_worker(env,
          workflows: [Long],
          activities: [Hourglass.Bench.Activities.Echo]
        )

      id = "bench-long-#{System.unique_integer([:positive])}"

      {:ok, _} =
        WorkflowEnvironment.execute_workflow(env, worker, Long, [events],
          id: id,
          timeout: 600_000
        )

      client = WorkflowEnvironment.client(env)
      {:ok, %{history_length: length}} = Client.describe_workflow(client, id)
      {:ok, history} = Client.fetch_history(client, id)

      times_ms =
        for _ <- 1..rounds do
          {micros, :ok} =
            :timer.tc(fn ->
              Replayer.replay_workflow(history, workflows: [Long], timeout: 600_000)
            end)

          micros / 1000
        end

      median_ms = Bench.median(times_ms)

      if Keyword.get(opts, :chart, true) do
        Bench.chart("replay", :bars, Enum.with_index(times_ms, &{"round #{&2 + 1}", &1}),
          title: "Replaying a #{length}-event history (ms per replay)",
          ylabel: "ms"
        )
      end

      %{
        history_events: length,
        history_bytes: byte_size(history.data),
        rounds_ms: Enum.map(times_ms, &Float.round(&1, 1)),
        median_ms: median_ms,
        events_per_second: round(length / (median_ms / 1000))
      }
    after
      GenServer.stop(env)
    end
  end
end
