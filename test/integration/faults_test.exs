defmodule Hourglass.Integration.FaultsTest do
  # The fault suite (Hourglass.Faults) at CI size, against the run's dev server (the server
  # restart scenario starts one of its own). `mix hourglass.faults` runs it at full size.
  use Hourglass.IntegrationCase, async: false

  @moduletag timeout: 600_000

  for scenario <- Hourglass.Faults.scenarios() do
    test "fault scenario #{scenario}: nothing is lost", ctx do
      [result] = Hourglass.Faults.run([unquote(scenario)], scale: :ci, address: ctx.address)
      assert Map.get(result, :lost, 0) == 0, inspect(result, pretty: true)
      assert result.ok, inspect(result, pretty: true)
    end
  end
end
