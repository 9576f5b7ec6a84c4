"""The same workflow code on a Python SDK worker and on an Hourglass worker, driven alike.

Usage: python3 semantics_peer.py ADDRESS HOURGLASS_TASK_QUEUE

Runs a Python worker on HOURGLASS_TASK_QUEUE + "-py" with the Python versions of the Elixir
workflows of test/support/semantics_workflows.ex (their activities run on the Hourglass queue),
then drives each scenario once on each queue with the Python client: a cancel while the README's
workflow waits, an activity that fails for good, a signal whose payload no converter knows, a
cancel followed by cleanup. Prints, per queue, each scenario's outcome and the event types of
its history, as an Erlang term on the last line.
"""

import asyncio
import json
import os
import sys
from datetime import timedelta

from temporalio import workflow
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import SignalWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.worker import Worker

from peer_workflows import erlang_term
from workflow_client import describe

HOURGLASS_QUEUE = sys.argv[2]


def activity(name, *args):
    return workflow.execute_activity(
        name,
        args=list(args),
        task_queue=HOURGLASS_QUEUE,
        start_to_close_timeout=timedelta(seconds=10),
    )


@workflow.defn(name="Approval")
class Approval:
    """The README's workflow, as a Python user writes it."""

    def __init__(self):
        self.approver = None

    @workflow.run
    async def run(self, order):
        await workflow.wait_condition(lambda: self.approver is not None)
        receipt = await activity("echo", order)
        return {"receipt": receipt, "approver": self.approver}

    @workflow.signal(name="approve")
    def approve(self, by):
        self.approver = by

    @workflow.query(name="approver")
    def approver_query(self):
        return self.approver


@workflow.defn(name="ActivityFails")
class ActivityFails:
    @workflow.run
    async def run(self):
        return await activity("non_retryable")


@workflow.defn(name="CleanupAfterCancel")
class CleanupAfterCancel:
    def __init__(self):
        self.done = False

    @workflow.run
    async def run(self):
        try:
            await workflow.wait_condition(lambda: self.done)
            return "done"
        except asyncio.CancelledError:
            await activity("echo", "cleaned")
            raise

    @workflow.signal(name="done")
    def done_signal(self):
        self.done = True


async def bad_signal(client, workflow_id, name):
    """A signal whose one payload has an encoding no converter knows."""
    payload = Payload(metadata={"encoding": b"binary/hourglass-unknown"}, data=b"\x00\x01")
    await client.workflow_service.signal_workflow_execution(
        SignalWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id),
            signal_name=name,
            input=Payloads(payloads=[payload]),
            identity="semantics_peer",
        )
    )


async def outcome(handle):
    try:
        return {"ok": await asyncio.wait_for(handle.result(), 60)}
    except Exception as error:  # the outcome is what the test checks
        return {"error": describe(error)}


async def event_types(handle):
    history = await handle.fetch_history()
    return [event.event_type for event in history.events]


async def waiting(handle):
    """Until the workflow's first task is done: it waits for its signal."""
    for _ in range(600):
        if len(await event_types(handle)) >= 4:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the workflow's first task did not complete")


async def scenarios(client, queue):
    results = {}

    async def start(workflow_type, name, args=()):
        return await client.start_workflow(
            workflow_type,
            args=list(args),
            id=f"{name}-{queue}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=120),
        )

    async def finish(name, handle):
        result = await outcome(handle)
        names = [EventType.Name(number) for number in await event_types(handle)]
        results[name] = {
            "outcome": result,
            "workflow_task_failures": names.count("EVENT_TYPE_WORKFLOW_TASK_FAILED"),
            "activities_completed": names.count("EVENT_TYPE_ACTIVITY_TASK_COMPLETED"),
        }

    handle = await start("Approval", "cancel-waiting", ["order-1"])
    await waiting(handle)
    await handle.cancel()
    await finish("cancel_waiting", handle)

    await finish("activity_fails", await start("ActivityFails", "activity-fails"))

    handle = await start("Approval", "bad-signal", ["order-2"])
    await waiting(handle)
    await bad_signal(client, handle.id, "approve")
    await handle.signal("approve", "eve")
    await finish("bad_signal", handle)

    handle = await start("CleanupAfterCancel", "cleanup")
    await waiting(handle)
    await handle.cancel()
    await finish("cleanup", handle)
    return results


async def main():
    client = await Client.connect(sys.argv[1])
    python_queue = HOURGLASS_QUEUE + "-py"
    async with Worker(
        client,
        task_queue=python_queue,
        workflows=[Approval, ActivityFails, CleanupAfterCancel],
    ):
        python, hourglass = await asyncio.gather(
            scenarios(client, python_queue), scenarios(client, HOURGLASS_QUEUE)
        )
    results = {"python": python, "hourglass": hourglass}
    print(json.dumps(results))
    print(erlang_term(results) + ".")


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    # Skip interpreter finalization: the SDK's native threads can abort it after all is done.
    os._exit(0)
