# The BEAM's work per activity, in reductions, split between the worker process, the executor
# supervisor and everything else (the executors, the BridgeHolder, Logger…): a measure of a
# change to the activity path that, unlike CPU time, does not move with the machine's noise.
# A worker in this VM serves the echo activity; the driver runs `count` of them (default
# 2,000) in `mode` ("standalone" or "workflow", as `bench/peers/drive.py` takes it) after a
# warm-up of 300.
#
#     MIX_ENV=bench mix run bench/reductions.exs [mode] [count]

alias Hourglass.{Bench.Peer, DevServer}

{mode, count} =
  case System.argv() do
    [] -> {"standalone", 2_000}
    [mode] -> {mode, 2_000}
    [mode, count] -> {mode, String.to_integer(count)}
  end

Logger.configure(level: :error)
{:ok, server} = DevServer.start_link()
address = DevServer.address(server)
queue = "reductions"

{:ok, worker} =
  Hourglass.Worker.start_link(
    task_queue: queue,
    address: address,
    activities: [Hourglass.Bench.Activities.Echo],
    max_concurrent_activities: 200
  )

try do
  Peer.drive(address, queue, mode, 300, 200)
  executors = Process.whereis(Hourglass.ActivityExecutor.DynamicSupervisor)
  reductions = fn pid -> pid |> Process.info(:reductions) |> elem(1) end
  {total_before, _} = :erlang.statistics(:exact_reductions)
  {worker_before, executors_before} = {reductions.(worker), reductions.(executors)}
  summary = Peer.drive(address, queue, mode, count, 200)
  {total_after, _} = :erlang.statistics(:exact_reductions)
  {worker_after, executors_after} = {reductions.(worker), reductions.(executors)}
  done = max(summary["completed"], 1)
  total = total_after - total_before
  in_worker = worker_after - worker_before
  in_executors = executors_after - executors_before

  IO.puts(
    "#{mode}, #{done} activities: per activity #{div(total, done)} reductions — worker " <>
      "#{div(in_worker, done)}, executor supervisor #{div(in_executors, done)}, " <>
      "everything else #{div(total - in_worker - in_executors, done)}"
  )
after
  Hourglass.Worker.stop(worker)
  DevServer.stop(server)
end
