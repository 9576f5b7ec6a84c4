defmodule Hourglass.Faults.Workflows do
  @moduledoc """
  Workflows under faults. `killed_runs` of them run on a worker in this VM that caches two runs
  at most while their run processes are killed at random, two kills per workflow in all (each
  kill fails a workflow task; the server retries it, and Core replays the run into a new
  process); `vm_killed` more run on a worker VM that is SIGKILLed while all of them are open,
  and replaced. Every workflow must finish with every step exactly
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
  @kills_per_workflow 2
  @worker [workflows: [Chain], native_activities: ["hourglass.sleep"]]

  @doc "Runs the scenario: `killed_runs` workflows with their runs killed, `vm_killed` with their VM."
  def run(%{address: address, client: client}, %{killed_runs: runs_count, vm_killed: vm_count}) do
    killed_runs = run_processes_killed(address, client, runs_count)
    vm_killed = worker_vm_killed(address, client, vm_count)
    lost = killed_runs.lost + vm_killed.lost
    count = runs_count + vm_count

    %{
      scenario: "workflows: run processes killed with a cache of 2; the worker VM killed",
      workflows: count,
      open_when_vm_killed: vm_killed.open,
      lost_with_runs_killed: killed_runs.lost,
      lost_with_vm_killed: vm_killed.lost,
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
        [
          task_queue: queue,
          address: address,
          max_cached_workflows: 2
        ] ++
          @worker
      )

    handles = start(client, queue, count)
    # Two kills per workflow at most: every kill costs a run a failed task and a replay, and on
    # a slow machine kills without end could starve runs that are never lost.
    killer = Task.async(fn -> kill_runs(queue, %{}, @kills_per_workflow * count) end)
    # Two runs cached: every workflow task of ~13 per workflow is a cache miss that evicts
    # another run and replays this one, two at a time (2 s per workflow on 2 cores).
    lost = count_lost(client, handles, 2_000)
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
    # Counted with no worker left to finish any: those open when the VM died.
    open = Enum.count(handles, &open?(client, &1))
    successor = WorkerNode.start(address, queue, @worker)
    # 1,000 runs replayed into the new VM at once (0.3 s per workflow on 2 cores).
    lost = count_lost(client, handles, 300)
    WorkerNode.kill(successor)
    %{lost: lost, open: open}
  end

  defp start(client, queue, count) do
    1..count//1
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

  # Every 50 ms, kills one run process of `queue`'s worker (others' runs are left alone) whose
  # workflow was killed fewer than @kills_per_workflow times, until `budget` kills. Kills are
  # spread over the workflows: a workflow task that fails again on a retry is not reported by
  # Core (it lets the task time out, 10 s), and the server backs off a task that keeps failing
  # (up to minutes), so a run hit time after time would only be late, and on a loaded machine
  # later than the deadline.
  defp kill_runs(queue, killed, budget) do
    kills = killed |> Map.values() |> Enum.sum()

    receive do
      :stop -> kills
    after
      50 ->
        case {kills < budget,
              for({pid, id} <- runs_of(queue), killed[id] != @kills_per_workflow, do: {pid, id})} do
          {true, [_ | _] = runs} ->
            {pid, id} = Enum.random(runs)
            Process.exit(pid, :kill)
            kill_runs(queue, Map.update(killed, id, 1, &(&1 + 1)), budget)

          _ ->
            kill_runs(queue, killed, budget)
        end
    end
  end

  # The run processes of `queue`'s worker, with their workflow ids.
  defp runs_of(queue) do
    for {_, pid, _, _} <-
          DynamicSupervisor.which_children(Hourglass.WorkflowExecutor.DynamicSupervisor),
        is_pid(pid),
        {:dictionary, dictionary} <- [Process.info(pid, :dictionary)],
        %{info: %{task_queue: ^queue, workflow_id: id}} <- [
          dictionary[:"$hourglass_workflow_run"]
        ],
        do: {pid, id}
  end

  defp open?(client, handle) do
    match?({:ok, %{status: :running}}, Client.describe_workflow(client, handle))
  end

  # Workflows that did not finish with every step once by the deadline: two minutes, and
  # `per_workflow` ms more per workflow. Each is reported (its status and history length), to
  # tell one still running, late, from one that ended wrong.
  defp count_lost(client, handles, per_workflow) do
    deadline = System.monotonic_time(:millisecond) + 120_000 + per_workflow * length(handles)

    wait = fn handle ->
      left = max(deadline - System.monotonic_time(:millisecond), 1_000)
      {handle, Client.workflow_result(client, handle, timeout: left)}
    end

    lost =
      handles
      |> Task.async_stream(wait,
        max_concurrency: 100,
        timeout: :infinity
      )
      |> Enum.reject(fn {:ok, {_handle, outcome}} ->
        match?({:ok, %{"steps" => steps}} when steps == unquote(Enum.to_list(1..@steps)), outcome)
      end)

    for {:ok, {handle, outcome}} <- lost do
      described =
        case Client.describe_workflow(client, handle) do
          {:ok, info} -> Map.take(info, [:status, :history_length])
          other -> other
        end

      IO.puts(
        "faults workflows: #{handle.workflow_id} lost: #{inspect(outcome, limit: 5)}; " <>
          "now #{inspect(described)}"
      )
    end

    length(lost)
  end
end
