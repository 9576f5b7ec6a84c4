defmodule Hourglass.Worker.WorkflowRunsTest do
  # The worker's bookkeeping of activations when messages cross: a run's word that it answered
  # one activation arriving after Core's next activation for the run, and a run's exit arriving
  # after the activation that follows its eviction. Either order used to leave an activation
  # without anyone to answer it, and the run stuck until its worker stopped. (The integration
  # suites drive the same paths through Core; here the order is forced.)
  use ExUnit.Case, async: true

  alias Hourglass.Worker.WorkflowRuns

  @run "run-1"

  defp activation(jobs), do: %{run_id: @run, jobs: jobs}
  defp task, do: activation([{:fire_timer, 1}])
  defp eviction, do: activation([{:remove_from_cache, :cache_full, "full"}])

  # A worker's state with one run whose process is `pid` (this test, which sees what is sent).
  defp state_with_run(pid) do
    ref = make_ref()

    Map.merge(WorkflowRuns.fields(60_000), %{
      runs: %{@run => pid},
      run_monitors: %{ref => {@run, pid}}
    })
  end

  defp sent_token do
    assert_received {:"$hourglass_workflow_activation", %{run_id: @run}, token}
    token
  end

  test "a late word about an answered activation leaves the next one awaited" do
    state = WorkflowRuns.activation(task(), state_with_run(self()))
    first = sent_token()

    state = WorkflowRuns.activation(task(), state)
    second = sent_token()
    assert first != second

    # The run's word about the first activation comes after the second activation.
    state = WorkflowRuns.answered(@run, first, state)
    assert {^second, timer, :task, pid} = state.unanswered[@run]
    assert pid == self()
    assert is_integer(Process.read_timer(timer))

    state = WorkflowRuns.answered(@run, second, state)
    assert state.unanswered == %{}
    assert Process.read_timer(timer) == false
  end

  test "after its eviction is sent, the process is no longer the run's; its exit answers only its own" do
    state = state_with_run(self())
    [ref] = Map.keys(state.run_monitors)

    state = WorkflowRuns.activation(eviction(), state)
    eviction_token = sent_token()
    assert state.runs == %{}
    assert {^eviction_token, _timer, :eviction, _pid} = state.unanswered[@run]

    # The run answered its eviction; a new process took the run (as start_run records it), and
    # its first activation is awaited before the old process's word and exit arrive.
    new_pid = spawn(fn -> Process.sleep(:infinity) end)
    new_token = make_ref()

    state = %{
      state
      | runs: %{@run => new_pid},
        unanswered: %{@run => {new_token, nil, :task, new_pid}}
    }

    state = WorkflowRuns.answered(@run, eviction_token, state)
    state = WorkflowRuns.run_down(ref, {:shutdown, :evicted}, state)

    assert state.runs == %{@run => new_pid}
    assert state.unanswered == %{@run => {new_token, nil, :task, new_pid}}
    assert state.run_monitors == %{}
    Process.exit(new_pid, :kill)
  end
end
