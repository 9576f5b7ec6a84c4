# The Hourglass worker of the end-to-end benchmarks, in a VM of its own so that its CPU time can
# be read from the OS. Run from the project root:
#   mix run --no-compile bench/worker_node.exs ADDRESS TASK_QUEUE MAX_CONCURRENT
# Prints "READY" once the worker polls; stops gracefully on SIGTERM.
[address, task_queue, max_concurrent] = System.argv()

{:ok, _} =
  Supervisor.start_child(
    Hourglass.Supervisor,
    {Hourglass.Worker,
     task_queue: task_queue,
     address: address,
     activities: [Hourglass.Bench.Activities.Echo],
     native_activities: ["hourglass.echo"],
     max_concurrent_activities: String.to_integer(max_concurrent)}
  )

IO.puts("READY")
Process.sleep(:infinity)
