defmodule Mix.Tasks.Hourglass.Demo do
  @shortdoc "Runs a batch of activities or workflows through a worker and prints a summary"
  @moduledoc """
  The quickest way to see Hourglass work: starts an embedded Temporal dev server (unless
  `--address` is given), a worker with an Elixir activity and native ones, runs a batch of
  Standalone Activities (or, with `--workflows`, of Elixir workflows that each run three
  activities and a timer) through `Hourglass.Client` with a live progress bar, and prints
  count, throughput, p50/p99 latency, failures and the dev server's web UI address.

      mix hourglass.demo [--address HOST:PORT] [--count N] [--concurrency N]
                         [--activity greet|echo|sha256|mix] [--workflows]

  See `Hourglass.Demo`.
  """
  use Mix.Task

  @switches [
    address: :string,
    count: :integer,
    concurrency: :integer,
    activity: :string,
    workflows: :boolean
  ]

  @impl Mix.Task
  def run(args) do
    {opts, rest, invalid} = OptionParser.parse(args, strict: @switches)

    cond do
      invalid != [] ->
        Mix.raise("invalid option #{invalid |> hd() |> elem(0)}; usage: #{usage()}")

      rest != [] ->
        Mix.raise("unexpected argument #{inspect(hd(rest))}; usage: #{usage()}")

      true ->
        case Hourglass.Demo.validate(opts) do
          {:ok, _} -> :ok
          {:error, message} -> Mix.raise(message)
        end

        Mix.Task.run("app.start")

        case Hourglass.Demo.run(opts) do
          {:ok, %{failed: 0}} -> :ok
          {:ok, %{failed: failed, kind: kind}} -> Mix.raise("#{failed} #{kind} failed")
          {:error, message} -> Mix.raise(to_string(message))
        end
    end
  end

  defp usage,
    do:
      "mix hourglass.demo [--address HOST:PORT] [--count N] [--concurrency N] " <>
        "[--activity greet|echo|sha256|mix] [--workflows]"
end
