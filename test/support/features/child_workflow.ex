# Ports of temporalio/features' child workflow features (features/child_workflow/*/feature.py).
# The parents name their children explicitly, as the Python references do: each SDK draws a
# child's default id from its own randomness, and a replay compares the ids.

defmodule Hourglass.Features.ChildWorkflow.Result do
  @moduledoc false
  # features/child_workflow/result: returns what its child returns (the child's input).
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def run,
    do:
      Workflow.execute_child_workflow("ChildWorkflow", ["Test"],
        id: Workflow.info().workflow_id <> "-child"
      )

  defmodule Child do
    @moduledoc false
    use Hourglass.Workflow, name: "ChildWorkflow"

    @impl true
    def run(input), do: {:ok, input}
  end
end

defmodule Hourglass.Features.ChildWorkflow.Signal do
  @moduledoc false
  # features/child_workflow/signal: starts a child that waits for a signal, signals it, and
  # returns the child's result (the signal's argument).
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def run do
    {:ok, child} =
      Workflow.start_child_workflow("ChildWorkflow", [],
        id: Workflow.info().workflow_id <> "-child"
      )

    :ok = Workflow.signal_external_workflow(child, "unblock", ["unblock"])
    Workflow.await(child)
  end

  defmodule Child do
    @moduledoc false
    use Hourglass.Workflow, name: "ChildWorkflow"
    alias Hourglass.Workflow

    @impl true
    def init([]), do: %{message: nil}

    @impl true
    def run do
      :ok = Workflow.wait_condition(&(&1.message != nil))
      {:ok, Workflow.state().message}
    end

    @impl true
    def handle_signal("unblock", [message], state), do: %{state | message: message}
  end
end
