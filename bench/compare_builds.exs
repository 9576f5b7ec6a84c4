# Two builds of the Hourglass worker side by side, in one run: this checkout's and another
# checkout's (an earlier commit), each in a VM of its own with the VM's default flags, on one
# dev server, taking turns (the order alternates every round, so neither always runs first).
# Prints each turn's worker CPU per unit (an activity, or a workflow) from the OS's accounting
# and its throughput, then the medians. For a change's before and after where the noise of
# these machines between two benchmark runs is larger than the change.
#
#     git worktree add /tmp/before <commit>     # or a clone
#     (cd /tmp/before && MIX_ENV=bench mix compile)
#     MIX_ENV=bench mix run bench/compare_builds.exs /tmp/before [count] [rounds] [modes]
#
# count: activities a turn (default 2,000; workflows: count / activities per workflow);
# rounds: turns of each build per mode (default 3); modes: comma-separated, any of
# "standalone" and "workflow" (`bench/peers/drive.py`'s modes: an echo activity, alone or
# called by a workflow that the driver's own worker runs) and the benchmark workflows
# "BenchSeq3", "BenchPar10", run by the worker itself (default "workflow,standalone").

alias Hourglass.{Bench.Peer, DevServer}

{before_root, given} =
  case System.argv() do
    [root | given] when length(given) <= 3 -> {Path.expand(root), given}
    _ -> raise "usage: mix run bench/compare_builds.exs BEFORE_CHECKOUT [count] [rounds] [modes]"
  end

[count, rounds, modes] = given ++ Enum.drop(["2000", "3", "workflow,standalone"], length(given))

{count, rounds, modes} =
  {String.to_integer(count), String.to_integer(rounds), String.split(modes, ",")}

Logger.configure(level: :error)
{:ok, server} = DevServer.start_link()
address = DevServer.address(server)

builds = [
  after: Peer.start(:hourglass, address, "compare-after", 200),
  before: Peer.start(:hourglass, address, "compare-before", 200, root: before_root)
]

queues = %{after: "compare-after", before: "compare-before"}

turn = fn build, mode ->
  peer = builds[build]
  queue = queues[build]
  cpu_before = Peer.cpu_ms(peer.os_pid)

  summary =
    case mode do
      "BenchSeq3" -> Peer.drive_workflows(address, queue, mode, div(count, 3), 100)
      "BenchPar10" -> Peer.drive_workflows(address, queue, mode, div(count, 10), 100)
      _ -> Peer.drive(address, queue, mode, count, 200)
    end

  cpu = (Peer.cpu_ms(peer.os_pid) - cpu_before) / max(summary["completed"], 1)
  {cpu, summary["throughput"]}
end

median = fn values ->
  sorted = Enum.sort(values)
  n = length(sorted)

  if rem(n, 2) == 1,
    do: Enum.at(sorted, div(n, 2)),
    else: (Enum.at(sorted, div(n, 2) - 1) + Enum.at(sorted, div(n, 2))) / 2
end

try do
  IO.puts("before: #{before_root}; after: #{File.cwd!()}; #{count} a turn, #{rounds} rounds")

  for mode <- modes do
    turns =
      for round <- 1..rounds,
          build <- if(rem(round, 2) == 1, do: [:after, :before], else: [:before, :after]) do
        {cpu, throughput} = turn.(build, mode)
        IO.puts("#{mode} round #{round} #{build}: #{Float.round(cpu, 3)} ms CPU, #{throughput}/s")
        {build, cpu, throughput}
      end

    [after_cpu, before_cpu] =
      for build <- [:after, :before],
          do: median.(for({^build, cpu, _} <- turns, do: cpu))

    IO.puts(
      "#{mode} median CPU per unit: after #{Float.round(after_cpu, 3)} ms, " <>
        "before #{Float.round(before_cpu, 3)} ms (#{Float.round(after_cpu / before_cpu, 2)}×)"
    )
  end
after
  Enum.each(builds, fn {_, peer} -> Peer.stop(peer) end)
  DevServer.stop(server)
end
