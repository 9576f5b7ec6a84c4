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

  defmodule PassesOn do
    @moduledoc false
    # Fails with the error of an activity that failed ("return" it or "raise" it), or with the
    # error of a child that did so ("child"): clients see that error and its causes.
    use Hourglass.Workflow, name: "PassesOn"
    alias Hourglass.Workflow

    @impl true
    def run("return"),
      do: Workflow.execute_activity("non_retryable", [], start_to_close_timeout: 10_000)

    def run("raise") do
      {:error, error} = run("return")
      raise error
    end

    def run("child") do
      id = "#{Workflow.info().workflow_id}-child"
      Workflow.execute_child_workflow("PassesOn", ["return"], id: id)
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

  defmodule LateHandlers do
    @moduledoc false
    # Sets its "item" signal and "items" query handlers only once "ready" came: the items
    # signalled before are handed to the handler then, in order.
    use Hourglass.Workflow, name: "LateHandlers"
    alias Hourglass.Workflow

    @impl true
    def init([]), do: %{ready: false, items: []}

    @impl true
    def run do
      :ok = Workflow.wait_condition(& &1.ready)
      :ok = Workflow.set_query_handler("items", fn [], state -> {:reply, state.items} end)

      :ok =
        Workflow.set_signal_handler("item", fn [item], state ->
          %{state | items: state.items ++ [item]}
        end)

      :ok = Workflow.wait_condition(&(length(&1.items) >= 4))
      {:ok, Workflow.state().items}
    end

    @impl true
    def handle_signal("ready", [], state), do: %{state | ready: true}
  end

  defmodule Counter do
    @moduledoc false
    # A count changed by updates ("add" validated: positive integers only), failed on purpose
    # ("fail"), answered with more than a payload may hold ("big"), and ended by "finish".
    use Hourglass.Workflow, name: "Counter"
    alias Hourglass.{ApplicationError, Workflow}

    @impl true
    def init([start]), do: %{count: start, done: false}

    @impl true
    def run(_start) do
      :ok = Workflow.wait_condition(& &1.done)
      {:ok, Workflow.state().count}
    end

    @impl true
    def validate_update("add", [n], _state) when is_integer(n) and n > 0, do: :ok

    def validate_update("add", [n], _state),
      do: {:error, "add takes a positive integer, got #{inspect(n)}"}

    @impl true
    def handle_update("add", [n], state),
      do: {:reply, state.count + n, %{state | count: state.count + n}}

    def handle_update("fail", [], _state),
      do: {:error, %ApplicationError{type: "Refused", message: "as asked", details: ["why"]}}

    def handle_update("finish", [], state), do: {:reply, state.count, %{state | done: true}}
    def handle_update("big", [], state), do: {:reply, String.duplicate("x", 3_000_000), state}

    @impl true
    def handle_query("count", [], state), do: {:reply, state.count}
  end

  defmodule WaitingUpdates do
    @moduledoc false
    # Update handlers that wait: "charge" runs an activity, then waits for a "proceed" signal
    # of its own; "nap" sleeps. The main routine ends after "close", once every handler has.
    use Hourglass.Workflow, name: "WaitingUpdates"
    alias Hourglass.Workflow

    @impl true
    def init([]), do: %{charged: [], proceed: 0, closed: false}

    @impl true
    def run do
      :ok = Workflow.wait_condition(&(&1.closed and Workflow.all_handlers_finished?()))
      {:ok, Workflow.state().charged}
    end

    @impl true
    def handle_update("charge", [amount], _state) do
      {:ok, receipt} =
        Workflow.execute_activity("echo", ["receipt-#{amount}"], start_to_close_timeout: 30_000)

      :ok = Workflow.wait_condition(&(&1.proceed > 0))

      state =
        Workflow.update_state(&%{&1 | proceed: &1.proceed - 1, charged: [amount | &1.charged]})

      {:reply, %{"receipt" => receipt, "all_finished" => Workflow.all_handlers_finished?()},
       state}
    end

    def handle_update("nap", [ms], _state) do
      :ok = Workflow.sleep(ms)
      {:reply, Workflow.random(), Workflow.state()}
    end

    @impl true
    def handle_signal("proceed", [], state), do: %{state | proceed: state.proceed + 1}
    def handle_signal("close", [], state), do: %{state | closed: true}

    @impl true
    def handle_query("handlers_finished", [], _state),
      do: {:reply, Workflow.all_handlers_finished?()}
  end

  defmodule Steps do
    @moduledoc false
    # `n` steps, each a short native activity then a timer: long enough to be caught midway.
    use Hourglass.Workflow, name: "Steps"
    alias Hourglass.Workflow

    @impl true
    def run(n) do
      steps =
        for step <- 1..n do
          {:ok, _} =
            Workflow.execute_activity("hourglass.sleep", [300],
              start_to_close_timeout: 3_000,
              retry_policy: [initial_interval: 100]
            )

          :ok = Workflow.sleep(200)
          step
        end

      {:ok, %{"steps" => steps, "id" => Workflow.info().workflow_id}}
    end
  end

  defmodule PatchyBefore do
    @moduledoc false
    # "Patchy" as first deployed: echoes "old", then waits for "go".
    use Hourglass.Workflow, name: "Patchy"
    alias Hourglass.Workflow

    @impl true
    def init([]), do: %{go: false}

    @impl true
    def run do
      {:ok, echoed} = Workflow.execute_activity("echo", ["old"], start_to_close_timeout: 10_000)
      :ok = Workflow.wait_condition(& &1.go)
      {:ok, %{"path" => "old", "echoed" => echoed}}
    end

    @impl true
    def handle_signal("go", [], state), do: %{state | go: true}
  end

  defmodule PatchyAfter do
    @moduledoc false
    # "Patchy" patched to echo "new": runs that began before the patch keep the old path.
    use Hourglass.Workflow, name: "Patchy"
    alias Hourglass.Workflow

    @impl true
    def init([]), do: %{go: false}

    @impl true
    def run do
      word = if Workflow.patched?("echo-new"), do: "new", else: "old"
      {:ok, echoed} = Workflow.execute_activity("echo", [word], start_to_close_timeout: 10_000)
      :ok = Workflow.wait_condition(& &1.go)
      # The path this code took: on replay, the activity's result comes from the history.
      {:ok, %{"path" => word, "echoed" => echoed}}
    end

    @impl true
    def handle_signal("go", [], state), do: %{state | go: true}
  end

  defmodule CrossQueue do
    @moduledoc false
    # Calls the Python SDK worker's activities on its task queue (test/support/python/
    # cross_worker.py): one answers, one fails with an ApplicationError carrying details.
    use Hourglass.Workflow, name: "CrossQueue"
    alias Hourglass.{ActivityError, ApplicationError, Workflow}

    @impl true
    def run(python_queue) do
      opts = [task_queue: python_queue, start_to_close_timeout: 10_000]
      {:ok, greeting} = Workflow.execute_activity("py.greet", ["ada"], opts)

      {:error, %ActivityError{cause: {:failed, %ApplicationError{} = refused}}} =
        Workflow.execute_activity("py.refuse", ["because"], opts)

      {:ok,
       %{
         "greeting" => greeting,
         "refused" => %{
           "type" => refused.type,
           "message" => refused.message,
           "details" => refused.details,
           "non_retryable" => refused.non_retryable
         }
       }}
    end
  end

  defmodule AwaitTimeout do
    @moduledoc false
    # Gives up on a slow activity after 100 ms of workflow time, then waits for it anyway; a
    # quick one finishes within its timeout (whose timer is then cancelled).
    use Hourglass.Workflow, name: "AwaitTimeout"
    alias Hourglass.Workflow

    @impl true
    def run do
      sleep = &Workflow.start_activity("hourglass.sleep", [&1], start_to_close_timeout: 30_000)
      slow = sleep.(1_500)
      gave_up = Workflow.await(slow, timeout: 100)
      {:ok, _} = Workflow.await(slow)
      quick = Workflow.await(sleep.(10), timeout: 20_000)
      {:ok, %{"gave_up" => inspect(gave_up), "quick" => match?({:ok, _}, quick)}}
    end
  end

  defmodule Parent do
    @moduledoc false
    # Child workflows of this worker's types: one that completes, one that fails, one signalled
    # by its parent, one refused (its id is taken), one the parent cancels; and a signal to a
    # workflow that does not exist. Returns what each looked like from the parent.
    use Hourglass.Workflow, name: "Parent"
    alias Hourglass.{ApplicationError, ChildWorkflowError, Workflow}

    @impl true
    def run do
      id = Workflow.info().workflow_id
      {:ok, fanned} = Workflow.execute_child_workflow("FanOut", [2, 50])

      {:error, %ChildWorkflowError{cause: {:failed, %ApplicationError{} = failed}} = error} =
        Workflow.execute_child_workflow("Failing", [], id: "#{id}-failing")

      {:ok, approval} = Workflow.start_child_workflow("Approval", ["from parent"])
      :ok = Workflow.signal_external_workflow(approval, "approve", ["parent"])
      {:ok, approved} = Workflow.await(approval)

      {:ok, cancellable} = Workflow.start_child_workflow("Cancellable", [], id: "#{id}-long")

      {:error, %ChildWorkflowError{cause: {:start_failed, refused}}} =
        Workflow.start_child_workflow("Cancellable", [], id: "#{id}-long")

      :ok = Workflow.cancel_external_workflow(cancellable)
      {:error, %ChildWorkflowError{cause: cancelled}} = Workflow.await(cancellable)
      {:error, nobody} = Workflow.signal_external_workflow("#{id}-nobody", "hello", [])

      {:ok,
       %{
         "fanned" => fanned["results"],
         "failed" => [error.workflow_type, error.workflow_id, failed.type, failed.message],
         "approved" => approved,
         "approval_id" => approval.workflow_id,
         "refused" => inspect(refused),
         "cancelled" => inspect(cancelled),
         "nobody" => inspect(nobody)
       }}
    end
  end

  defmodule ParentOfLong do
    @moduledoc false
    # Waits on a child that waits ten minutes; cancelled, the child is cancelled with it.
    use Hourglass.Workflow, name: "ParentOfLong"
    alias Hourglass.Workflow

    @impl true
    def run do
      {:ok, child} =
        Workflow.start_child_workflow("Cancellable", [],
          id: Workflow.info().workflow_id <> "-long"
        )

      Workflow.await(child)
    end
  end

  defmodule Clock do
    @moduledoc false
    # The times a run sees: the workflow time of its first and second activations, and the
    # time it started (Unix microseconds, and whether each is the DateTime Elixir makes of them).
    use Hourglass.Workflow, name: "Clock"
    alias Hourglass.Workflow

    @impl true
    def run do
      first = Workflow.now()
      :ok = Workflow.sleep(10)
      times = [first, Workflow.now(), Workflow.info().start_time]

      {:ok,
       %{
         "micros" => Enum.map(times, &DateTime.to_unix(&1, :microsecond)),
         "as_elixir_makes_them" =>
           Enum.all?(times, fn time ->
             time == DateTime.from_unix!(DateTime.to_unix(time, :microsecond), :microsecond)
           end)
       }}
    end
  end

  defmodule Tagged do
    @moduledoc false
    # Reads the memo and search attributes it started with, upserts both, and runs a child
    # that reports its parent: what the run's info showed, before and after.
    use Hourglass.Workflow, name: "Tagged"
    alias Hourglass.Workflow

    @impl true
    def run(mode) do
      case mode do
        "child" ->
          {:ok, Workflow.info().parent}

        "parent" ->
          before = Workflow.info()
          :ok = Workflow.upsert_search_attributes(%{HourglassPriority: 9})

          :ok =
            Workflow.upsert_memo(%{"stage" => "tagged", "wide" => Map.new(1..40, &{"k#{&1}", &1})})

          {:ok, parent} = Workflow.execute_child_workflow("Tagged", ["child"])
          now = Workflow.info()

          {:ok,
           %{
             "memo_before" => before.memo,
             "attributes_before" => before.search_attributes,
             "execution_timeout" => before.execution_timeout,
             "memo_after" => Map.keys(now.memo),
             "attributes_after" => now.search_attributes,
             "child_saw_parent" => parent
           }}
      end
    end
  end

  defmodule PythonChild do
    @moduledoc false
    # Runs the Python SDK worker's PyChild workflow as its child, on that worker's queue.
    use Hourglass.Workflow, name: "PythonChild"
    alias Hourglass.Workflow

    @impl true
    def run(python_queue) do
      Workflow.execute_child_workflow("PyChild", ["elixir"], task_queue: python_queue)
    end
  end

  defmodule ApprovalChanged do
    @moduledoc false
    # "Approval" changed the way replay must catch: a timer where the history has the activity.
    use Hourglass.Workflow, name: "Approval"
    alias Hourglass.Workflow

    @impl true
    def init([_order]), do: %{approver: nil}

    @impl true
    def run(order) do
      :ok = Workflow.wait_condition(fn state -> state.approver != nil end)
      :ok = Workflow.sleep(1_000)
      {:ok, receipt} = Workflow.execute_activity("echo", [order], start_to_close_timeout: 10_000)
      {:ok, %{"receipt" => receipt, "approver" => Workflow.state().approver}}
    end

    @impl true
    def handle_signal("approve", [by], state), do: %{state | approver: by}
  end

  defmodule ApprovalBroken do
    @moduledoc false
    # "Approval" with a bug that raises on the signal.
    use Hourglass.Workflow, name: "Approval"
    alias Hourglass.Workflow

    @impl true
    def init([_order]), do: %{approver: nil}

    @impl true
    def run(_order) do
      :ok = Workflow.wait_condition(fn state -> state.approver != nil end)
      raise "broken after the signal"
    end

    @impl true
    def handle_signal("approve", [by], state), do: %{state | approver: by}
  end

  defmodule Locals do
    @moduledoc false
    # Local activities: Elixir and native, retried by Core within its threshold, retried after
    # a backoff timer of the run's past it, and failing for good.
    use Hourglass.Workflow, name: "Locals"
    alias Hourglass.{ActivityError, ApplicationError, Workflow}

    @impl true
    def run do
      opts = [start_to_close_timeout: 10_000]
      {:ok, echoed} = Workflow.execute_local_activity("echo", ["local"], opts)
      {:ok, slept} = Workflow.execute_local_activity("hourglass.sleep", [10], opts)
      retry = [initial_interval: 100, backoff_coefficient: 1.0]

      {:ok, within} =
        Workflow.execute_local_activity("fail_until", [3], opts ++ [retry_policy: retry])

      # A backoff of 1.5 s past a threshold of 1 s: the run's own timer, then attempt 2.
      {:ok, past} =
        Workflow.execute_local_activity(
          "fail_until",
          [2],
          opts ++
            [
              retry_policy: [initial_interval: 1_500, backoff_coefficient: 1.0],
              local_retry_threshold: 1_000
            ]
        )

      {:error,
       %ActivityError{
         activity_type: "non_retryable",
         cause: {:failed, %ApplicationError{} = failed}
       }} = Workflow.execute_local_activity("non_retryable", [], opts)

      {:ok,
       %{
         "echoed" => echoed,
         "slept" => slept,
         "attempt_within" => within,
         "attempt_past" => past,
         "failed" => [failed.type, failed.details]
       }}
    end
  end

  defmodule LocalBackoff do
    @moduledoc false
    # A local activity that fails, then waits a backoff of 60 s on a timer of the run's.
    use Hourglass.Workflow, name: "LocalBackoff"
    alias Hourglass.Workflow

    @impl true
    def run do
      Workflow.execute_local_activity("fail_until", [5],
        start_to_close_timeout: 10_000,
        retry_policy: [initial_interval: 60_000],
        local_retry_threshold: 100
      )
    end
  end

  defmodule SignalStarts do
    @moduledoc false
    # Its signal handler starts an activity per signal and keeps the handle; the main routine
    # awaits them all.
    use Hourglass.Workflow, name: "SignalStarts"
    alias Hourglass.Workflow

    @impl true
    def init([]), do: %{handles: []}

    @impl true
    def run do
      :ok = Workflow.wait_condition(&(length(&1.handles) == 2))
      results = Workflow.await_all(Enum.reverse(Workflow.state().handles))
      {:ok, Enum.map(results, fn {:ok, value} -> value end)}
    end

    @impl true
    def handle_signal("fetch", [item], state) do
      handle = Workflow.start_activity("echo", [item], start_to_close_timeout: 10_000)
      %{state | handles: [handle | state.handles]}
    end
  end

  defmodule WideEcho do
    @moduledoc false
    # Carries one value through every place a workflow holds one: its input, a signal, a
    # query's answer, the next run's arguments (continue-as-new), an activity's arguments and
    # result, an activity failure's details, a child's, and the chain of causes the workflow
    # fails with. The second run compares what came back; only if every part returned it
    # unchanged does the third run fail with the value in its causes.
    use Hourglass.Workflow, name: "WideEcho"
    alias Hourglass.{ActivityError, ApplicationError, Workflow}

    @impl true
    def init(_arguments), do: %{signalled: :none, continue: false}

    @impl true
    def run(value, "first run") do
      :ok = Workflow.wait_condition(& &1.continue)
      # Both copies would be over the payload limit for the largest cases: the comparison goes.
      Workflow.continue_as_new([value, Workflow.state().signalled === value, "second run"])
    end

    # The activity's failure, its details the value, passed on by a child: the run fails with
    # the child's error, caused by the activity's error, caused by the application error.
    def run(value, "third run") do
      id = "#{Workflow.info().workflow_id}-child"
      Workflow.execute_child_workflow("WideEcho", [value, "fail"], id: id)
    end

    def run(value, "fail"),
      do: Workflow.execute_activity("wide_values.fail", [value], start_to_close_timeout: 60_000)

    @impl true
    def run(value, signal_unchanged?, "second run") do
      {:ok, echoed} =
        Workflow.execute_activity("wide_values.echo", [value], start_to_close_timeout: 60_000)

      {:error, %ActivityError{cause: {:failed, %ApplicationError{details: [failed]}}}} =
        Workflow.execute_activity("wide_values.fail", [value], start_to_close_timeout: 60_000)

      mismatches =
        for {part, unchanged?} <- [
              signal: signal_unchanged?,
              activity: echoed === value,
              failure_details: failed === value
            ],
            not unchanged?,
            do: Atom.to_string(part)

      if mismatches == [],
        do: Workflow.continue_as_new([value, "third run"]),
        else: {:error, {:changed_in, mismatches}}
    end

    @impl true
    def handle_signal("value", [value], state), do: %{state | signalled: value}
    def handle_signal("continue", [], state), do: %{state | continue: true}

    @impl true
    def handle_query("value", [], state), do: {:reply, state.signalled}
  end
end
