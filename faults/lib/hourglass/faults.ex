defmodule Hourglass.Faults do
  @moduledoc """
  The fault suite: scenarios that break things around a running worker against a real dev
  server and count what was lost (it must be nothing). `mix hourglass.faults` runs them at full
  size; the test suite runs them at CI size (`test/integration/faults_test.exs`).

  | Scenario | CI size | Full size |
  | --- | --- | --- |
  | `two_nodes`: two worker VMs on one queue, one SIGKILLed mid-run | 40 | 400 |
  | `bridge_holder`: the BridgeHolder killed repeatedly | 100, 4 kills | 1,000, 24 kills |
  | `server_restart`: the dev server restarted mid-run | 30 | 300 |
  | `cancellation`: a cancellation storm | 100 | 1,000 |
  | `load`: `max_concurrent_activities: 200` under load | 1,000 | 20,000 |
  | `slot_churn`: 50 slots, executors killed at random, cancels, BridgeHolder kills | 300 | 10,000 |
  | `hostile_payloads`: hostile payloads | 8 inputs | 8 inputs |
  | `random_terms`: random terms into the API | 3,000 | 100,000 |
  | `wide_values`: the widest values through the payload API, Elixir and native activities | 3 cases | 15 cases |
  | `workflows`: run processes killed with a cache of 2; the worker VM killed | 20 + 20 | 200 + 1,000 |
  | `soak`: a steady rate with random faults | 12 s | 10 minutes, or `:duration` |
  """

  alias Hourglass.{Client, DevServer}
  alias Hourglass.Faults

  @scenarios ~w(two_nodes bridge_holder server_restart cancellation load slot_churn hostile_payloads random_terms wide_values workflows soak)

  @doc "The scenario names, in the order they run."
  @spec scenarios() :: [String.t()]
  def scenarios, do: @scenarios

  @doc """
  Runs `names` (default: all) at `scale` (`:ci` or `:full`) and returns one result map per
  scenario, each with `:ok` and, where activities ran, `:lost`. With `address: "host:port"` the
  scenarios use that server; otherwise a dev server is started for them. `:duration` (seconds)
  sets how long the soak runs.
  """
  @spec run([String.t()], keyword()) :: [map()]
  def run(names \\ @scenarios, opts \\ []) do
    scale = Keyword.get(opts, :scale, :ci)
    {address, server} = server(opts[:address])
    {:ok, client} = Client.connect(address: address)
    context = %{address: address, client: client}

    try do
      for name <- names do
        started = System.monotonic_time(:millisecond)
        result = run_one(name, context, scale, opts[:duration])
        Map.put(result, :seconds, (System.monotonic_time(:millisecond) - started) / 1000)
      end
    after
      if server, do: DevServer.stop(server)
    end
  end

  defp server(nil) do
    {:ok, server} = DevServer.start_link()
    {DevServer.address(server), server}
  end

  defp server(address), do: {address, nil}

  defp run_one("soak", context, scale, duration),
    do: Faults.Soak.run(context, duration || size(scale, 12, 600))

  defp run_one(name, context, scale, _duration), do: run_one(name, context, scale)

  defp run_one("two_nodes", context, scale),
    do: Faults.TwoNodes.run(context, size(scale, 40, 400))

  defp run_one("bridge_holder", context, scale),
    do: Faults.BridgeHolderKills.run(context, size(scale, 100, 1_000), size(scale, 4, 24))

  defp run_one("server_restart", context, scale),
    do: Faults.ServerRestart.run(context, size(scale, 30, 300))

  defp run_one("cancellation", context, scale),
    do: Faults.Cancellation.run(context, size(scale, 100, 1_000))

  defp run_one("load", context, scale), do: Faults.Load.run(context, size(scale, 1_000, 20_000))

  defp run_one("slot_churn", context, scale),
    do: Faults.SlotChurn.run(context, size(scale, 300, 10_000))

  defp run_one("hostile_payloads", context, _scale), do: Faults.HostilePayloads.run(context)

  defp run_one("random_terms", context, scale),
    do: Faults.RandomTerms.run(context, size(scale, 3_000, 100_000))

  defp run_one("wide_values", context, scale), do: Faults.WideValues.run(context, scale)

  defp run_one("workflows", context, scale),
    do:
      Faults.Workflows.run(
        context,
        size(scale, %{killed_runs: 20, vm_killed: 20}, %{killed_runs: 200, vm_killed: 1_000})
      )

  defp run_one(name, _context, _scale),
    do:
      raise(
        ArgumentError,
        "unknown scenario #{inspect(name)}; scenarios: #{Enum.join(@scenarios, ", ")}"
      )

  defp size(:ci, ci, _full), do: ci
  defp size(:full, _ci, full), do: full
end
