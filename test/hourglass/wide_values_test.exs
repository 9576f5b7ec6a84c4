defmodule Hourglass.WideValuesTest do
  # Values of every shape and size the converter accepts, through every path that makes terms
  # without a server: the payload API, Elixir and native activities (inputs, results, heartbeat
  # details, failure details), Native.start_child/1 and ActivityRunner.run/3. A map of more
  # than 128 keys made on a tokio thread crashed the VM on OTP 25 (erlang/otp#8208); a crash
  # here ends the whole test run, so each case also proves the VM survived it.
  use ExUnit.Case, async: true
  import Hourglass.TestHelpers

  alias Hourglass.{
    ActivityRegistry,
    ActivityRunner,
    ApplicationError,
    BridgeHolder,
    Native,
    Payload
  }

  alias Hourglass.Testing.ActivityEnvironment
  alias Hourglass.ValueGenerator, as: Gen

  @moduletag timeout: 300_000

  defmodule Echo do
    @moduledoc false
    use Hourglass.Activity, name: "wide_values.echo"

    def execute(value) do
      Hourglass.Activity.heartbeat(value)
      {:ok, value}
    end
  end

  defmodule FailWith do
    @moduledoc false
    use Hourglass.Activity, name: "wide_values.fail"

    def execute(value),
      do: {:error, %ApplicationError{type: "Wide", message: "as asked", details: [value]}}
  end

  setup_all do
    Gen.seed(20_261_130)
    %{cases: Gen.cases(:ci)}
  end

  test "the payload API round-trips every case", %{cases: cases} do
    for {name, value} <- cases do
      assert {:ok, [payload]} = Payload.from_values([value]), name
      assert {:ok, [^value]} = Payload.to_values([payload]), name
    end
  end

  test "a value nested deeper than the limit is a clear error, not a crash" do
    assert {:error, message} = Payload.from_values([Gen.too_deep()])
    assert message =~ "deeper than"
  end

  test "the native echo returns every case unchanged", %{cases: cases} do
    for {name, value} <- cases do
      assert %{result: {:completed, ^value}} =
               ActivityEnvironment.run("hourglass.echo", [value], timeout: 60_000),
             name
    end
  end

  test "a native body's heartbeat details, result and failure details carry every case", %{
    cases: cases
  } do
    for {name, value} <- cases do
      assert %{result: {:completed, ^value}, heartbeats: [[^value]]} =
               ActivityEnvironment.run("hourglass.test.reflect", [value, "complete"],
                 timeout: 60_000
               ),
             name

      assert %{result: {:failed, %ApplicationError{type: "Reflected", details: [^value]}}} =
               ActivityEnvironment.run("hourglass.test.reflect", [value, "fail"], timeout: 60_000),
             name
    end
  end

  test "an Elixir activity's input, heartbeat details, result and failure details carry every case",
       %{cases: cases} do
    for {name, value} <- cases do
      assert %{result: {:completed, ^value}, heartbeats: [[^value]]} =
               ActivityEnvironment.run(Echo, [value], timeout: 60_000),
             name

      assert %{result: {:failed, %ApplicationError{details: [^value]}}} =
               ActivityEnvironment.run(FailWith, [value], timeout: 60_000),
             name
    end
  end

  test "Native.start_child/1 and ActivityRunner.run/3 complete with the 129-key map" do
    value = Gen.wide_map(129)
    queue = unique_queue()
    :ok = BridgeHolder.register(queue, {:sink, self()})
    :ok = ActivityRegistry.register(queue, native_activities: ["hourglass.echo"])

    on_exit(fn ->
      BridgeHolder.unregister(queue)
      ActivityRegistry.unregister(queue)
    end)

    {:ok, _pid} =
      Native.start_child(%{
        activity_task: %{task_token: "t-wide", activity_type: "hourglass.echo", input: [value]},
        task_queue: queue
      })

    assert_receive {:hourglass_completion, ^queue,
                    %{task_token: "t-wide", result: {:completed, ^value}}},
                   10_000

    test = self()
    complete = fn queue, completion -> send(test, {:ran, queue, completion}) && :ok end

    task = %{task_token: "t-runner", activity_type: "hourglass.echo", input: [value]}
    ActivityRunner.run(task, queue, complete)
    assert_receive {:ran, ^queue, %{task_token: "t-runner", result: {:completed, ^value}}}, 10_000
  end

  test "random values of mixed shapes round-trip through the native echo" do
    for _ <- 1..40 do
      value = Gen.value()
      assert {:ok, [payload]} = Payload.from_values([value])
      assert {:ok, [^value]} = Payload.to_values([payload])
      assert %{result: {:completed, ^value}} = ActivityEnvironment.run("hourglass.echo", [value])
    end
  end
end
