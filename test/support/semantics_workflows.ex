defmodule Hourglass.SemanticsWorkflows do
  @moduledoc false
  # Workflow code written the way users write it (matches on what a Workflow call returns), for
  # how a run ends on its failure and cancel paths (test/integration/workflow_semantics_test.exs).
  # The README's own workflow is Hourglass.IntegrationWorkflows.Approval.

  alias Hourglass.{ApplicationError, Workflow}

  defmodule ActivityFails do
    @moduledoc false
    # An activity that fails for good, its outcome matched as if it could not.
    use Hourglass.Workflow, name: "ActivityFails"

    @impl true
    def run do
      {:ok, value} =
        Workflow.execute_activity("non_retryable", [], start_to_close_timeout: 10_000)

      {:ok, value}
    end
  end

  defmodule ChildFails do
    @moduledoc false
    # A child that fails, matched in a `case` without a clause for it.
    use Hourglass.Workflow, name: "ChildFails"

    @impl true
    def run do
      case Workflow.execute_child_workflow("ActivityFails", []) do
        {:ok, value} -> {:ok, value}
      end
    end
  end

  defmodule WithClauseFails do
    @moduledoc false
    # An activity's failure falling through a `with` whose `else` does not take it.
    use Hourglass.Workflow, name: "WithClauseFails"

    @impl true
    def run do
      with {:ok, value} <-
             Workflow.execute_activity("non_retryable", [], start_to_close_timeout: 10_000) do
        {:ok, value}
      else
        {:error, :never} -> {:error, :never}
      end
    end
  end

  defmodule NotAWorkflowError do
    @moduledoc false
    # A bug: a match on something no Workflow call returned. Fails its task, once per attempt,
    # until a signal lets the next attempt past it.
    use Hourglass.Workflow, name: "NotAWorkflowError"

    @impl true
    def init([]), do: %{}

    @impl true
    def run do
      :ok = Workflow.wait_condition(&Map.has_key?(&1, :go))
      {:ok, :fixed} = {:ok, Workflow.state().go}
      {:ok, "fixed"}
    end

    @impl true
    def handle_signal("go", [value], state), do: Map.put(state, :go, String.to_atom(value))
  end

  defmodule CleanupAfterCancel do
    @moduledoc false
    # Cancelled while it waits, it runs a cleanup activity, waits on a timer, and ends cancelled.
    use Hourglass.Workflow, name: "CleanupAfterCancel"

    @impl true
    def init([]), do: %{done: false}

    @impl true
    def run do
      case Workflow.wait_condition(& &1.done) do
        :ok ->
          {:ok, "done"}

        {:error, :cancelled} ->
          {:ok, "cleaned"} =
            Workflow.execute_activity("echo", ["cleaned"], start_to_close_timeout: 10_000)

          {:error, :cancelled}
      end
    end

    @impl true
    def handle_signal("done", [], state), do: %{state | done: true}
  end

  defmodule CancelledTwice do
    @moduledoc false
    # The cancellation reaches the pending wait once: after it, timers, conditions and
    # activities work as before. Returns what each saw.
    use Hourglass.Workflow, name: "CancelledTwice"

    @impl true
    def init([]), do: %{go: false}

    @impl true
    def run do
      first = Workflow.sleep(600_000)
      slept = Workflow.sleep(10)
      condition = Workflow.wait_condition(& &1.go, timeout: 60_000)
      timed_out = Workflow.wait_condition(fn _ -> false end, timeout: 10)
      activity = Workflow.execute_activity("echo", ["after"], start_to_close_timeout: 10_000)

      {:ok,
       %{
         "first" => inspect(first),
         "slept" => inspect(slept),
         "condition" => inspect(condition),
         "timed_out" => inspect(timed_out),
         "activity" => inspect(activity),
         "cancelled?" => Workflow.cancelled?()
       }}
    end

    @impl true
    def handle_signal("go", [], state), do: %{state | go: true}
  end

  defmodule CancelsItsOwn do
    @moduledoc false
    # Workflow.cancel/1 on a timer, an activity that never starts (nobody polls its queue), a
    # local activity waiting out its backoff and a child; what awaiting each then returns.
    use Hourglass.Workflow, name: "CancelsItsOwn"

    @impl true
    def run do
      timer = Workflow.start_timer(600_000)

      activity =
        Workflow.start_activity("echo", ["never"],
          start_to_close_timeout: 10_000,
          task_queue: "nobody-polls-#{Workflow.info().workflow_id}"
        )

      local =
        Workflow.start_local_activity("fail_until", [5],
          start_to_close_timeout: 10_000,
          local_retry_threshold: 1_000,
          retry_policy: [initial_interval: 60_000]
        )

      # Hourglass.IntegrationWorkflows.Cancellable: sleeps, and ends cancelled if cancelled.
      {:ok, child} = Workflow.start_child_workflow("Cancellable", [])
      # The local activity's first attempt fails; its next waits on a timer of the run's.
      :ok = Workflow.sleep(1_500)
      Enum.each([timer, activity, local, child], &Workflow.cancel/1)
      # Cancelling again, or what has ended, changes nothing.
      :ok = Workflow.cancel(timer)
      outcomes = Workflow.await_all([timer, activity, local, child])

      second_await =
        try do
          Workflow.await(timer)
        rescue
          error in ArgumentError -> Exception.message(error)
        end

      {:ok, %{"outcomes" => Enum.map(outcomes, &inspect/1), "second_await" => second_await}}
    end
  end

  defmodule RefusingSignals do
    @moduledoc false
    # A signal handler that refuses bad input with an ApplicationError fails the workflow.
    use Hourglass.Workflow, name: "RefusingSignals"

    @impl true
    def init([]), do: %{amounts: []}

    @impl true
    def run do
      :ok = Workflow.wait_condition(&(length(&1.amounts) >= 2))
      {:ok, Workflow.state().amounts}
    end

    @impl true
    def handle_signal("amount", [amount], state) when is_integer(amount),
      do: %{state | amounts: state.amounts ++ [amount]}

    def handle_signal("amount", [other], _state),
      do: raise(ApplicationError, type: "BadAmount", message: "not an amount: #{inspect(other)}")
  end

  defmodule LookingHandlers do
    @moduledoc false
    # Queries and a validator that draw random numbers, throw and exit. The run's own random
    # values are the same whatever they did: its last activity's id comes from Workflow.uuid4/0,
    # so a replay of its history (where no query runs) fails if a query moved the generator.
    use Hourglass.Workflow, name: "LookingHandlers"

    @impl true
    def init([]), do: %{done: false}

    @impl true
    def run do
      :ok = Workflow.wait_condition(& &1.done)
      uuid = Workflow.uuid4()

      {:ok, _} =
        Workflow.execute_activity("echo", [uuid],
          activity_id: "echo-#{uuid}",
          start_to_close_timeout: 10_000
        )

      {:ok, uuid}
    end

    @impl true
    def handle_signal("done", [], state), do: %{state | done: true}

    @impl true
    def handle_query("draw", [], _state), do: {:reply, [Workflow.random(), Workflow.uuid4()]}
    def handle_query("throw", [], _state), do: throw(:thrown)
    def handle_query("exit", [], _state), do: exit(:gone)

    @impl true
    def validate_update("set", [_], _state) do
      _ = Workflow.random()
      throw(:no)
    end

    @impl true
    def handle_update("set", [value], state), do: {:reply, value, state}
  end

  defmodule UpdateAtTheEnd do
    @moduledoc false
    # The main routine returns in the activation that lets a waiting update handler finish: the
    # update is answered before the workflow completes.
    use Hourglass.Workflow, name: "UpdateAtTheEnd"

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

  defmodule SharedHandle do
    @moduledoc false
    # The main routine and an update handler await the same activity: the main routine, which
    # looks first, takes its outcome; the handler is told (an ArgumentError it answers with).
    use Hourglass.Workflow, name: "SharedHandle"

    @impl true
    def init([]), do: %{handle: nil, go: false}

    @impl true
    def run do
      :ok = Workflow.wait_condition(& &1.go)
      handle = Workflow.start_activity("echo", ["shared"], start_to_close_timeout: 10_000)
      Workflow.update_state(&%{&1 | handle: handle})
      {:ok, "shared"} = Workflow.await(handle)
      :ok = Workflow.wait_condition(fn _ -> Workflow.all_handlers_finished?() end)
      {:ok, "shared"}
    end

    @impl true
    def handle_update("await_it_too", [], _state) do
      :ok = Workflow.wait_condition(&(&1.handle != nil))

      reply =
        try do
          Workflow.await(Workflow.state().handle)
        rescue
          error in ArgumentError -> Exception.message(error)
        end

      {:reply, reply, Workflow.state()}
    end

    @impl true
    def handle_signal("go", [], state), do: %{state | go: true}
  end

  defmodule SignalWaits do
    @moduledoc false
    # A signal handler that runs an activity and a timer before it changes the state.
    use Hourglass.Workflow, name: "SignalWaits"

    @impl true
    def init([]), do: %{receipts: []}

    @impl true
    def run do
      :ok =
        Workflow.wait_condition(&(length(&1.receipts) == 2 and Workflow.all_handlers_finished?()))

      {:ok, Enum.sort(Workflow.state().receipts)}
    end

    @impl true
    def handle_signal("charge", [amount], _state) do
      {:ok, receipt} =
        Workflow.execute_activity("echo", ["receipt-#{amount}"], start_to_close_timeout: 10_000)

      :ok = Workflow.sleep(10)
      # The state it was given is out of date after a wait: the new state builds on the latest.
      Workflow.update_state(&%{&1 | receipts: [receipt | &1.receipts]})
    end
  end

  defmodule LeavesUpdates do
    @moduledoc false
    # Ends while two update handlers wait: "loud" with the default policy, "quiet" abandoned.
    use Hourglass.Workflow,
      name: "LeavesUpdates",
      unfinished_policies: %{"quiet" => :abandon}

    @impl true
    def init([]), do: %{ending: false}

    @impl true
    def run do
      :ok = Workflow.wait_condition(& &1.ending)
      {:ok, "left them"}
    end

    @impl true
    def handle_update(_name, [], state) do
      :ok = Workflow.wait_condition(fn _ -> false end)
      {:reply, nil, state}
    end

    @impl true
    def handle_signal("end", [], state), do: %{state | ending: true}
  end

  defmodule CatchesEverything do
    @moduledoc false
    # Workflow code that catches every exit around its waits: an eviction still ends the run's
    # process (counted in the :hourglass_catches_everything table by the workflow id). It logs
    # as it starts, once however often it is replayed.
    use Hourglass.Workflow, name: "CatchesEverything"
    require Logger

    @impl true
    def init([]), do: %{done: false}

    @impl true
    def run do
      Logger.warning("catches everything: started (#{Logger.metadata()[:workflow_id]})")

      Workflow.reviewed(
        :ets.update_counter(
          :hourglass_catches_everything,
          Workflow.info().workflow_id,
          1,
          {Workflow.info().workflow_id, 0}
        )
      )

      try do
        :ok = Workflow.wait_condition(& &1.done)
      catch
        :exit, _ -> Workflow.reviewed(:ets.insert(:hourglass_catches_everything, {:caught, true}))
      end

      {:ok, "done"}
    end

    @impl true
    def handle_signal("done", [], state), do: %{state | done: true}
  end

  defmodule Discards do
    @moduledoc false
    # Awaits `count` activities that each return `size` bytes, one at a time, keeping none,
    # then waits for a signal (the memory test measures the run's process then).
    use Hourglass.Workflow, name: "Discards"

    @impl true
    def init([_count, _size]), do: %{done: false}

    @impl true
    def run(count, size) do
      for i <- 1..count do
        {:ok, _} =
          Workflow.execute_local_activity("bytes", [size], start_to_close_timeout: 10_000)

        # A workflow task's completion carries its local activities' results: a timer now and
        # then keeps each under the server's message size limit.
        if rem(i, 50) == 0, do: :ok = Workflow.sleep(1)
      end

      :ok = Workflow.wait_condition(& &1.done)
      {:ok, count}
    end

    @impl true
    def handle_signal("done", [], state), do: %{state | done: true}
  end

  defmodule StrictArguments do
    @moduledoc false
    # An ArgumentError is one of its failure exception types: it fails the workflow.
    use Hourglass.Workflow, name: "StrictArguments", failure_exception_types: [ArgumentError]

    @impl true
    def run(value), do: {:ok, String.to_integer(value)}
  end

  defmodule DriftBefore do
    @moduledoc false
    # Waits on a timer, then for a signal: the code as a first deploy had it.
    use Hourglass.Workflow, name: "Drift"

    @impl true
    def init([]), do: %{go: false}

    @impl true
    def run do
      :ok = Workflow.sleep(1)
      :ok = Workflow.wait_condition(& &1.go)
      {:ok, "before"}
    end

    @impl true
    def handle_signal("go", [], state), do: %{state | go: true}
  end

  defmodule DriftAfter do
    @moduledoc false
    # The same workflow type changed without a patch (an activity where the timer was), on a
    # worker that fails such workflows rather than their tasks.
    use Hourglass.Workflow,
      name: "Drift",
      failure_exception_types: [Hourglass.Workflow.NondeterminismError]

    @impl true
    def init([]), do: %{go: false}

    @impl true
    def run do
      {:ok, _} = Workflow.execute_activity("echo", [1], start_to_close_timeout: 10_000)
      :ok = Workflow.wait_condition(& &1.go)
      {:ok, "after"}
    end

    @impl true
    def handle_signal("go", [], state), do: %{state | go: true}
  end

  defmodule CarriesOn do
    @moduledoc false
    # Continues as new once with a memo, search attributes and a retry policy, then starts a
    # child with a memo and search attributes; returns what each run and the child saw.
    use Hourglass.Workflow, name: "CarriesOn"

    @impl true
    def run("first") do
      Workflow.continue_as_new(["second"],
        memo: %{"step" => 2},
        search_attributes: %{"HourglassCustomer" => "ada"},
        retry_policy: [maximum_attempts: 3]
      )
    end

    def run("second") do
      info = Workflow.info()

      {:ok, child} =
        Workflow.execute_child_workflow("CarriesOn", ["child"],
          memo: %{"from" => "parent"},
          search_attributes: %{"HourglassPriority" => 7}
        )

      {:ok,
       %{"memo" => info.memo, "search_attributes" => info.search_attributes, "child" => child}}
    end

    def run("child") do
      info = Workflow.info()
      {:ok, %{"memo" => info.memo, "search_attributes" => info.search_attributes}}
    end
  end

  defmodule SlowCodec do
    @moduledoc false
    # A payload codec that takes its time (as one calling a key service would): 200 ms a call.
    @behaviour Hourglass.PayloadCodec

    @impl true
    def encode(payloads, _options), do: Process.sleep(200) && {:ok, payloads}

    @impl true
    def decode(payloads, _options), do: Process.sleep(200) && {:ok, payloads}
  end

  defmodule FlakyCodec do
    @moduledoc false
    # A codec whose key service fails once: a payload it encoded from a value that mentions
    # "flaky" cannot be decoded the first time (counted in the :hourglass_flaky_codec table).
    @behaviour Hourglass.PayloadCodec

    @impl true
    def encode(payloads, _options) do
      {:ok,
       for payload <- payloads do
         if payload.data =~ "flaky",
           do: %{payload | metadata: Map.put(payload.metadata, "flaky", "yes")},
           else: payload
       end}
    end

    @impl true
    def decode(payloads, _options) do
      flaky? = Enum.any?(payloads, &(&1.metadata["flaky"] == "yes"))

      if flaky? and
           :ets.update_counter(:hourglass_flaky_codec, :failures, 1, {:failures, 0}) == 1,
         do: {:error, "the key service is unavailable"},
         else: {:ok, payloads}
    end
  end

  defmodule CodecHeavy do
    @moduledoc false
    # Four activities started in one activation: four calls of its codec's encode.
    use Hourglass.Workflow, name: "CodecHeavy"

    @impl true
    def run do
      handles =
        for i <- 1..4,
            do: Workflow.start_activity("echo", [i], start_to_close_timeout: 10_000)

      {:ok, for({:ok, value} <- Workflow.await_all(handles), do: value)}
    end
  end

  defmodule Bytes do
    @moduledoc false
    use Hourglass.Activity, name: "bytes"
    def execute(size), do: {:ok, String.duplicate("x", size)}
  end

  @doc false
  def all,
    do: [
      ActivityFails,
      ChildFails,
      WithClauseFails,
      NotAWorkflowError,
      CleanupAfterCancel,
      CancelledTwice,
      CancelsItsOwn,
      RefusingSignals,
      LookingHandlers,
      UpdateAtTheEnd,
      CatchesEverything,
      Discards,
      StrictArguments,
      CodecHeavy,
      CarriesOn,
      LeavesUpdates,
      SignalWaits,
      SharedHandle
    ]
end
