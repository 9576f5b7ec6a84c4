defmodule Mix.Tasks.Hourglass.Bench do
  @shortdoc "Runs the benchmarks and writes results and charts under bench/results"
  @moduledoc """
  Runs the benchmark suites, writing each result as JSON and a PNG chart under
  `bench/results/`:

      mix hourglass.bench                 # every suite
      mix hourglass.bench executor        # one suite, or several
      mix hourglass.bench workflow_end_to_end workflow_memory replay   # the workflow suites
      mix hourglass.bench end_to_end --grpc-compression none   # every worker without gzip

  `--grpc-compression none` runs every worker of the end-to-end suites (Hourglass and the
  peers alike) without gRPC compression; their results go to `SUITE_grpc_none.json`.

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
  # The suites whose workers connect with a compression setting of the run's.
  @compressible ~w(end_to_end workflow_end_to_end)

  @impl Mix.Task
  def run(args) do
    {switches, names} = OptionParser.parse!(args, strict: [grpc_compression: :string])

    compression =
      case Keyword.get(switches, :grpc_compression, "gzip") do
        "gzip" -> :gzip
        "none" -> :none
        other -> Mix.raise("--grpc-compression is gzip or none, got #{inspect(other)}")
      end

    suites =
      case names do
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

      {result, name} =
        if suite in @compressible,
          do:
            {@suites[suite].run(grpc_compression: compression),
             Hourglass.Bench.suite_name(suite, compression)},
          else: {@suites[suite].run(), suite}

      path = Hourglass.Bench.write(name, result)
      Mix.shell().info(Hourglass.Bench.JSON.encode(result))
      Mix.shell().info("written to #{Path.relative_to_cwd(path)}")
    end
  end
end
