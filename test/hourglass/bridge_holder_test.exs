defmodule Hourglass.BridgeHolderTest do
  use ExUnit.Case, async: false
  import Hourglass.TestHelpers

  alias Hourglass.{ApplicationError, BridgeHolder}

  test "routes completions and heartbeats of a registered queue to its sink" do
    queue = unique_queue()
    :ok = BridgeHolder.register(queue, {:sink, self()})
    assert BridgeHolder.registered?(queue)

    completion = %{task_token: "t", result: {:completed, 1}}
    assert :ok = BridgeHolder.complete_activity_task(queue, completion)
    assert_receive {:hourglass_completion, ^queue, ^completion}

    assert :ok = BridgeHolder.record_heartbeat(queue, "t", [%{"at" => 1}])
    assert_receive {:hourglass_heartbeat, ^queue, %{task_token: "t", details: [%{"at" => 1}]}}

    :ok = BridgeHolder.unregister(queue)
    refute BridgeHolder.registered?(queue)

    assert {:error, :worker_not_registered} =
             BridgeHolder.complete_activity_task(queue, completion)

    assert {:error, :worker_not_registered} = BridgeHolder.record_heartbeat(queue, "t", [])
  end

  test "accepts every documented result and refuses anything else" do
    queue = unique_queue()
    :ok = BridgeHolder.register(queue, {:sink, self()})

    for result <- [{:completed, nil}, {:failed, %ApplicationError{}}, {:cancelled, "why"}] do
      assert :ok = BridgeHolder.complete_activity_task(queue, %{task_token: "t", result: result})
    end

    for bad <- [
          nil,
          %{},
          %{task_token: 1, result: {:completed, 1}},
          %{task_token: "t", result: {:failed, "x"}},
          %{task_token: "t", result: :ok}
        ] do
      assert {:error, {:invalid_completion, ^bad}} =
               BridgeHolder.complete_activity_task(queue, bad)
    end

    assert {:error, {:invalid_registration, ^queue, :nope}} = BridgeHolder.register(queue, :nope)
  end

  test "a sink that exits unregisters its queue" do
    queue = unique_queue()
    sink = spawn(fn -> receive do: (:stop -> :ok) end)
    :ok = BridgeHolder.register(queue, {:sink, sink})
    send(sink, :stop)
    eventually(fn -> not BridgeHolder.registered?(queue) end)
  end

  test "a restart forgets every registration" do
    queue = unique_queue()
    :ok = BridgeHolder.register(queue, {:sink, self()})
    old = Process.whereis(BridgeHolder)
    Process.exit(old, :kill)
    eventually(fn -> Process.whereis(BridgeHolder) not in [nil, old] end)

    assert {:error, :worker_not_registered} =
             BridgeHolder.complete_activity_task(queue, %{
               task_token: "t",
               result: {:completed, 1}
             })
  end
end
