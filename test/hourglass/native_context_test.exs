defmodule Hourglass.NativeContextTest do
  # Not async: it checks that no native task is left, a count shared by the whole VM.
  use ExUnit.Case, async: false

  import Hourglass.TestHelpers

  alias Hourglass.{ApplicationError, Native}
  alias Hourglass.Testing.ActivityEnvironment

  # The activities are the Rust test ones (native/hourglass_test_nif/src/lib.rs),
  # written with the public Rust API: typed arguments, ActivityContext, ActivityFailure.

  test "a native body heartbeats with details, sees its info, and resumes from a heartbeat" do
    outcome =
      ActivityEnvironment.run("hourglass.test.heartbeats", [3, 10], activity_id: "native-1")

    assert outcome.heartbeats == [[1], [2], [3]]

    assert {:completed,
            %{"resumed_from" => 0, "attempt" => 1, "activity_id" => "native-1", "task_queue" => q}} =
             outcome.result

    assert is_binary(q)

    resumed =
      ActivityEnvironment.run("hourglass.test.heartbeats", [3, 10],
        attempt: 2,
        heartbeat_details: [2]
      )

    assert resumed.heartbeats == [[3]]
    assert {:completed, %{"resumed_from" => 2, "attempt" => 2}} = resumed.result
  end

  test "typed arguments that do not fit fail without retry, naming the activity" do
    assert %{result: {:failed, %ApplicationError{} = error}} =
             ActivityEnvironment.run("hourglass.test.heartbeats", ["three", 10])

    assert error.type == "InvalidArgument"
    assert error.non_retryable
    assert error.message =~ "hourglass.test.heartbeats"
  end

  test "a failure carries its type, details and next retry delay" do
    assert %{result: {:failed, %ApplicationError{} = error}} =
             ActivityEnvironment.run("hourglass.test.fail", [])

    assert %{type: "PaymentDeclined", message: "card expired", non_retryable: true} = error
    assert error.details == [%{"card" => "visa"}, 42]
    assert error.next_retry_delay == 7_000
  end

  @tag :tmp_dir
  test "a cancelled body with a cancel grace cleans up, and is reported cancelled", %{
    tmp_dir: dir
  } do
    marker = Path.join(dir, "cleaned")
    run = ActivityEnvironment.start("hourglass.test.cleanup", [100, marker])
    Process.sleep(50)
    ActivityEnvironment.cancel(run, "stop")
    assert %{result: {:cancelled, "stop"}} = ActivityEnvironment.await(run)
    assert File.read!(marker) == "cleaned up"
    assert_native_tasks_gone()
  end

  @tag :tmp_dir
  test "a body that overruns its cancel grace is dropped and reported cancelled", %{
    tmp_dir: dir
  } do
    marker = Path.join(dir, "cleaned")
    run = ActivityEnvironment.start("hourglass.test.cleanup", [30_000, marker])
    Process.sleep(50)
    ActivityEnvironment.cancel(run, "stop")
    # The grace is 1 s; generous bound for a noisy machine.
    assert %{result: {:cancelled, "stop"}} = ActivityEnvironment.await(run, 10_000)
    refute File.exists?(marker)
    assert_native_tasks_gone()
  end

  defp assert_native_tasks_gone, do: eventually(fn -> Native.stats().live == 0 end)
end
