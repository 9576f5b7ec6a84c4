# A worker in a VM of its own, for tests that kill the VM. Run with
#   MIX_ENV=test mix run --no-compile test/support/worker_node.exs ADDRESS TASK_QUEUE
# Prints "READY" once the worker polls.
[address, task_queue] = System.argv()

{:ok, _} =
  Hourglass.Worker.start_link(
    task_queue: task_queue,
    address: address,
    activities: [Hourglass.IntegrationActivities.Silent, Hourglass.IntegrationActivities.Echo],
    native_activities: ["hourglass.sleep"]
  )

IO.puts("READY #{System.pid()}")
Process.sleep(:infinity)
