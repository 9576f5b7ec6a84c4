# Ports of temporalio/features' continue-as-new features (features/continue_as_new/*/feature.py).

defmodule Hourglass.Features.ContinueAsNew.ContinueAsSame do
  @moduledoc false
  # features/continue_as_new/continue_as_same: the first run continues as new with its input,
  # the next returns it.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def run(input) do
    if Workflow.info().continued_from_execution_run_id,
      do: {:ok, input},
      else: Workflow.continue_as_new([input])
  end
end
