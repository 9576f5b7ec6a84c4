"""Helpers shared by python_worker.py and drive.py."""

import asyncio

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client


async def wait_until_polling(
    client: Client, task_queue: str, identity: str, *, activity: bool
) -> None:
    """Wait until the server lists `identity` among the pollers of `task_queue`.

    The SDK has no "polling started" hook, and a worker's first poll can lag its start, so
    this asks the server, which is what matters for a benchmark's clock.
    """
    kind = TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY if activity else TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=kind,
    )
    while True:
        response = await client.workflow_service.describe_task_queue(request)
        if any(p.identity == identity for p in response.pollers):
            return
        await asyncio.sleep(0.05)
