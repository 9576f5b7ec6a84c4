defmodule Hourglass.Workflow.NondeterminismError do
  @moduledoc """
  Stands for a run whose code no longer issues the commands its history recorded (Core detects
  it on replay). It is never raised in workflow code: name it among the
  `:workflow_failure_exception_types` of `Hourglass.Worker` (or the `:failure_exception_types`
  of `use Hourglass.Workflow`) to fail such a workflow instead of its task. By default the
  task fails, and the server retries it until code that replays the history is deployed.
  """
  defexception message: "nondeterminism"
end
