"""Benchmark peer: a Temporal Python SDK worker that serves one activity type, "echo".

Usage: python3 python_worker.py ADDRESS TASK_QUEUE [--max-concurrent N]

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

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from _common import wait_until_polling


@activity.defn(name="echo")
async def echo(value: Any = None) -> Any:
    return value


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address")
    parser.add_argument("task_queue")
    parser.add_argument("--max-concurrent", type=int, default=200)
    args = parser.parse_args()

    # Catch signals first, so that one arriving while connecting still exits 0.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    # A unique identity lets wait_until_polling find this process among the pollers.
    identity = f"python-echo-{os.getpid()}"
    client = await Client.connect(args.address, identity=identity)

    worker = Worker(
        client,
        task_queue=args.task_queue,
        activities=[echo],
        max_concurrent_activities=args.max_concurrent,
        # Let in-flight activities finish on shutdown instead of being cancelled at once
        # (echo never blocks, so this does not delay the exit); the Rust peer does the same.
        graceful_shutdown_timeout=timedelta(seconds=5),
    )
    async with worker:  # starts polling; leaving the block shuts the worker down
        await wait_until_polling(client, args.task_queue, identity, activity=True)
        print("READY", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    # The SDK's native threads can abort the interpreter during finalization
    # (PyGILState_Release); the worker is already shut down, so skip finalization.
    os._exit(0)
