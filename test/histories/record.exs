# Records the histories of Hourglass.RecordedWorkflows (test/support/recorded_workflows.ex) as
# this checkout of Hourglass makes them, into test/histories/<dir>/<name>.json (the temporal
# CLI's JSON), for workflow_fixtures_test.exs to replay on every later Hourglass:
#
#     MIX_ENV=test mix run --no-start test/histories/record.exs <dir>
#
# Each workflow is driven down the path its moduledoc names (cancelled while it waits, and so
# on) by the Elixir client, on a dev server of its own.
alias Hourglass.{Client, DevServer}
alias Hourglass.RecordedWorkflows, as: R

[dir] = System.argv()
dir = Path.join(Path.dirname(__ENV__.file), dir)
File.mkdir_p!(dir)
{:ok, _} = Application.ensure_all_started(:hourglass)

{:ok, server} = DevServer.start_link([])
address = DevServer.address(server)
queue = "recorded"

{:ok, _worker} =
  Hourglass.Worker.start_link(
    task_queue: queue,
    address: address,
    workflows: R.all(),
    activities: [
      Hourglass.IntegrationActivities.Echo,
      Hourglass.IntegrationActivities.NonRetryable
    ]
  )

{:ok, client} = Client.connect(address: address)

show = fn id ->
  {json, 0} =
    System.cmd(DevServer.executable(), ~w(workflow show --address #{address} -w #{id} -o json))

  json
end

# Waits until the workflow's history has `count` events of `type` (e.g. "TIMER_STARTED").
wait_for = fn id, type, count ->
  Enum.find_value(1..300, fn _ ->
    payload = %Hourglass.Payload{metadata: %{"encoding" => "json/plain"}, data: show.(id)}
    {:ok, [%{"events" => events}]} = Hourglass.Payload.to_values([payload])
    seen = Enum.count(events, &(&1["eventType"] in [type, "EVENT_TYPE_" <> type]))
    if seen >= count, do: true, else: Process.sleep(100) && nil
  end) || raise "#{id}: no #{count} #{type} events"
end

start = fn type, args, id ->
  {:ok, handle} = Client.start_workflow(client, type, args, id: id, task_queue: queue)
  handle
end

# The README's workflow, down its happy path.
approval = start.("RecordedApproval", ["order-1"], "approval")
{:ok, nil} = Client.query_workflow(client, approval, "approver")
:ok = Client.signal_workflow(client, approval, "approve", ["ada"])
{:ok, %{"approver" => "ada"}} = Client.workflow_result(client, approval)

# Cancelled while it waits for its condition.
IO.puts("approval done")
cleanup = start.("RecordedCleanupAfterCancel", [], "cleanup-after-cancel")
wait_for.("cleanup-after-cancel", "WORKFLOW_TASK_COMPLETED", 1)
:ok = Client.cancel_workflow(client, cleanup, "recorded")
{:error, {:cancelled, _}} = Client.workflow_result(client, cleanup)

# Cancelled with three timers and two activities pending.
IO.puts("cleanup done")
pending = start.("RecordedPendingAtCancel", [5], "pending-at-cancel")
wait_for.("pending-at-cancel", "ACTIVITY_TASK_SCHEDULED", 2)
:ok = Client.cancel_workflow(client, pending, "recorded")
{:error, {:cancelled, _}} = Client.workflow_result(client, pending)

IO.puts("pending done")
failure = start.("RecordedHandledFailure", [], "handled-failure")
{:ok, %{"local" => "local"}} = Client.workflow_result(client, failure)

IO.puts("failure done")
updates = start.("RecordedUpdates", [], "updates")
charge = Task.async(fn -> Client.execute_update(client, updates, "charge", [5]) end)
wait_for.("updates", "ACTIVITY_TASK_COMPLETED", 1)
:ok = Client.signal_workflow(client, updates, "proceed", [])
{:ok, "receipt-5"} = Task.await(charge, 30_000)
:ok = Client.signal_workflow(client, updates, "close", [])
{:ok, [5]} = Client.workflow_result(client, updates)

IO.puts("updates done")

# An update accepted while its handler waits, then the signal that lets both it and the main
# routine finish in one activation.
at_the_end = start.("RecordedUpdateAtTheEnd", [], "update-at-the-end")
{:ok, _update} = Client.start_update(client, at_the_end, "wait", [])
:ok = Client.signal_workflow(client, at_the_end, "go", [])
{:ok, "ended"} = Client.workflow_result(client, at_the_end)
IO.puts("update at the end done")
parent = start.("RecordedParent", [], "parent")
wait_for.("parent", "CHILD_WORKFLOW_EXECUTION_STARTED", 2)
:ok = Client.cancel_workflow(client, parent, "recorded")
{:error, {:cancelled, _}} = Client.workflow_result(client, parent)

for id <-
      ~w(approval cleanup-after-cancel pending-at-cancel handled-failure updates update-at-the-end parent) do
  File.write!(Path.join(dir, "#{id}.json"), show.(id))
end

IO.puts("recorded #{length(File.ls!(dir))} histories in #{dir}")
DevServer.stop(server)
