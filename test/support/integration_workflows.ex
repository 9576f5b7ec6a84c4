defmodule Hourglass.IntegrationWorkflows do
  @moduledoc false
  # Elixir workflows the integration tests run on a worker, driven by the Python SDK's client
  # (test/support/python/workflow_client.py).

  defmodule Approval do
    @moduledoc false
    use Hourglass.Workflow, name: "Approval"
    alias Hourglass.Workflow

    @impl true
    def init([_order]), do: %{approver: nil}

    @impl true
    def run(order) do
      :ok = Workflow.wait_condition(fn state -> state.approver != nil end)
      {:ok, receipt} = Workflow.execute_activity("echo", [order], start_to_close_timeout: 10_000)
      {:ok, %{"receipt" => receipt, "approver" => Workflow.state().approver}}
    end

    @impl true
    def handle_signal("approve", [by], state), do: %{state | approver: by}

    @impl true
    def handle_query("approver", [], state), do: {:reply, state.approver}
  end

  defmodule FanOut do
    @moduledoc false
    # `count` native sleeps of `ms` at once, then a timer of `ms`; returns the results and how
    # much workflow time each part took.
    use Hourglass.Workflow, name: "FanOut"
    alias Hourglass.Workflow

    @impl true
    def run(count, ms) do
      started = Workflow.now()

      handles =
        for _ <- 1..count,
            do: Workflow.start_activity("hourglass.sleep", [ms], start_to_close_timeout: 30_000)

      results = Workflow.await_all(handles)
      activities_done = Workflow.now()
      :ok = Workflow.sleep(ms)

      {:ok,
       %{
         "results" => Enum.map(results, fn {:ok, value} -> value end),
         "activities_ms" => DateTime.diff(activities_done, started, :millisecond),
         "timer_ms" => DateTime.diff(Workflow.now(), activities_done, :millisecond)
       }}
    end
  end

  defmodule Failing do
    @moduledoc false
    # Runs a non-retryable failing activity, then fails the workflow with what it saw.
    use Hourglass.Workflow, name: "Failing"
    alias Hourglass.{ActivityError, ApplicationError, Workflow}

    @impl true
    def run do
      {:error, %ActivityError{cause: {:failed, %ApplicationError{} = cause}}} =
        Workflow.execute_activity("non_retryable", [], start_to_close_timeout: 10_000)

      {:error,
       %ApplicationError{
         type: "Rejected",
         message: "the activity said: #{cause.message}",
         details: [%{"activity_error_type" => cause.type}],
         non_retryable: true
       }}
    end
  end

  defmodule Replayed do
    @moduledoc false
    # Deterministic values taken at the start, kept in the state and queried; waits for a
    # signal, so that a small cache evicts it and a replay must make the same values.
    use Hourglass.Workflow, name: "Replayed"
    alias Hourglass.Workflow

    # Counts the processes the run had (one more after each eviction): test instrumentation,
    # not something workflow code should do.
    @impl true
    def init([name]) do
      Hourglass.Workflow.reviewed(
        :ets.update_counter(:hourglass_replayed_inits, name, 1, {name, 0})
      )

      %{done: false}
    end

    @impl true
    def run(name) do
      values = %{
        "uuid" => Workflow.uuid4(),
        "random" => Workflow.random(),
        "name" => name,
        # A replay must take the path the first run took (Core tells it the history's markers).
        "patched" => Workflow.patched?("values-v2")
      }

      Workflow.update_state(&Map.put(&1, :values, values))
      :ok = Workflow.wait_condition(& &1.done)
      {:ok, values}
    end

    @impl true
    def handle_signal("done", [], state), do: %{state | done: true}

    @impl true
    def handle_query("values", [], state), do: {:reply, state[:values]}
  end

  defmodule Cancellable do
    @moduledoc false
    # Waits on a long timer; cancelled, it ends cancelled.
    use Hourglass.Workflow, name: "Cancellable"
    alias Hourglass.Workflow

    @impl true
    def run do
      case Workflow.sleep(600_000) do
        :ok -> {:ok, "slept"}
        {:error, :cancelled} -> {:error, :cancelled}
      end
    end
  end

  defmodule Crashing do
    @moduledoc false
    # Raises (a failed workflow task, which the server retries) until the test deploys the fix.
    use Hourglass.Workflow, name: "Crashing"

    @impl true
    def run(key) do
      if Hourglass.Workflow.reviewed(:persistent_term.get({__MODULE__, key}, false)),
        do: {:ok, "fixed"},
        else: raise("not fixed yet")
    end
  end

  defmodule Stuck do
    @moduledoc false
    # Blocks its process on the first activation until the test releases it (what workflow code
    # must never do); afterwards it returns at once.
    use Hourglass.Workflow, name: "Stuck"

    @impl true
    def run(key) do
      if Hourglass.Workflow.reviewed(:persistent_term.get({__MODULE__, key}, false)) do
        {:ok, "released"}
      else
        Hourglass.Workflow.reviewed(Process.sleep(:infinity))
      end
    end
  end

  defmodule Looping do
    @moduledoc false
    # Continues as new `n` times, carrying what each run saw.
    use Hourglass.Workflow, name: "Looping"
    alias Hourglass.Workflow

    @impl true
    def run(0, seen),
      do:
        {:ok,
         %{"seen" => seen, "continued" => Workflow.info().continued_from_execution_run_id != nil}}

    def run(n, seen), do: Workflow.continue_as_new([n - 1, seen ++ [n]])
  end
end
