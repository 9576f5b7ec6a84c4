defmodule Mix.Tasks.Hourglass.Server do
  @shortdoc "Runs a Temporal dev server with its web UI"
  @moduledoc """
  Runs a Temporal dev server (the `temporal` CLI's `server start-dev`) with its web UI, on free
  loopback ports, until interrupted.

      mix hourglass.server [--port 7233] [--db-filename temporal.db] [--namespace NAME]

  Prints the gRPC address for workers and clients, and the web UI's URL.
  """
  use Mix.Task

  @switches [port: :integer, db_filename: :string, namespace: :string]

  @impl Mix.Task
  def run(args) do
    {opts, rest, invalid} = OptionParser.parse(args, strict: @switches)

    if rest != [] or invalid != [] do
      Mix.raise(
        "unexpected arguments #{inspect(rest ++ Enum.map(invalid, &elem(&1, 0)))}; " <>
          "usage: mix hourglass.server [--port N] [--db-filename FILE] [--namespace NAME]"
      )
    end

    Mix.Task.run("app.start")

    case Hourglass.DevServer.start_link([ui: true] ++ opts) do
      {:ok, server} ->
        Mix.shell().info("Temporal dev server: #{Hourglass.DevServer.address(server)}")
        Mix.shell().info("Web UI:              #{Hourglass.DevServer.ui_url(server)}")
        Mix.shell().info("Press Ctrl+C twice to stop.")
        Process.sleep(:infinity)

      {:error, reason} ->
        Mix.raise("could not start the dev server: #{inspect(reason)}")
    end
  end
end
