# Ports of temporalio/features' activity features (features/activity/*/feature.py).

defmodule Hourglass.Features.Activity.Echo do
  @moduledoc false
  use Hourglass.Activity, name: "echo"
  def execute, do: {:ok, "echo"}
end

defmodule Hourglass.Features.Activity.BasicNoWorkflowTimeout do
  @moduledoc false
  # features/activity/basic_no_workflow_timeout: two activities, one with only a
  # schedule-to-close timeout, one with only start-to-close; no execution timeout.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def run do
    {:ok, _} = Workflow.execute_activity("echo", [], schedule_to_close_timeout: 60_000)
    Workflow.execute_activity("echo", [], start_to_close_timeout: 60_000)
  end
end

defmodule Hourglass.Features.Activity.AlwaysFail do
  @moduledoc false
  use Hourglass.Activity, name: "always_fail_activity"

  def execute,
    do:
      {:error,
       %Hourglass.ApplicationError{
         message: "activity attempt #{Hourglass.Activity.info().attempt} failed"
       }}
end

defmodule Hourglass.Features.Activity.RetryOnError do
  @moduledoc false
  # features/activity/retry_on_error: an activity that always fails, retried at once up to five
  # attempts; the workflow fails with its error.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def run do
    with {:ok, _} <-
           Workflow.execute_activity("always_fail_activity", [],
             schedule_to_close_timeout: 60_000,
             retry_policy: [initial_interval: 1, backoff_coefficient: 1.0, maximum_attempts: 5]
           ),
         do: {:ok, nil}
  end
end
