defmodule Hourglass.Integration.FaultsTest do
  # The fault suite (Hourglass.Faults) at CI size, against the run's dev server (the server
  # restart scenario starts one of its own). `mix hourglass.faults` runs it at full size.
  #
  # The scenarios here kill or count what the whole VM shares — the BridgeHolder, executors,
  # native tasks, memory, the fault activity's ETS count — so they run alone. Those that touch
  # only their own task queue, server or worker VMs run beside other modules, one module each
  # (Hourglass.Integration.FaultsTest.TwoNodes and the others below).
  use Hourglass.IntegrationCase, async: false

  @moduletag timeout: 600_000

  @beside_others ~w(two_nodes server_restart hostile_payloads wide_values workflows)

  @doc false
  def beside_others, do: @beside_others

  @doc false
  # Runs one scenario at CI size and checks that it lost nothing.
  def assert_scenario(scenario, address) do
    [result] = Hourglass.Faults.run([scenario], scale: :ci, address: address)
    assert Map.get(result, :lost, 0) == 0, inspect(result, pretty: true)
    assert result.ok, inspect(result, pretty: true)
  end

  for scenario <- Hourglass.Faults.scenarios() -- @beside_others do
    test "fault scenario #{scenario}: nothing is lost", ctx do
      assert_scenario(unquote(scenario), ctx.address)
    end
  end
end

for scenario <- Hourglass.Integration.FaultsTest.beside_others() do
  defmodule Module.concat(Hourglass.Integration.FaultsTest, Macro.camelize(scenario)) do
    use Hourglass.IntegrationCase, async: true

    @moduletag timeout: 600_000

    test "fault scenario #{scenario}: nothing is lost", ctx do
      Hourglass.Integration.FaultsTest.assert_scenario(unquote(scenario), ctx.address)
    end
  end
end
