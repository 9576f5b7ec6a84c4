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

defmodule Hourglass.Features.ContinueAsNew.FirstTaskGate do
  @moduledoc false
  # The blocking of features/continue_as_new/updates_do_not_block_continue_as_new (never done in
  # real workflows): once only, the first time the workflow's code runs after the test armed
  # the gate (replays run unarmed), the workflow tells the test it is in its first task and
  # waits, in the task, until the test says the checker saw the update admitted.
  def arm(test), do: :persistent_term.put({__MODULE__, :test}, test)

  def block do
    case :persistent_term.get({__MODULE__, :test}, nil) do
      nil ->
        :ok

      test ->
        :persistent_term.erase({__MODULE__, :test})
        send(test, {:first_task_in_progress, self()})

        receive do
          :update_admitted -> :ok
        end
    end
  end
end

defmodule Hourglass.Features.ContinueAsNew.UpdatesDoNotBlockContinueAsNew do
  @moduledoc false
  # features/continue_as_new/updates_do_not_block_continue_as_new: the first run's first task
  # blocks until the update is admitted (FirstTaskGate), then continues as new; the next run
  # waits for the update, which answers its run id, and returns that id.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Features.ContinueAsNew.FirstTaskGate
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{received_update: false}

  @impl true
  def run do
    # Deliberately outside the history: the feature blocks the task on purpose.
    Workflow.reviewed(FirstTaskGate.block())
    info = Workflow.info()

    if info.continued_from_execution_run_id do
      :ok = Workflow.wait_condition(& &1.received_update)
      {:ok, info.run_id}
    else
      Workflow.continue_as_new([])
    end
  end

  @impl true
  def handle_update("update", [], state),
    do: {:reply, Workflow.info().run_id, %{state | received_update: true}}
end
