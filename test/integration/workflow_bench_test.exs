defmodule Hourglass.Integration.WorkflowBenchTest do
  # The workflow benchmarks (mix hourglass.bench workflow_end_to_end workflow_memory replay) at
  # a size that proves they work, not what they measure (figures come from `mix
  # hourglass.bench`, with a release NIF): Hourglass's worker VM and the Python SDK's worker run
  # the benchmark workflows through the driver, and every workflow comes back right. The Rust
  # peer is left out here: building it takes minutes.
  use ExUnit.Case, async: true

  alias Hourglass.Bench

  @moduletag timeout: 600_000

  # Without gRPC compression, as `--grpc-compression none` runs it: every worker takes the
  # setting (the other setting, gzip, is every worker's default).
  test "workflow_end_to_end: every workflow of every type completes on both workers; tasks counted" do
    result =
      Bench.WorkflowEndToEnd.run(
        count: 4,
        concurrency: 4,
        workers: [:hourglass, :python],
        chart: false,
        grpc_compression: :none
      )

    assert result.grpc_compression == :none

    for worker <- [:hourglass, :python],
        {type, tasks} <- [{"BenchSeq3", 4}, {"BenchPar10", 2}, {"BenchTimers5", 6}] do
      run = result["#{worker}/#{type}"]
      assert %{completed: 4, failed: 0} = run, "#{worker}/#{type}: #{inspect(run)}"
      # A workflow task per thing awaited (ten parallel results may come in one or several).
      assert run.workflow_tasks >= 4 * tasks, "#{worker}/#{type}: #{inspect(run)}"
      assert run.worker_cpu_ms_per_workflow_task > 0
      # The phases, from the histories: every workflow task waited and ran for some time.
      assert %{"workflow_task_wait" => wait, "workflow_task_run" => ran} = run.phase_p50_ms
      assert wait >= 0 and ran > 0
    end

    assert %{"hourglass/BenchSeq3" => ratio} = result.cpu_per_task_vs_python
    assert ratio > 0
  end

  test "workflow_memory: idle runs are held, measured, then released and completed" do
    result =
      Bench.WorkflowMemory.run(
        count: 30,
        warm_up: 5,
        workers: [:hourglass, :python],
        chart: false
      )

    assert %{completed_after_release: 30, failed_after_release: 0, run_processes: 30} =
             result.hourglass

    assert result.hourglass.run_process_bytes_per_run > 0
    assert %{completed_after_release: 30, failed_after_release: 0} = result.python
  end

  test "replay: a long history is made and replayed" do
    result = Bench.Replay.run(events: 300, rounds: 2, chart: false)
    assert result.history_events >= 300
    assert result.events_per_second > 0
    assert length(result.rounds_ms) == 2
  end
end
