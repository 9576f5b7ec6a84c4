defmodule Hourglass.TelemetryTest do
  # Hourglass emits :telemetry events only when the host has the library loaded. The library is
  # not available here (no hex), so this test loads a stand-in module named :telemetry that
  # forwards events to the test process.
  use ExUnit.Case, async: false
  import Hourglass.TestHelpers

  alias Hourglass.{ActivityRegistry, ActivityRunner}
  alias Hourglass.TestActivities.{Greet, Outcome}

  setup do
    Process.register(self(), :hourglass_telemetry_test)

    [{module, _}] =
      Code.compile_string("""
      defmodule :telemetry do
        def execute(event, measurements, metadata),
          do: send(:hourglass_telemetry_test, {:telemetry, event, measurements, metadata})
      end
      """)

    on_exit(fn ->
      :code.purge(module)
      :code.delete(module)
    end)

    queue = unique_queue()

    :ok =
      ActivityRegistry.register(queue,
        activities: [Greet, Outcome],
        native_activities: ["hourglass.echo", "hourglass.sleep"]
      )

    %{queue: queue}
  end

  defp run(queue, type, input) do
    ActivityRunner.run(
      %{task_token: token(), activity_type: type, input: input, activity_id: "a-1"},
      queue,
      fn _, _ -> :ok end
    )
  end

  test "start and stop around an attempt", %{queue: queue} do
    run(queue, "greet", ["Ada"])

    assert_receive {:telemetry, [:hourglass, :activity, :start], %{system_time: _},
                    %{activity_type: "greet", activity_id: "a-1", attempt: 1, task_queue: ^queue}}

    assert_receive {:telemetry, [:hourglass, :activity, :stop], %{duration: duration},
                    %{result: :completed}}

    assert duration >= 0
  end

  test "exception when execute raises, then stop with the failure", %{queue: queue} do
    run(queue, "outcome", ["raise"])

    assert_receive {:telemetry, [:hourglass, :activity, :exception], %{duration: _},
                    %{kind: :error, reason: %ArgumentError{}, stacktrace: [_ | _]}}

    assert_receive {:telemetry, [:hourglass, :activity, :stop], _, %{result: :failed}}
  end

  test "native activities too, with how they ended", %{queue: queue} do
    assert :ok = run(queue, "hourglass.echo", [1])

    assert_receive {:telemetry, [:hourglass, :activity, :start], _,
                    %{activity_type: "hourglass.echo"}}

    assert_receive {:telemetry, [:hourglass, :activity, :stop], _, %{result: :completed}}

    assert :ok = run(queue, "hourglass.sleep", ["not a duration"])
    assert_receive {:telemetry, [:hourglass, :activity, :stop], _, %{result: :failed}}
  end

  test "nothing is emitted without the library" do
    :code.purge(:telemetry)
    :code.delete(:telemetry)
    assert :ok = Hourglass.Telemetry.execute([:x], %{}, %{})
    refute_received {:telemetry, _, _, _}
  end
end
