# Ports of temporalio/features' update features (features/update/*/feature.py). The handlers of
# the last ones wait (activities, conditions): after a wait, they change the state with
# Workflow.update_state/1 (the state they were given is out of date) and reply with it.

defmodule Hourglass.Features.Update.Basic do
  @moduledoc false
  # features/update/basic: "do_update" answers "updated" and lets the workflow end.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{done: false}

  @impl true
  def run do
    :ok = Workflow.wait_condition(& &1.done)
    {:ok, "Hello, World!"}
  end

  @impl true
  def handle_update("do_update", [], state), do: {:reply, "updated", %{state | done: true}}
end

defmodule Hourglass.Features.Update.BasicAsync do
  @moduledoc false
  # features/update/basic_async: the validator rejects "bad-update-arg"; an accepted update's
  # argument is what the workflow returns.
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
  def validate_update("my_update", ["bad-update-arg"], _state),
    do: {:error, "Invalid Update argument"}

  def validate_update("my_update", [_value], _state), do: :ok

  @impl true
  def handle_update("my_update", [value], state),
    do: {:reply, "update-result", %{state | value: value}}
end

defmodule Hourglass.Features.Update.NonDurableReject do
  @moduledoc false
  # features/update/non_durable_reject: the validator rejects negative numbers; the workflow
  # ends once the counter reaches five.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{counter: 0}

  @impl true
  def run do
    :ok = Workflow.wait_condition(&(&1.counter == 5))
    {:ok, Workflow.state().counter}
  end

  @impl true
  def validate_update("do_update", [amount], _state) when amount < 0,
    do: {:error, %Hourglass.ApplicationError{message: "I *HATE* negative numbers!"}}

  def validate_update("do_update", [_amount], _state), do: :ok

  @impl true
  def handle_update("do_update", [amount], state) do
    counter = state.counter + amount
    {:reply, counter, %{state | counter: counter}}
  end
end

defmodule Hourglass.Features.Update.SelfUpdate do
  @moduledoc false
  # The activity of features/update/self: updates the workflow that runs it.
  use Hourglass.Activity, name: "self_update"

  def execute do
    address = Application.fetch_env!(:hourglass, :test_server_address)
    {:ok, client} = Hourglass.Client.connect(address: address)

    case Hourglass.Client.execute_update(
           client,
           Hourglass.Activity.info().workflow_id,
           "update_me",
           []
         ) do
      {:ok, nil} -> :ok
      {:error, reason} -> {:error, reason}
    end
  end
end

defmodule Hourglass.Features.Update.Self do
  @moduledoc false
  # features/update/self: an activity updates the workflow running it, which lets it end.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{done: false}

  @impl true
  def run do
    # The feature gives the activity a second; as much as the Python reference gives it here
    # (the client connects and updates through the server on a loaded machine).
    {:ok, nil} = Workflow.execute_activity("self_update", [], start_to_close_timeout: 10_000)
    :ok = Workflow.wait_condition(& &1.done)
    {:ok, "Hello, World!"}
  end

  @impl true
  def handle_update("update_me", [], state), do: {:reply, nil, %{state | done: true}}
end

defmodule Hourglass.Features.Update.ClientInterceptor do
  @moduledoc false
  # features/update/client_interceptor: "do_update" returns its argument (which the Python
  # client's interceptor raised by one on its way).
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{done: false}

  @impl true
  def run do
    :ok = Workflow.wait_condition(& &1.done)
    {:ok, "Hello, World!"}
  end

  @impl true
  def handle_update("do_update", [value], state), do: {:reply, value, %{state | done: true}}
end

defmodule Hourglass.Features.Update.TaskFailures do
  @moduledoc false
  # How many workflow tasks a feature's update handler failed on purpose, kept outside the
  # runs (a run whose task failed is replayed into a new process, with a fresh state), as the
  # Python features keep it in a module global. The test sets it before a run and reads it
  # after.
  def reset(feature, count \\ 0) do
    counter = :counters.new(1, [])
    :counters.add(counter, 1, count)
    :persistent_term.put({__MODULE__, feature}, counter)
  end

  def count(feature), do: :counters.get(:persistent_term.get({__MODULE__, feature}), 1)

  def bump(feature), do: :counters.add(:persistent_term.get({__MODULE__, feature}), 1, 1)
end

defmodule Hourglass.Features.Update.TaskFailure do
  @moduledoc false
  # features/update/task_failure: "do_update" raises (not an ApplicationError), failing the
  # workflow task, twice; then it fails the update with an ApplicationError. The validator of
  # "throw_or_done" raises for true, which rejects the update; false lets the workflow end.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Features.Update.TaskFailures
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{done: false}

  @impl true
  def run do
    :ok = Workflow.wait_condition(& &1.done)
    {:ok, "Hello, World!"}
  end

  @impl true
  def validate_update("throw_or_done", [true], _state),
    do: raise("This will fail validation, not task")

  def validate_update("throw_or_done", [false], _state), do: :ok

  @impl true
  def handle_update("do_update", [], _state) do
    # Deliberately not deterministic: the count is what makes the task fail, then not.
    if Workflow.reviewed(TaskFailures.count(__MODULE__)) < 2 do
      Workflow.reviewed(TaskFailures.bump(__MODULE__))
      raise "I'll fail task"
    end

    raise Hourglass.ApplicationError, message: "I'll fail update"
  end

  def handle_update("throw_or_done", [_do_throw], state), do: {:reply, nil, %{state | done: true}}
end

