defmodule Hourglass.Worker.WorkflowRunsTest do
  # The worker's bookkeeping of activations when messages cross: Core's next activation for a
  # run arriving before anything else, and a run's exit arriving after the activation that
  # follows its eviction. Either used to leave an activation without anyone to answer it, and
  # the run stuck until its worker stopped. (The integration suites drive the same paths
  # through Core, and the NIF's refusal of a second answer; here the order is forced.)
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

  test "each activation goes to the run with its token; the next one replaces the one awaited" do
    state = WorkflowRuns.activation(task(), 1, state_with_run(self()))
    assert_received {:"$hourglass_workflow_activation", %{run_id: @run}, 1}
    assert {1, first_timer, :task, pid} = state.outstanding[@run]
    assert pid == self()
    assert is_integer(Process.read_timer(first_timer))

    # Core hands a run one activation at a time: the next one means the first was answered.
    state = WorkflowRuns.activation(task(), 2, state)
    assert_received {:"$hourglass_workflow_activation", %{run_id: @run}, 2}
    assert {2, second_timer, :task, ^pid} = state.outstanding[@run]
    assert Process.read_timer(first_timer) == false
    assert is_integer(Process.read_timer(second_timer))

    # The first activation's deadline, had it fired already, concerns nothing awaited.
    assert WorkflowRuns.deadline(@run, 1, state) == state
  end

  test "after its eviction is sent, the process is no longer the run's; its exit answers only its own" do
    state = state_with_run(self())
    [ref] = Map.keys(state.run_monitors)

    state = WorkflowRuns.activation(eviction(), 7, state)
    assert_received {:"$hourglass_workflow_activation", %{run_id: @run}, 7}
    assert state.runs == %{}
    assert {7, _timer, :eviction, _pid} = state.outstanding[@run]

    # The run answered its eviction; a new process took the run (as start_run records it), and
    # its first activation is awaited before the old process's exit arrives.
    new_pid = spawn(fn -> Process.sleep(:infinity) end)

    state = %{
      state
      | runs: %{@run => new_pid},
        outstanding: %{@run => {8, nil, :task, new_pid}}
    }

    state = WorkflowRuns.run_down(ref, {:shutdown, :evicted}, state)

    assert state.runs == %{@run => new_pid}
    assert state.outstanding == %{@run => {8, nil, :task, new_pid}}
    assert state.run_monitors == %{}
    Process.exit(new_pid, :kill)
  end
end
