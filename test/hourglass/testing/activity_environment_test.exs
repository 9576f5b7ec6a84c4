defmodule Hourglass.Testing.ActivityEnvironmentTest do
  # Not async: it checks that no native task is left, a count shared by the whole VM.
  use ExUnit.Case, async: false

  alias Hourglass.{ApplicationError, Native}
  alias Hourglass.Testing.ActivityEnvironment
  alias Hourglass.TestActivities, as: T

  test "runs an Elixir activity and returns its result" do
    assert %{result: {:completed, "Hello, Ada!"}, heartbeats: []} =
             ActivityEnvironment.run(T.Greet, ["Ada"])
  end

  test "the activity sees the info the test chose, and its heartbeats are recorded" do
    started = ~U[2026-11-26 10:00:00Z]

    outcome =
      ActivityEnvironment.run(T.Introspect, [],
        attempt: 3,
        heartbeat_details: ["resume"],
        activity_id: "a-1",
        workflow_id: "wf-1",
        started_time: started,
        heartbeat_timeout: 1_000
      )

    assert {:completed, info} = outcome.result

    assert %{
             attempt: 3,
             heartbeat_details: ["resume"],
             activity_id: "a-1",
             activity_type: "introspect",
             workflow_id: "wf-1",
             started_time: ^started,
             heartbeat_timeout: 1_000
           } = info

    assert outcome.heartbeats == [[%{"step" => 1}], []]
  end

  test "an activity resumes from the heartbeat details of an earlier attempt" do
    assert %{result: {:completed, 5}, heartbeats: [[4], [5]]} =
             ActivityEnvironment.run(T.Counter, [5], attempt: 2, heartbeat_details: [3])
  end

  test "failures come back as the worker reports them" do
    assert %{result: {:failed, %ApplicationError{type: "ArgumentError"} = error}} =
             ActivityEnvironment.run(T.Outcome, ["raise"])

    assert error.message == "bad argument here"
    assert error.stack_trace =~ "test_activities.ex"

    assert %{
             result:
               {:failed,
                %ApplicationError{
                  type: "CardDeclined",
                  non_retryable: true,
                  details: [%{"code" => 51}]
                }}
           } = ActivityEnvironment.run(T.Outcome, ["app_error"])

    assert %{result: {:failed, %ApplicationError{type: "ExecutorExit"}}} =
             ActivityEnvironment.run(T.Crash, [])
  end

  test "a test cancels a running activity and sees it report cancelled" do
    run = ActivityEnvironment.start(T.WaitForCancel, [pid_text()])
    assert_receive {:running, _pid}
    assert [] = ActivityEnvironment.await_heartbeat(run)
    :ok = ActivityEnvironment.cancel(run, "no longer needed")

    outcome = ActivityEnvironment.await(run)
    assert outcome.result == {:cancelled, "no longer needed"}
    assert outcome.heartbeats != []

    run = ActivityEnvironment.start(T.PollCancelled, [pid_text()])
    assert_receive {:running, _pid}
    ActivityEnvironment.cancel(run)
    assert %{result: {:completed, "stopped cleanly"}} = ActivityEnvironment.await(run)
  end

  test "native activities run on tokio, and can be cancelled" do
    assert %{result: {:completed, digest}} =
             ActivityEnvironment.run("hourglass.sha256", [%{"data" => "abc", "rounds" => 1}])

    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    run = ActivityEnvironment.start("hourglass.sleep", [60_000])
    ActivityEnvironment.cancel(run, %{"why" => "test"})
    assert %{result: {:cancelled, %{"why" => "test"}}} = ActivityEnvironment.await(run)
    assert_native_tasks_gone()
  end

  test "a native body with a heartbeat timeout is heartbeated for by its owner" do
    outcome = ActivityEnvironment.run("hourglass.sleep", [300], heartbeat_timeout: 100)
    assert outcome.result == {:completed, 300}
    assert length(outcome.heartbeats) >= 2
  end

  test "an activity that completes asynchronously says so" do
    assert %{result: :will_complete_async} = ActivityEnvironment.run(T.Later, [])
  end

  test "bad input is a clear error" do
    assert_raise ArgumentError, ~r/does not `use Hourglass.Activity`/, fn ->
      ActivityEnvironment.run(String, [])
    end

    assert_raise ArgumentError, ~r/unknown native activity type "nope"/, fn ->
      ActivityEnvironment.run("nope", [])
    end

    assert_raise ArgumentError, ~r/unknown options: \[:atempt\]/, fn ->
      ActivityEnvironment.run(T.Greet, ["Ada"], atempt: 2)
    end

    assert_raise ArgumentError, ~r/attempt must be a positive integer/, fn ->
      ActivityEnvironment.run(T.Greet, ["Ada"], attempt: 0)
    end
  end

  test "an activity that does not finish in time is stopped and reported" do
    assert_raise RuntimeError, ~r/did not finish within the timeout/, fn ->
      ActivityEnvironment.run("hourglass.sleep", [60_000], timeout: 100)
    end

    assert_native_tasks_gone()
  end

  defp pid_text, do: self() |> :erlang.pid_to_list() |> to_string()

  defp assert_native_tasks_gone(tries \\ 100) do
    cond do
      Native.stats().live == 0 ->
        :ok

      tries == 0 ->
        flunk("native tasks still live: #{inspect(Native.stats())}")

      true ->
        Process.sleep(20)
        assert_native_tasks_gone(tries - 1)
    end
  end
end
