"""Benchmark peer: a Temporal Python SDK worker that serves one activity type, "echo", and the benchmark workflows.

Usage: python3 python_worker.py ADDRESS TASK_QUEUE [--max-concurrent N] [--max-cached N]
       [--grpc-compression gzip|none]

The workflows (BenchSeq3, BenchPar10, BenchTimers5, BenchIdle) are the same in every peer (see
README.md) and run in the SDK's default sandbox, as users run them.

Prints READY on stdout once the server has seen this worker poll the task queue, then runs
until SIGTERM or SIGINT, shuts the worker down and exits 0.
"""

import argparse
import asyncio
import os
import signal
import sys
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.service import GrpcCompression
from temporalio.worker import Worker

from _common import wait_until_polling

ACTIVITY_TIMEOUT = timedelta(seconds=30)
BENCH_TIMER_SECONDS = 0.05


@activity.defn(name="echo")
async def echo(value: Any = None) -> Any:
    return value


@workflow.defn(name="BenchSeq3")
class BenchSeq3:
    """Three echo activities, one after another; returns the last result."""

    @workflow.run
    async def run(self, value: Any) -> Any:
        for _ in range(3):
            value = await workflow.execute_activity(
                "echo", value, start_to_close_timeout=ACTIVITY_TIMEOUT
            )
        return value


@workflow.defn(name="BenchPar10")
class BenchPar10:
    """Ten echo activities at once; returns how many came back equal to the input."""

    @workflow.run
    async def run(self, value: Any) -> int:
        results = await asyncio.gather(
            *(
                workflow.execute_activity("echo", value, start_to_close_timeout=ACTIVITY_TIMEOUT)
                for _ in range(10)
            )
        )
        return sum(1 for result in results if result == value)


@workflow.defn(name="BenchTimers5")
class BenchTimers5:
    """Five 50 ms timers, one after another; returns the input."""

    @workflow.run
    async def run(self, value: Any) -> Any:
        for _ in range(5):
            await asyncio.sleep(BENCH_TIMER_SECONDS)
        return value


@workflow.defn(name="BenchIdle")
class BenchIdle:
    """Waits for the signal "release", then returns the input: an idle cached run until then."""

    def __init__(self) -> None:
        self.released = False

    @workflow.run
    async def run(self, value: Any) -> Any:
        await workflow.wait_condition(lambda: self.released)
        return value

    @workflow.signal(name="release")
    def release(self) -> None:
        self.released = True


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address")
    parser.add_argument("task_queue")
    parser.add_argument("--max-concurrent", type=int, default=200)
    parser.add_argument("--max-cached", type=int, default=1000)
    parser.add_argument("--grpc-compression", choices=["gzip", "none"], default="gzip")
    args = parser.parse_args()

    # Catch signals first, so that one arriving while connecting still exits 0.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    # A unique identity lets wait_until_polling find this process among the pollers.
    identity = f"python-echo-{os.getpid()}"
    compression = GrpcCompression.NONE if args.grpc_compression == "none" else GrpcCompression.GZIP
    client = await Client.connect(
        args.address, identity=identity, grpc_compression=compression
    )

    worker = Worker(
        client,
        task_queue=args.task_queue,
        activities=[echo],
        workflows=[BenchSeq3, BenchPar10, BenchTimers5, BenchIdle],
        max_concurrent_activities=args.max_concurrent,
        # The SDK's default, stated: the Rust peer and Hourglass use the same.
        max_concurrent_workflow_tasks=100,
        max_cached_workflows=args.max_cached,
        # Let in-flight activities finish on shutdown instead of being cancelled at once
        # (echo never blocks, so this does not delay the exit); the Rust peer does the same.
        graceful_shutdown_timeout=timedelta(seconds=5),
    )
    async with worker:  # starts polling; leaving the block shuts the worker down
        await wait_until_polling(client, args.task_queue, identity, activity=True)
        await wait_until_polling(client, args.task_queue, identity, activity=False)
        print("READY", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    # The SDK's native threads can abort the interpreter during finalization
    # (PyGILState_Release); the worker is already shut down, so skip finalization.
    os._exit(0)
