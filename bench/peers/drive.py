"""Load driver: runs N "echo" activities against a task queue and prints one JSON line.

Usage: python3 drive.py ADDRESS TASK_QUEUE --mode standalone|workflow --count N --concurrency C

standalone: each activity is a Standalone Activity (no workflow), started with
            Client.execute_activity; latency is from the start request to the result.
workflow:   this process also runs a workflow worker on TASK_QUEUE + "-wf"; each of N
            EchoWorkflow runs calls "echo" once on TASK_QUEUE; latency is from workflow
            start to workflow result.
At most C activities (or workflows) are in flight at once. Results are checked against
the input; a wrong echo counts as a failure.
"""

import argparse
import asyncio
import json
import math
import os
import sys
import time
import uuid
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from _common import wait_until_polling

TIMEOUT = timedelta(seconds=30)


@workflow.defn
class EchoWorkflow:
    @workflow.run
    async def run(self, n: int) -> Any:
        # This worker polls TASK_QUEUE + "-wf"; the echo worker polls TASK_QUEUE.
        task_queue = workflow.info().task_queue.removesuffix("-wf")
        return await workflow.execute_activity(
            "echo", {"i": n}, task_queue=task_queue, start_to_close_timeout=TIMEOUT
        )


def percentile(sorted_ms: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_ms:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_ms)))
    return round(sorted_ms[rank - 1], 2)


async def drive(client: Client, args: argparse.Namespace) -> dict:
    run_id = uuid.uuid4().hex[:8]  # keeps IDs unique across repeated runs
    limit = asyncio.Semaphore(args.concurrency)
    latencies_ms: list[float] = []
    failed = 0

    async def one(n: int) -> None:
        nonlocal failed
        async with limit:
            start = time.perf_counter()
            try:
                if args.mode == "standalone":
                    result = await client.execute_activity(
                        "echo",
                        {"i": n},
                        id=f"drive-{run_id}-{n}",
                        task_queue=args.task_queue,
                        start_to_close_timeout=TIMEOUT,
                    )
                else:
                    result = await client.execute_workflow(
                        EchoWorkflow.run,
                        n,
                        id=f"drive-{run_id}-{n}",
                        task_queue=args.task_queue + "-wf",
                    )
            except Exception as e:  # count it and go on: one failure must not stop the run
                print(f"drive: #{n} failed: {e!r}", file=sys.stderr)
                failed += 1
                return
            if result != {"i": n}:
                print(f"drive: #{n} bad echo: {result!r}", file=sys.stderr)
                failed += 1
                return
            latencies_ms.append((time.perf_counter() - start) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(args.count)))
    seconds = time.perf_counter() - began

    latencies_ms.sort()
    return {
        "mode": args.mode,
        "count": args.count,
        "concurrency": args.concurrency,
        "completed": len(latencies_ms),
        "failed": failed,
        "seconds": round(seconds, 3),
        "throughput": round(len(latencies_ms) / seconds, 1) if seconds > 0 else None,
        "latency_ms": {
            "p50": percentile(latencies_ms, 50),
            "p99": percentile(latencies_ms, 99),
            "max": percentile(latencies_ms, 100),
        },
    }


async def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address")
    parser.add_argument("task_queue")
    parser.add_argument("--mode", choices=["standalone", "workflow"], required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    args = parser.parse_args()
    if args.count < 0 or args.concurrency < 1:
        parser.error("--count must be >= 0 and --concurrency >= 1")

    identity = f"drive-{os.getpid()}"
    client = await Client.connect(args.address, identity=identity)
    if args.mode == "standalone":
        return await drive(client, args)

    # The workflow code is trivial and trusted; the sandbox would only add per-run cost
    # (and re-importing this __main__ module) to the driver, which should stay out of the way.
    worker = Worker(
        client,
        task_queue=args.task_queue + "-wf",
        workflows=[EchoWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    async with worker:
        # Start the clock only once the workflow worker is actually polling.
        await wait_until_polling(client, args.task_queue + "-wf", identity, activity=False)
        return await drive(client, args)


if __name__ == "__main__":
    report = asyncio.run(main())
    print(json.dumps(report), flush=True)
    # The SDK's native threads can abort the interpreter during finalization
    # (PyGILState_Release); everything is reported, so skip finalization.
    os._exit(0)
