"""Load driver for the workflow benchmarks: starts the benchmark workflows and prints JSON lines.

Usage:
  python3 drive_workflows.py ADDRESS TASK_QUEUE run TYPE --count N --concurrency C
  python3 drive_workflows.py ADDRESS TASK_QUEUE idle --count N --concurrency C

run:  executes N workflows of TYPE (BenchSeq3, BenchPar10 or BenchTimers5) on TASK_QUEUE, at
      most C at once, checks every result, then counts the workflow tasks their histories
      record (WorkflowTaskCompleted events), so that the worker's CPU can be divided by them.
      Prints one JSON line.
idle: starts N BenchIdle workflows (C start requests at once) and waits until the worker has
      completed the first workflow task of each (the run is then cached and waiting for a
      signal); prints {"idle": N, ...}. Then it waits for a line on stdin, signals "release" to
      every workflow, checks every result, and prints a second JSON line.

The workflows are the same in every peer (README.md). Every failure is printed on stderr and
counted; one never stops the run.
"""

import argparse
import asyncio
import json
import math
import os
import sys
import time
import uuid
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

CHECKS = {
    "BenchSeq3": lambda n, result: result == {"i": n},
    "BenchPar10": lambda n, result: result == 10,
    "BenchTimers5": lambda n, result: result == {"i": n},
    "BenchIdle": lambda n, result: result == {"i": n},
}


def percentile(sorted_ms: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_ms:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_ms)))
    return round(sorted_ms[rank - 1], 2)


async def bounded(concurrency: int, jobs: list) -> list:
    """Runs the coroutine functions in jobs with at most `concurrency` at once; their results in order."""
    limit = asyncio.Semaphore(concurrency)

    async def one(job):
        async with limit:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


def checked(kind: str, n: int, result: Any) -> bool:
    if CHECKS[kind](n, result):
        return True
    print(f"drive_workflows: {kind} #{n} returned {result!r}", file=sys.stderr)
    return False


def event_seconds(event) -> float:
    return event.event_time.seconds + event.event_time.nanos / 1e9


def phases(history) -> tuple[int, dict[str, list[float]]]:
    """The workflow tasks of a history, and how long its tasks waited and ran (ms): a workflow
    task from scheduled to started (in the server's queue) and from started to completed (on the
    worker, network included); an activity the same; and from an activity's completion to the
    workflow task it caused being scheduled."""
    scheduled: dict[int, float] = {}
    started: dict[int, float] = {}
    durations: dict[str, list[float]] = {
        "workflow_task_wait": [], "workflow_task_run": [], "activity_wait": [], "activity_run": [],
    }
    tasks = 0
    for event in history.events:
        kind, at = event.event_type, event_seconds(event)
        if kind in (EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
                    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED):
            scheduled[event.event_id] = at
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            attributes = event.workflow_task_started_event_attributes
            started[event.event_id] = at
            durations["workflow_task_wait"].append(at - scheduled[attributes.scheduled_event_id])
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            tasks += 1
            attributes = event.workflow_task_completed_event_attributes
            durations["workflow_task_run"].append(at - started[attributes.started_event_id])
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attributes = event.activity_task_started_event_attributes
            started[event.event_id] = at
            durations["activity_wait"].append(at - scheduled[attributes.scheduled_event_id])
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attributes = event.activity_task_completed_event_attributes
            durations["activity_run"].append(at - started[attributes.started_event_id])
    return tasks, {name: [d * 1000 for d in values] for name, values in durations.items()}


async def workflow_tasks(client: Client, ids: list[str], concurrency: int) -> tuple[int, dict]:
    """The workflow tasks of the workflows `ids`, and the median of each phase over them."""
    async def one(workflow_id: str):
        return phases(await client.get_workflow_handle(workflow_id).fetch_history())

    results = await bounded(concurrency, [lambda i=i: one(i) for i in ids])
    merged: dict[str, list[float]] = {}
    for _, durations in results:
        for name, values in durations.items():
            merged.setdefault(name, []).extend(values)
    medians = {name: percentile(sorted(values), 50) for name, values in merged.items() if values}
    return sum(tasks for tasks, _ in results), medians


