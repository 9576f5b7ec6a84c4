defmodule Hourglass.Faults.TwoNodes do
  @moduledoc """
  Two worker VMs (two OS processes) poll one task queue and share the work; one is killed with
  SIGKILL mid-run, with activities in flight. The other must finish everything, the killed
  attempts after redelivery, and each activity's attempt number must match what the server
  recorded.
  """

  alias Hourglass.{Client, WorkerNode}
  alias Hourglass.Faults.Support

  @worker [
    activities: [Hourglass.Faults.Activities.Work],
    native_activities: ["hourglass.sleep"],
    max_concurrent_activities: 500
  ]

  @doc "Runs the scenario with `count` activities."
  def run(%{address: address, client: client}, count) do
    queue = Support.queue("nodes")
    doomed = WorkerNode.start(address, queue, @worker)
    survivor = WorkerNode.start(address, queue, @worker)

    handles =
      Support.start_batch(client, queue, "faults.work", count, [2_000],
        start_to_close_timeout: 20_000,
        heartbeat_timeout: 2_000
      )

    Process.sleep(1_000)
    WorkerNode.kill(doomed)
    results = Support.await_all(client, handles)
    WorkerNode.kill(survivor)
    tally = Support.tally(results)

    by_node =
      results
      |> Enum.flat_map(fn
        {:ok, %{"os_pid" => os_pid}} -> [os_pid]
        _ -> []
      end)
      |> Enum.frequencies()

    # The attempt the activity saw is the attempt the server says completed it.
    mismatched =
      handles
      |> Enum.zip(results)
      |> Enum.count(fn
        {handle, {:ok, %{"attempt" => attempt}}} ->
          match?(
            {:ok, %{attempt: server}} when server != attempt,
            Client.describe(client, handle)
          )

        _ ->
          false
      end)

    %{
      scenario: "two worker VMs, one killed",
      activities: count,
      faults: 1,
      completed: tally.completed,
      lost: count - tally.completed,
      redelivered: Enum.count(results, &match?({:ok, %{"attempt" => n}} when n > 1, &1)),
      completed_by_survivor: Map.get(by_node, "#{survivor.os_pid}", 0),
      attempts_not_matching_server: mismatched,
      ok: tally.completed == count and mismatched == 0
    }
  end
end
