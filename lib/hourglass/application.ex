defmodule Hourglass.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    with :ok <- Hourglass.Native.ensure_loaded() do
      children = [
        Hourglass.Native.LogForwarder,
        # Which worker serves which task queue in this VM (one each; see Hourglass.Worker).
        {Registry, keys: :unique, name: Hourglass.Worker.Registry},
        Hourglass.ActivityRegistry,
        Hourglass.BridgeHolder,
        Hourglass.ActivityExecutor.DynamicSupervisor,
        Hourglass.WorkflowExecutor.DynamicSupervisor
      ]

      Supervisor.start_link(children, strategy: :one_for_one, name: Hourglass.Supervisor)
    end
  end
end
