defmodule Hourglass.RecordedWorkflows do
  @moduledoc false
  # Workflows whose histories were recorded by an earlier Hourglass (test/histories/<commit>/,
  # made by test/histories/record.exs) and must replay on every later one: the code of a
  # workflow that was running when its users upgraded Hourglass. Frozen: changing a module here
  # changes what the recorded histories are checked against. Each takes a path whose commands
  # a later Hourglass issues differently, so that only its SDK flags keep those histories
  # replaying (see Hourglass.Workflow.Run's flags).

  alias Hourglass.{ActivityError, Workflow}

  defmodule Approval do
    @moduledoc false
    # The README's workflow: a signal, a query, a condition and an activity.
    use Hourglass.Workflow, name: "RecordedApproval"

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

  defmodule CleanupAfterCancel do
    @moduledoc false
    # Cancelled while it waits for a condition, it runs a cleanup activity, then waits again
    # with a timeout. At 624cfa9 a cancel delivered while nothing was pending reached the next
    # wait instead (the cleanup activity was cancelled as it was scheduled), and every wait
    # after a cancel returned {:error, :cancelled} at once (the second wait's timer was started
    # and left): the run ended cancelled.
    use Hourglass.Workflow, name: "RecordedCleanupAfterCancel"

    @impl true
    def init([]), do: %{done: false}

    @impl true
    def run do
      case Workflow.wait_condition(& &1.done) do
        :ok ->
          {:ok, "done"}

        {:error, :cancelled} ->
          _cleaned =
            Workflow.execute_activity("echo", ["cleanup"], start_to_close_timeout: 10_000)

          case Workflow.wait_condition(& &1.done, timeout: 60_000) do
            :ok -> {:ok, "done after cleanup"}
            {:error, reason} -> {:error, reason}
          end
      end
    end

    @impl true
    def handle_signal("done", [], state), do: %{state | done: true}
  end

  defmodule PendingAtCancel do
    @moduledoc false
    # Timers and activities, started in turn, pending when the workflow is cancelled: 624cfa9
    # issued their cancel commands in the iteration order of a map (for up to 32 operations,
    # the activities first; above that, an order no VM keeps).
    use Hourglass.Workflow, name: "RecordedPendingAtCancel"

    @impl true
    def run(count) do
      handles =
        for i <- 1..count do
          if rem(i, 2) == 1,
            do: Workflow.start_timer(600_000),
            else:
              Workflow.start_activity("echo", ["activity-#{i}"],
                start_to_close_timeout: 60_000,
                task_queue: "nobody-polls-#{Workflow.info().workflow_id}"
              )
        end

      outcomes = Workflow.await_all(handles)

      if Enum.all?(outcomes, &cancelled?/1),
        do: {:error, :cancelled},
        else: {:ok, Enum.map(outcomes, &inspect/1)}
    end

    defp cancelled?({:error, :cancelled}), do: true
    defp cancelled?({:error, %ActivityError{cause: {:cancelled, _}}}), do: true
    defp cancelled?(_outcome), do: false
  end

  defmodule HandledFailure do
    @moduledoc false
    # An activity that fails for good, handled; a local activity; an await that times out.
    use Hourglass.Workflow, name: "RecordedHandledFailure"

    @impl true
    def run do
      {:error, %ActivityError{}} =
        Workflow.execute_activity("non_retryable", ["no"],
          start_to_close_timeout: 10_000,
          retry_policy: [maximum_attempts: 1]
        )

      {:ok, local} =
        Workflow.execute_local_activity("echo", ["local"], start_to_close_timeout: 10_000)

      slow = Workflow.start_timer(60_000)
      {:error, :timeout} = Workflow.await(slow, timeout: 10)
      {:ok, %{"local" => local, "random" => Workflow.random()}}
    end
  end

  defmodule Updates do
    @moduledoc false
    # An update whose handler runs an activity and waits for a signal; "close" ends the run
    # once every handler has.
    use Hourglass.Workflow, name: "RecordedUpdates"

    @impl true
    def init([]), do: %{proceed: false, closed: false, charged: []}

    @impl true
    def run do
      :ok = Workflow.wait_condition(&(&1.closed and Workflow.all_handlers_finished?()))
      {:ok, Workflow.state().charged}
    end

    @impl true
    def handle_update("charge", [amount], _state) do
      {:ok, receipt} =
        Workflow.execute_activity("echo", ["receipt-#{amount}"], start_to_close_timeout: 10_000)

      :ok = Workflow.wait_condition(& &1.proceed)
      state = Workflow.update_state(&%{&1 | charged: [amount | &1.charged]})
      {:reply, receipt, state}
    end

    @impl true
    def handle_signal("proceed", [], state), do: %{state | proceed: true}
    def handle_signal("close", [], state), do: %{state | closed: true}
  end

  defmodule UpdateAtTheEnd do
    @moduledoc false
    # Returns in the activation that lets a waiting update handler finish: 624cfa9 completed
    # the workflow without the update's answer.
    use Hourglass.Workflow, name: "RecordedUpdateAtTheEnd"

    @impl true
    def init([]), do: %{go: false}

    @impl true
    def run do
      :ok = Workflow.wait_condition(& &1.go)
      {:ok, "ended"}
    end

    @impl true
    def handle_update("wait", [], _state) do
      :ok = Workflow.wait_condition(& &1.go)
      {:reply, "answered", Workflow.state()}
    end

    @impl true
    def handle_signal("go", [], state), do: %{state | go: true}
  end

  defmodule Parent do
    @moduledoc false
    # A child that completes, and one cancelled with the parent.
    use Hourglass.Workflow, name: "RecordedParent"

    @impl true
    def run do
      {:ok, "child says hi"} = Workflow.execute_child_workflow("RecordedChild", ["hi"])
      {:ok, waiting} = Workflow.start_child_workflow("RecordedChild", ["wait"])

      case Workflow.await(waiting) do
        {:ok, _} -> {:ok, "not cancelled"}
        {:error, _} -> {:error, :cancelled}
      end
    end
  end

  defmodule Child do
    @moduledoc false
    use Hourglass.Workflow, name: "RecordedChild"

    @impl true
    def run("wait") do
      case Workflow.sleep(600_000) do
        :ok -> {:ok, "slept"}
        {:error, :cancelled} -> {:error, :cancelled}
      end
    end

    def run(word), do: {:ok, "child says #{word}"}
  end

  @doc false
  def all,
    do: [
      Approval,
      CleanupAfterCancel,
      PendingAtCancel,
      HandledFailure,
      Updates,
      UpdateAtTheEnd,
      Parent,
      Child
    ]
end
