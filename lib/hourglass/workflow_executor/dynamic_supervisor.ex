defmodule Hourglass.WorkflowExecutor.DynamicSupervisor do
  @moduledoc """
  The one supervisor of every cached workflow run in the VM, the activity executor's sibling.

  Started by the Hourglass application. Each run is a `restart: :temporary` child running
  `Hourglass.Workflow.Run`: started when Core initializes the run, stopped when Core evicts
  it. A run that dies is not restarted here: its worker fails the activation it was handling,
  Core evicts the run, and the next activation replays its history into a new process.
  """
  use DynamicSupervisor

  @doc "Starts the supervisor, registered under this module's name."
  @spec start_link(keyword()) :: Supervisor.on_start()
  def start_link(opts \\ []) do
    DynamicSupervisor.start_link(__MODULE__, opts, name: __MODULE__)
  end

  @doc "Starts the process of one run (see `Hourglass.Workflow.Run.start_link/1`)."
  @spec start_child(map()) :: DynamicSupervisor.on_start_child()
  def start_child(args) when is_map(args) do
    spec = %{
      id: Hourglass.Workflow.Run,
      start: {Hourglass.Workflow.Run, :start_link, [args]},
      restart: :temporary
    }

    DynamicSupervisor.start_child(__MODULE__, spec)
  end

  @impl true
  def init(_opts), do: DynamicSupervisor.init(strategy: :one_for_one)
end
