# A worker in a VM of its own, for the fault scenarios that kill whole VMs. Run from the
# project root:
#   mix run --no-compile faults/worker_node.exs ADDRESS TASK_QUEUE
# Prints "READY" once the worker polls.
[address, task_queue] = System.argv()

{:ok, _} =
  Supervisor.start_child(
    Hourglass.Supervisor,
    {Hourglass.Worker,
     task_queue: task_queue,
     address: address,
     activities: [Hourglass.Faults.Activities.Work],
     native_activities: ["hourglass.sleep"],
     max_concurrent_activities: 500}
  )

IO.puts("READY #{System.pid()}")
Process.sleep(:infinity)
