# Ports of temporalio/features' schedule features (features/schedule/*/feature.py).

defmodule Hourglass.Features.Schedule.Cron do
  @moduledoc false
  # features/schedule/cron: started with the cron schedule "@every 2s", each run sees it in
  # its info (a run that does not fails its task, as the feature's assert does).
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def run do
    "@every 2s" = Workflow.info().cron_schedule
    {:ok, nil}
  end
end
