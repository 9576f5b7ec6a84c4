defmodule Mix.Tasks.Hourglass.Faults do
  @shortdoc "Runs the fault suite against a real Temporal dev server"
  @moduledoc """
  Runs the fault scenarios of `Hourglass.Faults` and prints what each survived and lost.

      mix hourglass.faults                       # every scenario, full size
      mix hourglass.faults load cancellation     # some of them
      mix hourglass.faults --scale ci            # the sizes the test suite uses
      mix hourglass.faults --address localhost:7233
      mix hourglass.faults soak --duration 7200  # a two-hour soak (default 600 s at full size)

  Exits non-zero when a scenario lost an activity or failed its checks.
  """
  use Mix.Task

  @impl Mix.Task
  def run(args) do
    {opts, names, invalid} =
      OptionParser.parse(args, strict: [scale: :string, address: :string, duration: :integer])

    if invalid != [],
      do: Mix.raise("unknown options: #{Enum.map_join(invalid, ", ", &elem(&1, 0))}")

    scale =
      case Keyword.get(opts, :scale, "full") do
        "full" -> :full
        "ci" -> :ci
        other -> Mix.raise("--scale must be ci or full, got: #{other}")
      end

    unknown = names -- Hourglass.Faults.scenarios()

    if unknown != [],
      do:
        Mix.raise(
          "unknown scenarios #{inspect(unknown)}; scenarios: #{Enum.join(Hourglass.Faults.scenarios(), ", ")}"
        )

    Mix.Task.run("app.start")
    # The scenarios provoke errors on purpose; their logs would drown the figures.
    Logger.configure(level: :critical)
    names = if names == [], do: Hourglass.Faults.scenarios(), else: names

    results =
      Hourglass.Faults.run(names,
        scale: scale,
        address: opts[:address],
        duration: opts[:duration]
      )

    for result <- results do
      figures =
        result
        |> Map.drop([:scenario, :ok, :outcomes])
        |> Enum.map_join(", ", fn {key, value} -> "#{key}: #{inspect(value, limit: 8)}" end)

      Mix.shell().info(
        "#{if result.ok, do: "ok  ", else: "FAIL"} #{result.scenario} — #{figures}"
      )
    end

    lost = results |> Enum.map(&Map.get(&1, :lost, 0)) |> Enum.sum()
    Mix.shell().info("activities lost in all: #{lost}")
    unless Enum.all?(results, & &1.ok), do: exit({:shutdown, 1})
  end
end
