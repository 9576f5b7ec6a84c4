defmodule Mix.Tasks.Hourglass.Bench do
  @shortdoc "Runs the benchmarks and writes results and charts under bench/results"
  @moduledoc """
  Runs the benchmark suites, writing each result as JSON and a PNG chart under
  `bench/results/`:

      mix hourglass.bench                 # every suite
      mix hourglass.bench executor        # one suite, or several
      mix hourglass.bench workflow_end_to_end workflow_memory replay   # the workflow suites

  Suites: executor, scheduler, memory, end_to_end, scaling, workflow_end_to_end,
  workflow_memory, replay.

  See `bench/README.md` for what each suite measures and the latest figures.
  """
  use Mix.Task

  @suites %{
    "executor" => Hourglass.Bench.Executor,
    "scheduler" => Hourglass.Bench.Scheduler,
    "memory" => Hourglass.Bench.Memory,
    "end_to_end" => Hourglass.Bench.EndToEnd,
    "scaling" => Hourglass.Bench.Scaling,
    "workflow_end_to_end" => Hourglass.Bench.WorkflowEndToEnd,
    "workflow_memory" => Hourglass.Bench.WorkflowMemory,
    "replay" => Hourglass.Bench.Replay
  }
  @order ~w(executor scheduler memory end_to_end scaling workflow_end_to_end workflow_memory replay)

  @impl Mix.Task
  def run(args) do
    suites =
      case args do
        [] ->
          @order

        names ->
          Enum.map(names, fn name ->
            if Map.has_key?(@suites, name),
              do: name,
              else:
                Mix.raise("unknown suite #{inspect(name)}; suites: #{Enum.join(@order, ", ")}")
          end)
      end

    Mix.Task.run("app.start")
    Logger.configure(level: :warning)

    for suite <- suites do
      Mix.shell().info("== #{suite}")
      result = @suites[suite].run()
      path = Hourglass.Bench.write(suite, result)
      Mix.shell().info(Hourglass.Bench.JSON.encode(result))
      Mix.shell().info("written to #{Path.relative_to_cwd(path)}")
    end
  end
end
