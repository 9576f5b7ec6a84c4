# A worker in a VM of its own, for tests that kill the VM. Run with
#   MIX_ENV=test mix run --no-compile test/support/worker_node.exs ADDRESS TASK_QUEUE
# Prints "READY" once the worker polls.
[address, task_queue] = System.argv()

# Under the application's supervisor, as in a user's tree: SIGTERM stops the VM through
# init:stop/0, which stops the application and so shuts the worker down gracefully.
{:ok, _} =
  Supervisor.start_child(
    Hourglass.Supervisor,
    {Hourglass.Worker,
     task_queue: task_queue,
     address: address,
     activities: [Hourglass.IntegrationActivities.Silent, Hourglass.IntegrationActivities.Echo],
     native_activities: ["hourglass.sleep"],
     graceful_shutdown_timeout: 10_000}
  )

IO.puts("READY #{System.pid()}")
Process.sleep(:infinity)
