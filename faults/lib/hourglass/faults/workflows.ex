defmodule Hourglass.Faults.Workflows do
  @moduledoc """
  Workflows under faults. Half of them run on a worker in this VM that caches two runs at most
  while their run processes are killed at random, two kills per workflow in all (each kill
  fails a workflow task; the server
  retries it, and Core replays the run into a new process); the other half run on a worker VM
  that is SIGKILLed midway and replaced. Every workflow must finish with every step exactly
  once, within the deadline: none lost, none stuck (a non-determinism error would leave its
  workflow retrying its task forever, so it would count as stuck).
  """

  alias Hourglass.{Client, WorkerNode}
  alias Hourglass.Faults.Support

  defmodule Chain do
    @moduledoc "`steps` steps, each a short native activity then a timer; returns the steps."
    use Hourglass.Workflow, name: "faults.Chain"
    alias Hourglass.Workflow

    @impl true
    def run(steps) do
      done =
        for step <- 1..steps do
          {:ok, _} =
            Workflow.execute_activity("hourglass.sleep", [20],
              start_to_close_timeout: 5_000,
              retry_policy: [initial_interval: 100]
            )

          :ok = Workflow.sleep(30)
          step
        end

      # Seeded per run: the same on every replay, so a replayed run returns what it began.
      {:ok, %{"steps" => done, "token" => Workflow.uuid4()}}
    end
  end

  @steps 6
  @worker [workflows: [Chain], native_activities: ["hourglass.sleep"]]

  @doc "Runs the scenario with `count` workflows in all."
  def run(%{address: address, client: client}, count) do
    killed_runs = run_processes_killed(address, client, div(count, 2))
    vm_killed = worker_vm_killed(address, client, count - div(count, 2))
    lost = killed_runs.lost + vm_killed.lost

    %{
      scenario: "workflows: run processes killed with a cache of 2; the worker VM killed",
      workflows: count,
      run_processes_killed: killed_runs.kills,
      faults: killed_runs.kills + 1,
      completed: count - lost,
      lost: lost,
      ok: lost == 0
    }
  end

  defp run_processes_killed(address, client, count) do
    queue = Support.queue("workflows")

    worker =
      Support.start_worker(
        [task_queue: queue, address: address, max_cached_workflows: 2] ++ @worker
      )

    handles = start(client, queue, count)
    # Two kills per workflow, then none: every kill costs a run a failed task and a replay, and
    # on a slow machine kills without end could starve runs that are never lost.
    killer = Task.async(fn -> kill_runs(queue, 0, 2 * count) end)
    lost = count_lost(client, handles)
    send(killer.pid, :stop)
    kills = Task.await(killer)
    Support.stop_worker(worker)
    %{lost: lost, kills: kills}
  end

  defp worker_vm_killed(address, client, count) do
    queue = Support.queue("workflows-vm")
    doomed = WorkerNode.start(address, queue, @worker)
    handles = start(client, queue, count)
    # Midway: runs cached, activities running, workflow tasks open.
    Process.sleep(300)
    WorkerNode.kill(doomed)
    successor = WorkerNode.start(address, queue, @worker)
    lost = count_lost(client, handles)
    WorkerNode.kill(successor)
    %{lost: lost}
  end

  defp start(client, queue, count) do
    1..count
    |> Task.async_stream(
      fn index ->
        {:ok, handle} =
          Client.start_workflow(client, "faults.Chain", [@steps],
            id: "#{queue}-#{index}",
            task_queue: queue
          )

        handle
      end,
      max_concurrency: 50,
      timeout: 60_000
    )
    |> Enum.map(fn {:ok, handle} -> handle end)
  end

  # Every 50 ms, kills one run process of `queue`'s worker (others' runs are left alone), until
  # `budget` kills.
  defp kill_runs(_queue, kills, budget) when kills >= budget do
    receive do
      :stop -> kills
    end
  end

  defp kill_runs(queue, kills, budget) do
    receive do
      :stop -> kills
    after
      50 ->
        case runs_of(queue) do
          [] ->
            kill_runs(queue, kills, budget)

          runs ->
            Process.exit(Enum.random(runs), :kill)
            kill_runs(queue, kills + 1, budget)
        end
    end
  end

  defp runs_of(queue) do
    for {_, pid, _, _} <-
          DynamicSupervisor.which_children(Hourglass.WorkflowExecutor.DynamicSupervisor),
        is_pid(pid),
        {:dictionary, dictionary} <- [Process.info(pid, :dictionary)],
        match?(%{info: %{task_queue: ^queue}}, dictionary[:"$hourglass_workflow_run"]),
        do: pid
  end

  # Workflows that did not finish with every step once within two minutes.
  defp count_lost(client, handles) do
    handles
    |> Task.async_stream(&Client.workflow_result(client, &1, timeout: 120_000),
      max_concurrency: 100,
      timeout: :infinity
    )
    |> Enum.count(fn
      {:ok, {:ok, %{"steps" => steps}}} -> steps != Enum.to_list(1..@steps)
      _ -> true
    end)
  end
end