defmodule Hourglass.Features.Update.ValidationReplay do
  @moduledoc false
  # features/update/validation_replay: "do_update" fails the first workflow task, so the update
  # is handled again after a replay; its validator would reject once the count passed one, but
  # does not run for an update already accepted.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Features.Update.TaskFailures
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{done: false}

  @impl true
  def run do
    :ok = Workflow.wait_condition(& &1.done)
    {:ok, "Hello, World!"}
  end

  @impl true
  def validate_update("do_update", [], _state) do
    if Workflow.reviewed(TaskFailures.count(__MODULE__)) > 1,
      do: {:error, %Hourglass.ApplicationError{message: "I would reject if I even ran :|"}},
      else: :ok
  end

  @impl true
  def handle_update("do_update", [], state) do
    if Workflow.reviewed(TaskFailures.count(__MODULE__)) == 0 do
      Workflow.reviewed(TaskFailures.bump(__MODULE__))
      raise "I'll fail task"
    end

    {:reply, nil, %{state | done: true}}
  end
end

defmodule Hourglass.Features.Update.SayHi do
  @moduledoc false
  use Hourglass.Activity, name: "say_hi"
  def execute, do: {:ok, "hi"}
end

defmodule Hourglass.Features.Update.Activities do
  @moduledoc false
  # features/update/activities: "do_activities" starts six activities at once, waits for them
  # all, then lets the workflow end.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{done: false}

  @impl true
  def run do
    :ok = Workflow.wait_condition(& &1.done)
    {:ok, "Hello, World!"}
  end

  @impl true
  def handle_update("do_activities", [], _state) do
    handles =
      for _ <- 1..6, do: Workflow.start_activity("say_hi", [], start_to_close_timeout: 60_000)

    for outcome <- Workflow.await_all(handles), do: {:ok, "hi"} = outcome
    {:reply, nil, Workflow.update_state(&%{&1 | done: true})}
  end
end

defmodule Hourglass.Features.Update.AsyncAccepted do
  @moduledoc false
  # features/update/async_accepted: "do_maybe_wait_update" given true waits for an "unblock"
  # signal (taking it) and answers 123; given false, it fails the update. "finish" ends the
  # workflow, whatever handlers still wait.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{done: false, proceed: false}

  @impl true
  def run do
    :ok = Workflow.wait_condition(& &1.done)
    {:ok, "Hello, World!"}
  end

  @impl true
  def handle_update("do_maybe_wait_update", [false], _state),
    do: raise(Hourglass.ApplicationError, message: "Dying on purpose")

  def handle_update("do_maybe_wait_update", [true], _state) do
    :ok = Workflow.wait_condition(& &1.proceed)
    {:reply, 123, Workflow.update_state(&%{&1 | proceed: false})}
  end

  @impl true
  def handle_signal("finish", [], state), do: %{state | done: true}
  def handle_signal("unblock", [], state), do: %{state | proceed: true}
end

defmodule Hourglass.Features.Update.Deduplication do
  @moduledoc false
  # features/update/deduplication: "inc_counter" counts, then waits for an "unblock" signal
  # (taking it) and answers the count; the workflow ends once the count is two.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{counter: 0, proceed: false}

  @impl true
  def run do
    :ok = Workflow.wait_condition(&(&1.counter == 2))
    {:ok, "Hello, World!"}
  end

  @impl true
  def handle_update("inc_counter", [], _state) do
    Workflow.update_state(&%{&1 | counter: &1.counter + 1})
    :ok = Workflow.wait_condition(& &1.proceed)
    state = Workflow.update_state(&%{&1 | proceed: false})
    {:reply, state.counter, state}
  end

  @impl true
  def handle_signal("unblock", [], state), do: %{state | proceed: true}
end

defmodule Hourglass.Features.Update.Blocks do
  @moduledoc false
  # The activity of features/update/worker_restart: tells the test process it started (with its
  # attempt), then blocks until the test gives leave (a permit, taken by whichever attempt
  # waits then), as the feature's semaphores. A cancelled attempt (its worker stopping) stops.
  use Hourglass.Activity, name: "blocks"
  alias Hourglass.Activity

  # The test that reports go to, with no permit yet.
  def reset(test) do
    :persistent_term.put({__MODULE__, :test}, test)
    :persistent_term.put({__MODULE__, :permits}, :atomics.new(1, []))
  end

  def release, do: :atomics.add(:persistent_term.get({__MODULE__, :permits}), 1, 1)

  def execute do
    send(:persistent_term.get({__MODULE__, :test}), {:blocks_started, Activity.info().attempt})
    await_permit(:persistent_term.get({__MODULE__, :permits}))
  end

  defp await_permit(permits) do
    permit = :atomics.get(permits, 1)

    cond do
      permit > 0 and :atomics.compare_exchange(permits, 1, permit, permit - 1) == :ok ->
        {:ok, "hi"}

      Activity.cancelled?() ->
        raise Activity.CancelledError

      true ->
        Process.sleep(20)
        await_permit(permits)
    end
  end
end

defmodule Hourglass.Features.Update.WorkerRestart do
  @moduledoc false
  # features/update/worker_restart: "do_activities" runs the blocking activity, then lets the
  # workflow end.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{done: false}

  @impl true
  def run do
    :ok = Workflow.wait_condition(& &1.done)
    {:ok, "Hello, World!"}
  end

  @impl true
  def handle_update("do_activities", [], _state) do
    {:ok, "hi"} = Workflow.execute_activity("blocks", [], start_to_close_timeout: 60_000)
    {:reply, nil, Workflow.update_state(&%{&1 | done: true})}
  end
end
