# The BEAM's work per activity or per workflow, in reductions, split between the worker
# process, the executor supervisor and everything else (the executors, the workflow runs, the
# BridgeHolder, Logger…): a measure of a change to the activity or workflow path that, unlike
# CPU time, does not move with the machine's noise. A worker in this VM serves the echo
# activity and the benchmark workflows; the driver runs `count` (default 2,000) in `mode`
# after a warm-up of 300: "standalone" or "workflow" (echo activities, as `bench/peers/drive.py`
# takes it), or a benchmark workflow type ("BenchSeq3", "BenchPar10", "BenchTimers5", as
# `bench/peers/drive_workflows.py` takes it).
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
    workflows: Hourglass.Bench.Workflows.all(),
    max_concurrent_activities: 200,
    max_cached_workflows: 1_000
  )

# As many at once as suites 3 and 6 run.
{drive, unit, concurrency} =
  if mode in ["standalone", "workflow"],
    do: {&Peer.drive/5, "activities", 200},
    else: {&Peer.drive_workflows/5, "workflows", 100}

try do
  drive.(address, queue, mode, 300, concurrency)
  executors = Process.whereis(Hourglass.ActivityExecutor.DynamicSupervisor)
  reductions = fn pid -> pid |> Process.info(:reductions) |> elem(1) end
  {total_before, _} = :erlang.statistics(:exact_reductions)
  {worker_before, executors_before} = {reductions.(worker), reductions.(executors)}
  summary = drive.(address, queue, mode, count, concurrency)
  {total_after, _} = :erlang.statistics(:exact_reductions)
  {worker_after, executors_after} = {reductions.(worker), reductions.(executors)}
  done = max(summary["completed"], 1)
  total = total_after - total_before
  in_worker = worker_after - worker_before
  in_executors = executors_after - executors_before

  IO.puts(
    "#{mode}, #{done} #{unit}: each #{div(total, done)} reductions — worker " <>
      "#{div(in_worker, done)}, executor supervisor #{div(in_executors, done)}, " <>
      "everything else #{div(total - in_worker - in_executors, done)}"
  )
after
  Hourglass.Worker.stop(worker)
  DevServer.stop(server)
end
