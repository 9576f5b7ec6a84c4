"""The official Python SDK's client driving workflows that an Hourglass worker runs.

Usage: python3 workflow_client.py ADDRESS STEPS_JSON

STEPS_JSON is a list of steps, run in order:
  {"op": "start", "id": ID, "workflow": TYPE, "task_queue": Q, "args": [...]}
  {"op": "signal", "id": ID, "name": NAME, "args": [...]}
  {"op": "query", "id": ID, "name": NAME, "args": [...]}
  {"op": "update", "id": ID, "name": NAME, "args": [...]}
  {"op": "result", "id": ID}
  {"op": "cancel", "id": ID}
  {"op": "sleep", "seconds": S}
Prints one JSON list with each step's outcome ({"ok": value} or {"error": {...}}), then the
same as an Erlang term for the ExUnit test.
"""

import asyncio
import json
import os
import sys
from datetime import timedelta

from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
)
from temporalio.service import RPCError

from peer_workflows import erlang_term


def chain(error):
    """What an activity's or a child's error says, and its causes, one inside the other."""
    described = {}
    if isinstance(error, ActivityError):
        described.update(activity_type=error.activity_type, activity_id=error.activity_id,
                         retry_state=error.retry_state.name if error.retry_state else None)
    if isinstance(error, ChildWorkflowError):
        described.update(workflow_type=error.workflow_type,
                         retry_state=error.retry_state.name if error.retry_state else None)
    cause = error.cause
    if cause is not None:
        described["cause"] = {"kind": type(cause).__name__, "message": cause.message}
        if isinstance(cause, ApplicationError):
            described["cause"]["type"] = cause.type
        described["cause"].update(chain(cause))
    return described


def describe(error):
    """What a failed workflow or query looked like from the client."""
    if isinstance(error, WorkflowFailureError):
        cause = error.cause
        described = {"kind": type(cause).__name__, "message": cause.message}
        if isinstance(cause, ApplicationError):
            described.update(type=cause.type, details=list(cause.details),
                             non_retryable=cause.non_retryable)
        if isinstance(cause, (ActivityError, ChildWorkflowError)):
            described.update(chain(cause))
        if isinstance(cause, CancelledError):
            described["kind"] = "cancelled"
        return described
    if isinstance(error, WorkflowUpdateFailedError):
        cause = error.cause
        described = {"kind": "update_failed", "message": cause.message}
        if isinstance(cause, ApplicationError):
            described.update(type=cause.type, details=list(cause.details),
                             non_retryable=cause.non_retryable)
        return described
    if isinstance(error, RPCError):
        return {"kind": "rpc", "message": error.message}
    return {"kind": type(error).__name__, "message": str(error)}


async def step(client, action):
    op = action["op"]
    if op == "sleep":
        await asyncio.sleep(action["seconds"])
        return {"ok": None}
    handle = client.get_workflow_handle(action["id"])
    try:
        if op == "start":
            await client.start_workflow(
                action["workflow"],
                args=action.get("args", []),
                id=action["id"],
                task_queue=action["task_queue"],
                execution_timeout=timedelta(seconds=120),
            )
            return {"ok": None}
        if op == "signal":
            await handle.signal(action["name"], args=action.get("args", []))
            return {"ok": None}
        if op == "query":
            return {"ok": await handle.query(action["name"], args=action.get("args", []))}
        if op == "update":
            return {"ok": await handle.execute_update(action["name"], args=action.get("args", []))}
        if op == "result":
            return {"ok": await asyncio.wait_for(handle.result(), 90)}
        if op == "cancel":
            await handle.cancel()
            return {"ok": None}
    except Exception as error:  # the outcome is what the test checks
        return {"error": describe(error)}
    raise ValueError(f"unknown step {op}")


async def main():
    client = await Client.connect(sys.argv[1])
    results = [await step(client, action) for action in json.loads(sys.argv[2])]
    print(json.dumps(results))
    print(erlang_term(results) + ".")


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    # Skip interpreter finalization: the SDK's native threads can abort it after all is done.
    os._exit(0)
