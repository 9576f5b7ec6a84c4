# Ports of temporalio/features' signal features (features/signal/*/feature.py).

defmodule Hourglass.Features.Signal.Basic do
  @moduledoc false
  # features/signal/basic: waits for "my_signal" and returns its argument.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{value: ""}

  @impl true
  def run do
    :ok = Workflow.wait_condition(&(&1.value != ""))
    {:ok, Workflow.state().value}
  end

  @impl true
  def handle_signal("my_signal", [value], state), do: %{state | value: value}
end

defmodule Hourglass.Features.Signal.External do
  @moduledoc false
  # features/signal/external: waits for "external_signal", sent from outside, and returns its
  # argument.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{value: nil}

  @impl true
  def run do
    :ok = Workflow.wait_condition(&(&1.value != nil))
    {:ok, Workflow.state().value}
  end

  @impl true
  def handle_signal("external_signal", [value], state), do: %{state | value: value}
end

defmodule Hourglass.Features.Signal.ChildWorkflow do
  @moduledoc false
  # features/signal/child_workflow: starts a child with an argument, signals it, and returns
  # the child's result.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def run do
    # Named explicitly, as the Python reference names it: each SDK draws a child's default id
    # from its own randomness, and a replay compares the ids.
    id = Workflow.info().workflow_id <> "-child"
    {:ok, child} = Workflow.start_child_workflow("ChildWorkflow", ["child-wf-arg"], id: id)
    :ok = Workflow.signal_external_workflow(child, "my_signal", ["signal-arg"])
    Workflow.await(child)
  end

  defmodule Child do
    @moduledoc false
    use Hourglass.Workflow, name: "ChildWorkflow"
    alias Hourglass.Workflow

    @impl true
    def init([_input]), do: %{value: ""}

    @impl true
    def run(input) do
      :ok = Workflow.wait_condition(&(&1.value != ""))
      {:ok, "#{input} #{Workflow.state().value}"}
    end

    @impl true
    def handle_signal("my_signal", [value], state), do: %{state | value: value}
  end
end
