defmodule Hourglass.ActivityExecutorTest do
  use ExUnit.Case, async: false
  import Hourglass.TestHelpers

  alias Hourglass.ActivityExecutor.DynamicSupervisor, as: Executors
  alias Hourglass.{ActivityRegistry, BridgeHolder}
  alias Hourglass.TestActivities.{Greet, WaitForCancel}

  setup do
    queue = unique_queue()

    :ok =
      ActivityRegistry.register(queue,
        activities: [Greet, WaitForCancel],
        native_activities: ["hourglass.sleep"]
      )

    :ok = BridgeHolder.register(queue, {:sink, self()})

    on_exit(fn ->
      ActivityRegistry.unregister(queue)
      BridgeHolder.unregister(queue)
    end)

    %{queue: queue}
  end

  test "is registered under its module name and supervises temporary children" do
    assert is_pid(Process.whereis(Executors))
    assert %{id: Executors, type: :supervisor} = Executors.child_spec([])
  end

  test "an executor runs the activity, ships its completion and exits", %{queue: queue} do
    {:ok, pid} =
      Executors.start_child(%{
        activity_task: %{task_token: "t-1", activity_type: "greet", input: ["Ada"]},
        task_queue: queue
      })

    ref = Process.monitor(pid)

    assert_receive {:hourglass_completion, ^queue,
                    %{task_token: "t-1", result: {:completed, "Hello, Ada!"}}}

    assert_receive {:DOWN, ^ref, :process, ^pid, reason} when reason in [:normal, :noproc]

    assert [] ==
             Enum.filter(DynamicSupervisor.which_children(Executors), fn {_, p, _, _} ->
               p == pid
             end)
  end

  test "native activities started through it run on tokio", %{queue: queue} do
    {:ok, _} =
      Executors.start_child(%{
        activity_task: %{task_token: "t-n", activity_type: "hourglass.sleep", input: [1]},
        task_queue: queue
      })

    assert_receive {:hourglass_completion, ^queue, %{task_token: "t-n", result: {:completed, 1}}}
  end

  test "executors are not children of whoever started them: they outlive it", %{queue: queue} do
    test = self()

    starter =
      spawn(fn ->
        {:ok, pid} =
          Executors.start_child(%{
            activity_task: %{
              task_token: "t-w",
              activity_type: "wait_for_cancel",
              input: [pid_arg(test)]
            },
            task_queue: queue
          })

        send(test, {:started, pid})
        Process.sleep(:infinity)
      end)

    assert_receive {:started, executor}
    assert_receive {:running, ^executor}
    Process.exit(starter, :kill)
    Process.sleep(50)
    assert Process.alive?(executor)
    Hourglass.ActivityRunner.cancel(executor, "done")

    assert_receive {:hourglass_completion, ^queue,
                    %{task_token: "t-w", result: {:cancelled, "done"}}}
  end

  test "a crashing activity never takes its siblings or the supervisor down", %{queue: queue} do
    sup = Process.whereis(Executors)

    for i <- 1..50 do
      {:ok, _} =
        Executors.start_child(%{
          activity_task: %{task_token: "t-#{i}", activity_type: "greet", input: []},
          task_queue: queue
        })
    end

    for _ <- 1..50, do: assert_receive({:hourglass_completion, ^queue, %{result: {:failed, _}}})
    assert Process.whereis(Executors) == sup
  end

  test "malformed arguments are refused and start nothing", %{queue: queue} do
    before = DynamicSupervisor.count_children(Executors).active
    assert {:error, {:invalid_child_args, 42}} = Executors.start_child(42)

    assert {:error, {:invalid_child_args, %{task_queue: ^queue}}} =
             Executors.start_child(%{task_queue: queue})

    assert {:error, {:invalid_task_queue, :q}} =
             Executors.start_child(%{
               activity_task: %{task_token: "t", activity_type: "greet", input: []},
               task_queue: :q
             })

    assert {:error, {:invalid_activity_task, _}} =
             Executors.start_child(%{activity_task: %{task_token: "t"}, task_queue: queue})

    assert {:error, {:invalid_activity_task, _}} =
             Executors.start_child(%{activity_task: "t", task_queue: queue})

    assert DynamicSupervisor.count_children(Executors).active == before
  end
end