async def run(client: Client, args: argparse.Namespace, prefix: str) -> dict:
    latencies_ms: list[float] = []
    completed_ids: list[str] = []
    failed = 0

    async def one(n: int) -> None:
        nonlocal failed
        workflow_id = f"{prefix}-{n}"
        start = time.perf_counter()
        try:
            result = await client.execute_workflow(
                args.type, {"i": n}, id=workflow_id, task_queue=args.task_queue
            )
        except Exception as e:  # count it and go on
            print(f"drive_workflows: #{n} failed: {e!r}", file=sys.stderr)
            failed += 1
            return
        if not checked(args.type, n, result):
            failed += 1
            return
        latencies_ms.append((time.perf_counter() - start) * 1000)
        completed_ids.append(workflow_id)

    began = time.perf_counter()
    await bounded(args.concurrency, [lambda n=n: one(n) for n in range(args.count)])
    seconds = time.perf_counter() - began
    tasks, phase_medians = await workflow_tasks(client, completed_ids, args.concurrency)

    latencies_ms.sort()
    return {
        "type": args.type,
        "count": args.count,
        "concurrency": args.concurrency,
        "completed": len(latencies_ms),
        "failed": failed,
        "workflow_tasks": tasks,
        "phase_p50_ms": phase_medians,
        "seconds": round(seconds, 3),
        "throughput": round(len(latencies_ms) / seconds, 1) if seconds > 0 else None,
        "latency_ms": {
            "p50": percentile(latencies_ms, 50),
            "p99": percentile(latencies_ms, 99),
            "max": percentile(latencies_ms, 100),
        },
    }


async def idle(client: Client, args: argparse.Namespace, prefix: str) -> None:
    ids = [f"{prefix}-{n}" for n in range(args.count)]

    async def start(n: int) -> None:
        await client.start_workflow("BenchIdle", {"i": n}, id=ids[n], task_queue=args.task_queue)

    began = time.perf_counter()
    await bounded(args.concurrency, [lambda n=n: start(n) for n in range(args.count)])

    # A run is cached and idle once its first workflow task is completed: no task pending and
    # more than the two events a start writes.
    async def waiting(workflow_id: str) -> bool:
        raw = (await client.get_workflow_handle(workflow_id).describe()).raw_description
        return not raw.HasField("pending_workflow_task") and raw.workflow_execution_info.history_length > 2

    pending = ids
    while pending:
        ready = await bounded(args.concurrency, [lambda i=i: waiting(i) for i in pending])
        pending = [i for i, done in zip(pending, ready) if not done]
        if pending:
            await asyncio.sleep(0.5)
    print(json.dumps({"idle": args.count, "seconds": round(time.perf_counter() - began, 3)}), flush=True)

    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    async def release(n: int) -> bool:
        handle = client.get_workflow_handle(ids[n])
        try:
            await handle.signal("release")
            return checked("BenchIdle", n, await handle.result())
        except Exception as e:  # count it and go on
            print(f"drive_workflows: #{n} failed: {e!r}", file=sys.stderr)
            return False

    results = await bounded(args.concurrency, [lambda n=n: release(n) for n in range(args.count)])
    completed = sum(1 for ok in results if ok)
    print(json.dumps({"released": args.count, "completed": completed, "failed": args.count - completed}), flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address")
    parser.add_argument("task_queue")
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run")
    run_parser.add_argument("type", choices=["BenchSeq3", "BenchPar10", "BenchTimers5"])
    idle_parser = sub.add_parser("idle")
    for p in (run_parser, idle_parser):
        p.add_argument("--count", type=int, required=True)
        p.add_argument("--concurrency", type=int, required=True)
    args = parser.parse_args()
    if args.count < 0 or args.concurrency < 1:
        parser.error("--count must be >= 0 and --concurrency >= 1")

    client = await Client.connect(args.address, identity=f"drive-workflows-{os.getpid()}")
    prefix = f"bench-{uuid.uuid4().hex[:8]}"  # keeps IDs unique across repeated runs
    if args.command == "run":
        print(json.dumps(await run(client, args, prefix)), flush=True)
    else:
        await idle(client, args, prefix)


if __name__ == "__main__":
    asyncio.run(main())
    # The SDK's native threads can abort the interpreter during finalization
    # (PyGILState_Release); everything is reported, so skip finalization.
    os._exit(0)
