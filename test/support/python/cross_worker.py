"""A Python SDK worker beside an Hourglass worker: activities an Elixir workflow calls on this
worker's task queue, a Python workflow whose child is an Elixir workflow on Hourglass's queue,
and a Python workflow an Elixir workflow runs as its child.

Usage: python3 cross_worker.py ADDRESS PYTHON_TASK_QUEUE

Prints READY once it polls, and serves until it is killed.
"""

import asyncio
import os
import sys
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker


@activity.defn(name="py.greet")
async def greet(name: str) -> str:
    return f"hello {name}, from {activity.info().task_queue}"


@activity.defn(name="py.refuse")
async def refuse(why: str) -> None:
    raise ApplicationError("refused in Python", {"why": why}, type="PyRefused", non_retryable=True)


@workflow.defn(name="PyParent")
class PyParent:
    @workflow.run
    async def run(self, hourglass_queue: str, count: int) -> dict:
        return await workflow.execute_child_workflow(
            "FanOut",
            args=[count, 100],
            id=f"{workflow.info().workflow_id}-child",
            task_queue=hourglass_queue,
            execution_timeout=timedelta(seconds=60),
        )


@workflow.defn(name="PyChild")
class PyChild:
    @workflow.run
    async def run(self, parent: str) -> str:
        return f"python child of {parent} ({workflow.info().parent.workflow_id})"


async def main():
    client = await Client.connect(sys.argv[1])
    async with Worker(
        client, task_queue=sys.argv[2], activities=[greet, refuse], workflows=[PyParent, PyChild]
    ):
        print("READY", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    finally:
        os._exit(0)
