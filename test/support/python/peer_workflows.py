"""Workflows of the official Python SDK calling activities served by an Hourglass worker.

Usage: python3 peer_workflows.py ADDRESS HOURGLASS_TASK_QUEUE [SCENARIO,...]

Runs a Python workflow worker on a task queue of its own, executes each scenario workflow once,
and prints one JSON object mapping scenario names to what the workflow observed.
"""

import asyncio
import json
import os
import sys
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    TimeoutError,
)
from temporalio.worker import Worker

HOURGLASS_QUEUE = sys.argv[2] if len(sys.argv) > 2 else "hourglass"


def call(name, *args, **options):
    options.setdefault("start_to_close_timeout", timedelta(seconds=20))
    options.setdefault(
        "retry_policy", RetryPolicy(initial_interval=timedelta(milliseconds=100))
    )
    return workflow.execute_activity(
        name, args=list(args), task_queue=workflow.info().task_queue.replace("-py", ""), **options
    )


def describe(error):
    """What a failed activity looked like from the workflow."""
    cause = error.cause if isinstance(error, ActivityError) else error
    if isinstance(cause, ApplicationError):
        return {
            "kind": "application",
            "type": cause.type,
            "message": cause.message,
            "non_retryable": cause.non_retryable,
            "details": list(cause.details),
        }
    if isinstance(cause, TimeoutError):
        return {"kind": "timeout", "type": cause.type.name}
    if isinstance(cause, CancelledError):
        return {"kind": "cancelled"}
    return {"kind": type(cause).__name__, "message": str(cause)}


@workflow.defn(name="Scenario")
class Scenario:
    @workflow.run
    async def run(self, scenario: str):
        try:
            if scenario == "retries":
                return await call("fail_until", 3)
            if scenario == "non_retryable":
                return await call("non_retryable", retry_policy=RetryPolicy(maximum_attempts=5))
            if scenario == "heartbeat_resume":
                return await call(
                    "resume",
                    heartbeat_timeout=timedelta(seconds=5),
                    retry_policy=RetryPolicy(
                        initial_interval=timedelta(milliseconds=100), maximum_attempts=2
                    ),
                )
            if scenario == "heartbeat_timeout":
                return await call(
                    "silent",
                    3000,
                    heartbeat_timeout=timedelta(seconds=1),
                    retry_policy=RetryPolicy(maximum_attempts=1),
                )
            if scenario == "start_to_close_timeout":
                return await call(
                    "hourglass.sleep",
                    30000,
                    start_to_close_timeout=timedelta(seconds=1),
                    retry_policy=RetryPolicy(maximum_attempts=1),
                )
            if scenario == "cancellation":
                handle = workflow.start_activity(
                    "heartbeating",
                    args=["nobody"],
                    task_queue=HOURGLASS_QUEUE,
                    start_to_close_timeout=timedelta(seconds=60),
                    heartbeat_timeout=timedelta(seconds=2),
                    cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                )
                await asyncio.sleep(2)
                handle.cancel()
                return await handle
            if scenario == "concurrent":
                results = await asyncio.gather(
                    *[call("hourglass.echo" if i % 2 else "echo", i) for i in range(300)]
                )
                return sorted(results) == list(range(300))
            if scenario == "big_payload":
                big = "x" * (1024 * 1024)
                return (await call("echo", big)) == big
            if scenario.startswith("async_"):
                # An Elixir process completes these through Hourglass.Client (async_test.exs);
                # the argument is the name the test registered under.
                test, _, case = scenario.partition(":")
                timeouts = {
                    "async_completed": dict(heartbeat_timeout=timedelta(seconds=2)),
                    "async_failed": {},
                    "async_heartbeat_timeout": dict(heartbeat_timeout=timedelta(seconds=1)),
                }[test]
                return await call(
                    "complete_later",
                    case,
                    retry_policy=RetryPolicy(maximum_attempts=1),
                    **timeouts,
                )
            if scenario == "unknown_type":
                return await call("no_such_activity", retry_policy=RetryPolicy(maximum_attempts=1))
            raise ApplicationError(f"unknown scenario {scenario}", non_retryable=True)
        except ActivityError as error:
            return {"failed": describe(error)}


async def main():
    address = sys.argv[1]
    client = await Client.connect(address)
    python_queue = HOURGLASS_QUEUE + "-py"
    scenarios = [
        "retries",
        "non_retryable",
        "heartbeat_resume",
        "heartbeat_timeout",
        "start_to_close_timeout",
        "cancellation",
        "concurrent",
        "big_payload",
        "unknown_type",
    ]
    if len(sys.argv) > 3:
        scenarios = sys.argv[3].split(",")
    async with Worker(client, task_queue=python_queue, workflows=[Scenario]):
        results = await asyncio.gather(
            *[
                client.execute_workflow(
                    "Scenario",
                    scenario,
                    id=f"{scenario}-{uuid.uuid4()}",
                    task_queue=python_queue,
                    execution_timeout=timedelta(seconds=120),
                )
                for scenario in scenarios
            ]
        )
    results = dict(zip(scenarios, results))
    print(json.dumps(results))
    # The same as an Erlang term, for the ExUnit test: Elixir 1.14 has no JSON module and
    # Hourglass uses no hex package.
    print(erlang_term(results) + ".")


def erlang_term(value):
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "<<" + ",".join(str(byte) for byte in value.encode()) + ">>"
    if isinstance(value, list):
        return "[" + ",".join(erlang_term(item) for item in value) + "]"
    return "#{" + ",".join(f"{erlang_term(k)} => {erlang_term(v)}" for k, v in value.items()) + "}"


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    # Skip interpreter finalization: the SDK's native threads can abort it after all is done.
    os._exit(0)
