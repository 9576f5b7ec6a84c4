"""Conformance features after the public temporalio/features repository, in our own words.

Usage:
  python3 features.py ADDRESS FEATURE TASK_QUEUE check
  python3 features.py ADDRESS FEATURE TASK_QUEUE record HISTORY_FILE

Each feature (named as in temporalio/features: "signal/basic", ...) has a reference workflow
written with the official Python SDK that behaves as the feature's Python workflow does, a
starter and a checker that makes the assertions the feature's checker makes. The feature's path
in that repository is cited above each one; nothing here is copied from it.

check   starts the feature's workflow on TASK_QUEUE, which a worker of another SDK (Hourglass,
        running the Elixir port) serves, and runs the checker.
record  runs a Python worker with the reference workflows and activities on TASK_QUEUE, starts
        and checks the feature against it, then writes the history of the started run as
        `temporal workflow show --output json` writes it to HISTORY_FILE, and the histories of
        the feature's other runs (a child, the next run of a continue-as-new) beside it, as
        HISTORY_FILE with "-1", "-2", ... before the extension.

Prints one JSON line, {"ok": true} (record adds "histories": [{"workflow_id", "file"}, ...]) or
{"ok": false, "error": "..."}, and exits 0 or 1.
"""

import asyncio
import base64
import json
import os
import sys
import threading
import traceback
import uuid
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence

from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.update.v1 import UpdateRef
from temporalio.api.workflowservice.v1 import PollWorkflowExecutionUpdateRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowUpdateInput,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import RetryPolicy
from temporalio.converter import DataConverter, PayloadCodec
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

# The feature harness gives every workflow a minute unless the feature says otherwise.
EXECUTION_TIMEOUT = timedelta(minutes=1)
# How long one check may take in all, on a loaded machine.
CHECK_DEADLINE_SECONDS = 150


@dataclass
class Feature:
    name: str
    workflows: List[type]
    check: Callable[["Runner", WorkflowHandle], Awaitable[None]]
    activities: List[Callable] = field(default_factory=list)
    # Starts the run the checker checks; by default a workflow named "Workflow" with `args`.
    start: Optional[Callable[["Runner"], Awaitable[WorkflowHandle]]] = None
    args: Sequence[Any] = ()
    execution_timeout: Optional[timedelta] = EXECUTION_TIMEOUT
    data_converter: DataConverter = DataConverter.default
    interceptors: Sequence[Interceptor] = ()
    # Workflows that count in module globals across runs (their tasks fail on purpose) run
    # outside the sandbox, which would give every run fresh globals.
    unsandboxed: bool = False
    # The runs whose histories `record` writes besides the started one.
    other_runs: Callable[["Runner", WorkflowHandle], List[WorkflowHandle]] = lambda runner, handle: []


FEATURES: Dict[str, Feature] = {}


def feature(**kwargs) -> None:
    FEATURES[kwargs["name"]] = Feature(**kwargs)


class Runner:
    def __init__(self, client: Client, feature: Feature, task_queue: str, recording: bool) -> None:
        self.client = client
        self.feature = feature
        self.task_queue = task_queue
        # Whether this process runs the workflows (record) or another SDK's worker does (check).
        self.recording = recording
        self.worker: Optional[Worker] = None
        self.worker_task: Optional[asyncio.Task] = None

    def start_worker(self) -> None:
        """Runs a Python worker with the feature's workflows and activities (record only)."""
        assert self.recording and self.worker is None
        options = {"workflow_runner": UnsandboxedWorkflowRunner()} if self.feature.unsandboxed else {}
        self.worker = Worker(
            self.client,
            task_queue=self.task_queue,
            workflows=self.feature.workflows,
            activities=self.feature.activities,
            **options,
        )
        self.worker_task = asyncio.create_task(self.worker.run())

    async def stop_worker(self) -> None:
        """Shuts the Python worker down (its running activities are cancelled at once)."""
        if self.worker is not None:
            try:
                await self.worker.shutdown()
                await self.worker_task
            finally:
                self.worker = None
                self.worker_task = None

    def workflow_id(self) -> str:
        return f"{self.feature.name}-{uuid.uuid4()}"

    async def start(self) -> WorkflowHandle:
        if self.feature.start:
            return await self.feature.start(self)
        return await self.start_workflow()

    async def start_workflow(self) -> WorkflowHandle:
        """Starts the workflow named "Workflow" with the feature's arguments."""
        return await self.client.start_workflow(
            "Workflow",
            args=list(self.feature.args),
            id=self.workflow_id(),
            task_queue=self.task_queue,
            execution_timeout=self.feature.execution_timeout,
        )


async def expect_result(handle: WorkflowHandle, expected: Any) -> None:
    result = await handle.result()
    assert result == expected, f"expected the result {expected!r}, got {result!r}"


async def first_event(handle: WorkflowHandle, event_type: int):
    async for event in handle.fetch_history_events():
        if event.event_type == event_type:
            return event
    raise AssertionError(f"no {EventType.Name(event_type)} event in the history")


async def result_payload(handle: WorkflowHandle) -> Payload:
    event = await first_event(handle, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)
    return event.workflow_execution_completed_event_attributes.result.payloads[0]


async def input_payload(handle: WorkflowHandle) -> Payload:
    event = await first_event(handle, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
    return event.workflow_execution_started_event_attributes.input.payloads[0]


def child_id(parent_id: str) -> str:
    # Both SDKs draw a child's default id from their own randomness (Python: workflow.uuid4()),
    # so a history recorded from one would not replay on the other: the features' parents here
    # and in the Elixir ports name their children explicitly.
    return f"{parent_id}-child"


def child_run(runner: Runner, handle: WorkflowHandle) -> List[WorkflowHandle]:
    return [runner.client.get_workflow_handle(child_id(handle.id))]


# --- activity/basic_no_workflow_timeout ---------------------------------------------------
# Two activities, one with only a schedule-to-close timeout, one with only start-to-close, in a
# workflow without an execution timeout.


@activity.defn(name="echo")
async def echo() -> str:
    return "echo"


@workflow.defn(name="Workflow")
class ActivityBasicNoWorkflowTimeout:
    @workflow.run
    async def run(self) -> str:
        await workflow.execute_activity(echo, schedule_to_close_timeout=timedelta(minutes=1))
        return await workflow.execute_activity(echo, start_to_close_timeout=timedelta(minutes=1))


async def check_completes(runner: Runner, handle: WorkflowHandle) -> None:
    await handle.result()


feature(
    name="activity/basic_no_workflow_timeout",
    workflows=[ActivityBasicNoWorkflowTimeout],
    activities=[echo],
    execution_timeout=None,
    check=check_completes,
)


# --- activity/retry_on_error --------------------------------------------------------------
# An activity that fails every attempt, retried at once up to five attempts; the workflow fails
# with the last attempt's error as the cause of an activity error.


@activity.defn(name="always_fail_activity")
async def always_fail_activity() -> None:
    raise ApplicationError(f"activity attempt {activity.info().attempt} failed")


@workflow.defn(name="Workflow")
class ActivityRetryOnError:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            always_fail_activity,
            schedule_to_close_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=1), backoff_coefficient=1, maximum_attempts=5
            ),
        )


async def check_activity_error(runner: Runner, handle: WorkflowHandle) -> None:
    try:
        await handle.result()
    except WorkflowFailureError as error:
        cause = error.cause
        assert isinstance(cause, ActivityError), (
            f"expected the workflow to fail with an ActivityError, "
            f"got {type(cause).__name__}: {cause}"
        )
        assert isinstance(cause.cause, ApplicationError), (
            f"expected the activity error's cause to be an ApplicationError, "
            f"got {type(cause.cause).__name__}: {cause.cause}"
        )
        assert cause.cause.message == "activity attempt 5 failed", cause.cause.message
    else:
        raise AssertionError("expected the workflow to fail")


feature(
    name="activity/retry_on_error",
    workflows=[ActivityRetryOnError],
    activities=[always_fail_activity],
    check=check_activity_error,
)


# --- signal/basic ------------------------------------------------------------------------
# A workflow that waits for a signal and returns its argument; the starter signals it.


@workflow.defn(name="Workflow")
class SignalBasic:
    def __init__(self) -> None:
        self.value = ""

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.value != "")
        return self.value

    @workflow.signal(name="my_signal")
    async def my_signal(self, value: str) -> None:
        self.value = value


async def start_signal_basic(runner: Runner) -> WorkflowHandle:
    # The feature uses the fixed id "workflow-id"; one per task queue keeps runs apart here.
    handle = await runner.client.start_workflow(
        "Workflow",
        id=f"workflow-id-{runner.task_queue}",
        task_queue=runner.task_queue,
        execution_timeout=EXECUTION_TIMEOUT,
    )
    await handle.signal("my_signal", "arg")
    return handle


async def check_signal_basic(runner: Runner, handle: WorkflowHandle) -> None:
    await expect_result(handle, "arg")


feature(
    name="signal/basic",
    workflows=[SignalBasic],
    start=start_signal_basic,
    check=check_signal_basic,
)


# --- signal/external ---------------------------------------------------------------------
# The same shape with another signal: sent from outside the workflow, once it started.


@workflow.defn(name="Workflow")
class SignalExternal:
    def __init__(self) -> None:
        self.value: Optional[str] = None

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.value is not None)
        return str(self.value)

    @workflow.signal(name="external_signal")
    async def external_signal(self, value: str) -> None:
        self.value = value


async def start_signal_external(runner: Runner) -> WorkflowHandle:
    handle = await runner.start_workflow()
    await handle.signal("external_signal", "Signaled!")
    return handle


async def check_signal_external(runner: Runner, handle: WorkflowHandle) -> None:
    await expect_result(handle, "Signaled!")


feature(
    name="signal/external",
    workflows=[SignalExternal],
    start=start_signal_external,
    check=check_signal_external,
)


# --- signal/child_workflow ---------------------------------------------------------------
# A parent starts a child with an argument, signals it, and returns what the child returns.


@workflow.defn(name="Workflow")
class SignalChildWorkflowParent:
    @workflow.run
    async def run(self) -> str:
        child = await workflow.start_child_workflow(
            "ChildWorkflow", "child-wf-arg", id=child_id(workflow.info().workflow_id)
        )
        await child.signal("my_signal", "signal-arg")
        return await child


@workflow.defn(name="ChildWorkflow")
class SignalChildWorkflowChild:
    def __init__(self) -> None:
        self.value = ""

    @workflow.run
    async def run(self, input: str) -> str:
        await workflow.wait_condition(lambda: self.value != "")
        return f"{input} {self.value}"

    @workflow.signal(name="my_signal")
    async def my_signal(self, value: str) -> None:
        self.value = value


async def check_signal_child_workflow(runner: Runner, handle: WorkflowHandle) -> None:
    await expect_result(handle, "child-wf-arg signal-arg")


feature(
    name="signal/child_workflow",
    workflows=[SignalChildWorkflowParent, SignalChildWorkflowChild],
    check=check_signal_child_workflow,
    other_runs=child_run,
)


# --- query/successful_query --------------------------------------------------------------
# A counter that signals raise and a query reads; a last signal ends the workflow.


@workflow.defn(name="Workflow")
class QuerySuccessful:
    def __init__(self) -> None:
        self.counter = 0
        self.done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.done)

    @workflow.query(name="get_counter")
    def get_counter(self) -> int:
        return self.counter

    @workflow.signal(name="inc_counter")
    def inc_counter(self) -> None:
        self.counter += 1

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self.done = True


async def check_successful_query(runner: Runner, handle: WorkflowHandle) -> None:
    assert await handle.query("get_counter") == 0
    await handle.signal("inc_counter")
    assert await handle.query("get_counter") == 1
    for _ in range(3):
        await handle.signal("inc_counter")
    assert await handle.query("get_counter") == 4
    await handle.signal("finish")
    await handle.result()


feature(name="query/successful_query", workflows=[QuerySuccessful], check=check_successful_query)


# --- query/unexpected_query_type_name ----------------------------------------------------
# A query no handler takes fails; the workflow carries on and ends on a signal.


@workflow.defn(name="Workflow")
class QueryUnexpectedTypeName:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.done)

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self.done = True


async def check_unexpected_query_type_name(runner: Runner, handle: WorkflowHandle) -> None:
    try:
        await handle.query("nonexistent")
    except WorkflowQueryFailedError:
        pass
    else:
        raise AssertionError("a query that no handler takes must fail")
    await handle.signal("finish")
    await handle.result()


feature(
    name="query/unexpected_query_type_name",
    workflows=[QueryUnexpectedTypeName],
    check=check_unexpected_query_type_name,
)


# --- query/unexpected_arguments ----------------------------------------------------------
# A query of one argument: asked with one of another type it answers (the feature notes that it
# perhaps should not); with two, or none, it fails.


@workflow.defn(name="Workflow")
class QueryUnexpectedArguments:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.done)

    @workflow.query(name="the_query")
    def the_query(self, arg: int) -> str:
        return f"hi {arg}"

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self.done = True


async def check_unexpected_arguments(runner: Runner, handle: WorkflowHandle) -> None:
    await handle.query("the_query", True)
    for args, what in (([123, True], "an extra argument"), ([], "a missing argument")):
        try:
            await handle.query("the_query", args=args)
        except WorkflowQueryFailedError:
            pass
        else:
            raise AssertionError(f"a query with {what} must fail")
    await handle.signal("finish")
    await handle.result()


feature(
    name="query/unexpected_arguments",
    workflows=[QueryUnexpectedArguments],
    check=check_unexpected_arguments,
)


# --- query/unexpected_return_type --------------------------------------------------------
# A query answers a string; a client that expects an int cannot convert it.


@workflow.defn(name="Workflow")
class QueryUnexpectedReturnType:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.done)

    @workflow.query(name="q")
    def q(self) -> str:
        return "hi bob"

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self.done = True


async def check_unexpected_return_type(runner: Runner, handle: WorkflowHandle) -> None:
    try:
        await handle.query("q", result_type=int)
    except TypeError:
        pass
    else:
        raise AssertionError("reading the answer as an int must raise TypeError")
    await handle.signal("finish")
    await handle.result()


feature(
    name="query/unexpected_return_type",
    workflows=[QueryUnexpectedReturnType],
    check=check_unexpected_return_type,
)


# --- update/basic ------------------------------------------------------------------------
# An update that answers and lets the workflow end.


@workflow.defn(name="Workflow")
class UpdateBasic:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "Hello, World!"

    @workflow.update(name="do_update")
    async def do_update(self) -> str:
        self.done = True
        return "updated"


async def check_update_basic(runner: Runner, handle: WorkflowHandle) -> None:
    assert await handle.execute_update("do_update") == "updated"
    await handle.result()


feature(name="update/basic", workflows=[UpdateBasic], check=check_update_basic)


# --- update/basic_async ------------------------------------------------------------------
# Updates started (waited on until accepted) rather than executed: one the validator rejects,
# one it accepts, whose argument the workflow returns.


@workflow.defn(name="Workflow")
class UpdateBasicAsync:
    def __init__(self) -> None:
        self.value = ""

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.value != "")
        return self.value

    @workflow.update(name="my_update")
    async def my_update(self, value: str) -> str:
        self.value = value
        return "update-result"

    @my_update.validator
    def validate_my_update(self, value: str) -> None:
        if value == "bad-update-arg":
            raise ValueError("Invalid Update argument")


async def check_update_basic_async(runner: Runner, handle: WorkflowHandle) -> None:
    rejected = await handle.start_update(
        "my_update", "bad-update-arg", wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )
    try:
        await rejected.result()
    except WorkflowUpdateFailedError:
        pass
    else:
        raise AssertionError("the validator must reject the update")
    accepted = await handle.start_update(
        "my_update", "update-arg", wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )
    assert await accepted.result() == "update-result"
    await expect_result(handle, "update-arg")


feature(name="update/basic_async", workflows=[UpdateBasicAsync], check=check_update_basic_async)


# --- update/non_durable_reject -----------------------------------------------------------
# A validator rejects negative numbers: five rejected and five accepted updates, and no
# rejection in the history.


@workflow.defn(name="Workflow")
class UpdateNonDurableReject:
    def __init__(self) -> None:
        self.counter = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.counter == 5)
        return self.counter

    @workflow.update(name="do_update")
    async def do_update(self, amount: int) -> int:
        self.counter += amount
        return self.counter

    @do_update.validator
    def reject_negatives(self, amount: int) -> None:
        if amount < 0:
            raise ApplicationError("I *HATE* negative numbers!")


async def check_non_durable_reject(runner: Runner, handle: WorkflowHandle) -> None:
    for _ in range(5):
        try:
            await handle.execute_update("do_update", -1)
        except WorkflowUpdateFailedError:
            pass
        else:
            raise AssertionError("an update of a negative number must be rejected")
        await handle.execute_update("do_update", 1)
    await expect_result(handle, 5)
    async for event in handle.fetch_history_events():
        assert not event.HasField(
            "workflow_execution_update_rejected_event_attributes"
        ), "a rejection reached the history"


feature(
    name="update/non_durable_reject",
    workflows=[UpdateNonDurableReject],
    check=check_non_durable_reject,
)


# --- update/self -------------------------------------------------------------------------
# An activity updates the workflow that runs it; the update lets the workflow end.

# The client the record worker's activity updates through.
SELF_UPDATE_CLIENT: Optional[Client] = None


@activity.defn(name="self_update")
async def self_update() -> None:
    assert SELF_UPDATE_CLIENT is not None
    await SELF_UPDATE_CLIENT.get_workflow_handle(activity.info().workflow_id).execute_update(
        "update_me"
    )


@workflow.defn(name="Workflow")
class UpdateSelf:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        # The feature gives the activity a second; more here, for a loaded machine (a replay
        # does not compare timeouts).
        await workflow.execute_activity(self_update, start_to_close_timeout=timedelta(seconds=10))
        await workflow.wait_condition(lambda: self.done)
        return "Hello, World!"

    @workflow.update(name="update_me")
    async def update_me(self) -> None:
        self.done = True


async def start_update_self(runner: Runner) -> WorkflowHandle:
    global SELF_UPDATE_CLIENT
    SELF_UPDATE_CLIENT = runner.client
    return await runner.start_workflow()


feature(
    name="update/self",
    workflows=[UpdateSelf],
    activities=[self_update],
    start=start_update_self,
    check=check_completes,
)


# --- update/client_interceptor -----------------------------------------------------------
# A client interceptor adds one to the update's argument on its way out.


@workflow.defn(name="Workflow")
class UpdateClientInterceptor:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "Hello, World!"

    @workflow.update(name="do_update")
    async def do_update(self, value: int) -> int:
        self.done = True
        return value


class AddOneToUpdates(Interceptor):
    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return AddOneToUpdatesOutbound(super().intercept_client(next))


class AddOneToUpdatesOutbound(OutboundInterceptor):
    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle:
        if input.update == "do_update":
            input.args = [input.args[0] + 1]
        return await self.next.start_workflow_update(input)


async def check_client_interceptor(runner: Runner, handle: WorkflowHandle) -> None:
    assert await handle.execute_update("do_update", 1) == 2
    await handle.result()


feature(
    name="update/client_interceptor",
    workflows=[UpdateClientInterceptor],
    interceptors=[AddOneToUpdates()],
    check=check_client_interceptor,
)


# --- update/task_failure ----------------------------------------------------------------
# An update handler that raises an exception other than an application error fails the workflow
# task (twice here), then one that raises an application error fails the update; a validator
# that raises rejects the update. The worker's count of failed tasks is 2 at the end (checked
# here when this process ran the workflow; the Elixir test checks its port's count).

UPDATE_TASK_FAILURES = 0


@workflow.defn(name="Workflow")
class UpdateTaskFailure:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "Hello, World!"

    @workflow.update(name="do_update")
    async def do_update(self) -> None:
        global UPDATE_TASK_FAILURES
        if UPDATE_TASK_FAILURES < 2:
            UPDATE_TASK_FAILURES += 1
            raise RuntimeError("I'll fail task")
        raise ApplicationError("I'll fail update")

    @workflow.update(name="throw_or_done")
    async def throw_or_done(self, do_throw: bool) -> None:
        self.done = True

    @throw_or_done.validator
    def validate_throw_or_done(self, do_throw: bool) -> None:
        if do_throw:
            raise RuntimeError("This will fail validation, not task")


async def start_task_failure(runner: Runner) -> WorkflowHandle:
    # A short task timeout, as the feature's, for quicker task retries.
    return await runner.client.start_workflow(
        "Workflow",
        id=runner.workflow_id(),
        task_queue=runner.task_queue,
        execution_timeout=EXECUTION_TIMEOUT,
        task_timeout=timedelta(seconds=3),
    )


async def check_task_failure(runner: Runner, handle: WorkflowHandle) -> None:
    for name, args, what in (
        ("do_update", [], "an update whose handler fails"),
        ("throw_or_done", [True], "an update whose validator raises"),
    ):
        try:
            await handle.execute_update(name, args=args)
        except WorkflowUpdateFailedError:
            pass
        else:
            raise AssertionError(f"{what} must fail")
    await handle.execute_update("throw_or_done", False)
    await handle.result()
    if runner.recording:
        assert UPDATE_TASK_FAILURES == 2, UPDATE_TASK_FAILURES


feature(
    name="update/task_failure",
    workflows=[UpdateTaskFailure],
    start=start_task_failure,
    check=check_task_failure,
    unsandboxed=True,
)


# --- update/validation_replay ------------------------------------------------------------
# The update's handler fails the first task, so the update is handled again after a replay;
# its validator, which would reject once the count passed one, does not run for an update
# already accepted. The count is 1 at the end (checked as in update/task_failure).

VALIDATION_REPLAY_TASK_FAILURES = 0


@workflow.defn(name="Workflow")
class UpdateValidationReplay:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "Hello, World!"

    @workflow.update(name="do_update")
    async def do_update(self) -> None:
        global VALIDATION_REPLAY_TASK_FAILURES
        if VALIDATION_REPLAY_TASK_FAILURES == 0:
            VALIDATION_REPLAY_TASK_FAILURES += 1
            raise RuntimeError("I'll fail task")
        self.done = True

    @do_update.validator
    def validate_do_update(self) -> None:
        if VALIDATION_REPLAY_TASK_FAILURES > 1:
            raise ApplicationError("I would reject if I even ran :|")


async def check_validation_replay(runner: Runner, handle: WorkflowHandle) -> None:
    await handle.execute_update("do_update")
    await handle.result()
    if runner.recording:
        assert VALIDATION_REPLAY_TASK_FAILURES == 1, VALIDATION_REPLAY_TASK_FAILURES


feature(
    name="update/validation_replay",
    workflows=[UpdateValidationReplay],
    check=check_validation_replay,
    unsandboxed=True,
)


# --- update/activities -------------------------------------------------------------------
# An update whose handler starts six activities at once, waits for them all, then lets the
# workflow end.


@activity.defn(name="say_hi")
async def say_hi() -> str:
    return "hi"


@workflow.defn(name="Workflow")
class UpdateActivities:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "Hello, World!"

    @workflow.update(name="do_activities")
    async def do_activities(self) -> None:
        started = [
            workflow.start_activity(say_hi, start_to_close_timeout=timedelta(minutes=1))
            for _ in range(6)
        ]
        await asyncio.gather(*started)
        self.done = True


async def check_update_activities(runner: Runner, handle: WorkflowHandle) -> None:
    await handle.execute_update("do_activities")
    await handle.result()


feature(
    name="update/activities",
    workflows=[UpdateActivities],
    activities=[say_hi],
    check=check_update_activities,
)


# --- update/async_accepted ---------------------------------------------------------------
# Updates started (waited on until accepted) with ids of their own: one whose handler waits
# for a signal and then answers 123; one whose handler fails it with an application error; one
# that waits for a signal never sent, whose result the client gives up on after a second. A
# last signal ends the workflow (the third handler still waiting).


@workflow.defn(name="Workflow")
class UpdateAsyncAccepted:
    def __init__(self) -> None:
        self.done = False
        self.proceed = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "Hello, World!"

    @workflow.update(name="do_maybe_wait_update")
    async def do_maybe_wait_update(self, wait: bool) -> int:
        if not wait:
            raise ApplicationError("Dying on purpose")
        await workflow.wait_condition(lambda: self.proceed)
        self.proceed = False
        return 123

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self.done = True

    @workflow.signal(name="unblock")
    def unblock(self) -> None:
        self.proceed = True


async def check_async_accepted(runner: Runner, handle: WorkflowHandle) -> None:
    accepted = WorkflowUpdateStage.ACCEPTED
    waiting = await handle.start_update(
        "do_maybe_wait_update", True, wait_for_stage=accepted, id="sleepy_update"
    )
    await handle.signal("unblock")
    assert await waiting.result() == 123

    failing = await handle.start_update(
        "do_maybe_wait_update", False, wait_for_stage=accepted, id="failing_update"
    )
    try:
        await failing.result()
    except WorkflowUpdateFailedError as error:
        assert isinstance(error.cause, ApplicationError), (
            f"expected the update to fail with an ApplicationError, "
            f"got {type(error.cause).__name__}: {error.cause}"
        )
        assert error.cause.message == "Dying on purpose", error.cause.message
    else:
        raise AssertionError("the update whose handler raises must fail")

    stuck = await handle.start_update(
        "do_maybe_wait_update", True, wait_for_stage=accepted, id="timeout_update"
    )
    try:
        await stuck.result(rpc_timeout=timedelta(seconds=1))
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        pass
    else:
        raise AssertionError("the result of an update that still waits must time out")

    await handle.signal("finish")
    await handle.result()


feature(
    name="update/async_accepted",
    workflows=[UpdateAsyncAccepted],
    check=check_async_accepted,
)


# --- update/deduplication ----------------------------------------------------------------
# An update started twice with the same id while its handler waits (it counts, then waits for
# a signal) is one update: both handles answer 1. A second update, of another id, counts to two,
# which ends the workflow: two updates accepted, only the first completed.


@workflow.defn(name="Workflow")
class UpdateDeduplication:
    def __init__(self) -> None:
        self.counter = 0
        self.proceed = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.counter == 2)
        return "Hello, World!"

    @workflow.update(name="inc_counter")
    async def inc_counter(self) -> int:
        self.counter += 1
        await workflow.wait_condition(lambda: self.proceed)
        self.proceed = False
        return self.counter

    @workflow.signal(name="unblock")
    def unblock(self) -> None:
        self.proceed = True


async def check_deduplication(runner: Runner, handle: WorkflowHandle) -> None:
    accepted = WorkflowUpdateStage.ACCEPTED
    first = await handle.start_update("inc_counter", wait_for_stage=accepted, id="incrementer")
    again = await handle.start_update("inc_counter", wait_for_stage=accepted, id="incrementer")
    await handle.signal("unblock")
    results = await asyncio.gather(first.result(), again.result())
    assert results == [1, 1], results

    # Accepted, it counts to two: the workflow ends.
    await handle.start_update("inc_counter", wait_for_stage=accepted)
    # Not in the feature's checker, which reads the history without waiting: that it ends.
    await expect_result(handle, "Hello, World!")

    accepted_updates = 0
    async for event in handle.fetch_history_events():
        if event.HasField("workflow_execution_update_completed_event_attributes"):
            update_id = event.workflow_execution_update_completed_event_attributes.meta.update_id
            assert update_id == "incrementer", f"completed: {update_id}"
        elif event.HasField("workflow_execution_update_accepted_event_attributes"):
            accepted_updates += 1
    assert accepted_updates == 2, f"{accepted_updates} updates accepted"


feature(
    name="update/deduplication",
    workflows=[UpdateDeduplication],
    check=check_deduplication,
)


# --- update/worker_restart --------------------------------------------------------------
# An update whose handler runs an activity that blocks; while it does, the worker is stopped
# (which cancels the activity) and started again; the activity then finishes (its next
# attempt, on the new worker, which replays the run up to the waiting handler), and the
# update's end lets the workflow end. The worker's owner restarts it: here with `record`; with
# `check`, the Elixir test that runs the Elixir worker does the same steps on its side.

# The activity says it started; it finishes once given leave (both as many times as given).
BLOCKS_STARTED = asyncio.Semaphore(0)
BLOCKS_FINISH = asyncio.Semaphore(0)


@activity.defn(name="blocks")
async def blocks() -> str:
    BLOCKS_STARTED.release()
    await BLOCKS_FINISH.acquire()
    return "hi"


@workflow.defn(name="Workflow")
class UpdateWorkerRestart:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "Hello, World!"

    @workflow.update(name="do_activities")
    async def do_activities(self) -> None:
        await workflow.execute_activity(blocks, start_to_close_timeout=timedelta(minutes=1))
        self.done = True


async def check_worker_restart(runner: Runner, handle: WorkflowHandle) -> None:
    update = asyncio.create_task(handle.execute_update("do_activities"))
    if runner.recording:
        await BLOCKS_STARTED.acquire()
        await runner.stop_worker()
        runner.start_worker()
        BLOCKS_FINISH.release()
    await update
    await handle.result()
    # Not in the feature's checker: that the worker stopped while the activity ran (the
    # attempt that finished is not the first).
    event = await first_event(handle, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
    attempt = event.activity_task_started_event_attributes.attempt
    assert attempt > 1, f"the activity finished on attempt {attempt}"


feature(
    name="update/worker_restart",
    workflows=[UpdateWorkerRestart],
    activities=[blocks],
    check=check_worker_restart,
)


# --- child_workflow/result ---------------------------------------------------------------
# A parent returns what its child returns: the child's input.


@workflow.defn(name="Workflow")
class ChildWorkflowResultParent:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_child_workflow(
            "ChildWorkflow", "Test", id=child_id(workflow.info().workflow_id)
        )


@workflow.defn(name="ChildWorkflow")
class ChildWorkflowResultChild:
    @workflow.run
    async def run(self, input: str) -> str:
        return input


async def check_child_result(runner: Runner, handle: WorkflowHandle) -> None:
    await expect_result(handle, "Test")


feature(
    name="child_workflow/result",
    workflows=[ChildWorkflowResultParent, ChildWorkflowResultChild],
    check=check_child_result,
    other_runs=child_run,
)


# --- child_workflow/signal ---------------------------------------------------------------
# A parent starts a child that waits for a signal, signals it, and returns the child's result:
# the signal's argument.


@workflow.defn(name="Workflow")
class ChildWorkflowSignalParent:
    @workflow.run
    async def run(self) -> str:
        child = await workflow.start_child_workflow(
            "ChildWorkflow", id=child_id(workflow.info().workflow_id)
        )
        await child.signal("unblock", "unblock")
        return await child


@workflow.defn(name="ChildWorkflow")
class ChildWorkflowSignalChild:
    def __init__(self) -> None:
        self.message: Optional[str] = None

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.message is not None)
        assert self.message is not None
        return self.message

    @workflow.signal(name="unblock")
    def unblock(self, message: Optional[str]) -> None:
        self.message = message


async def check_child_signal(runner: Runner, handle: WorkflowHandle) -> None:
    await expect_result(handle, "unblock")


feature(
    name="child_workflow/signal",
    workflows=[ChildWorkflowSignalParent, ChildWorkflowSignalChild],
    check=check_child_signal,
    other_runs=child_run,
)


# --- continue_as_new/continue_as_same ----------------------------------------------------
# The first run continues as new with its input; the next returns it. The workflow id and the
# memo stay.


@workflow.defn(name="Workflow")
class ContinueAsSame:
    @workflow.run
    async def run(self, input: str) -> str:
        if workflow.info().continued_run_id is not None:
            return input
        workflow.continue_as_new(input)


def continue_as_same_id(runner: Runner) -> str:
    # The feature uses the fixed id "TestID"; one per task queue keeps runs apart here.
    return f"TestID-{runner.task_queue}"


async def start_continue_as_same(runner: Runner) -> WorkflowHandle:
    return await runner.client.start_workflow(
        "Workflow",
        "InputData",
        id=continue_as_same_id(runner),
        memo={"MemoKey": "MemoValue"},
        task_queue=runner.task_queue,
        execution_timeout=EXECUTION_TIMEOUT,
    )


async def check_continue_as_same(runner: Runner, handle: WorkflowHandle) -> None:
    await expect_result(handle, "InputData")
    assert handle.id == continue_as_same_id(runner)
    description = await handle.describe()
    memo = await description.memo()
    assert memo.get("MemoKey") == "MemoValue", f"the memo: {memo!r}"
    # The feature describes the started run; the run it continued as keeps the memo too.
    latest = await runner.client.get_workflow_handle(handle.id).describe()
    memo = await latest.memo()
    assert memo.get("MemoKey") == "MemoValue", f"the memo after continue-as-new: {memo!r}"


feature(
    name="continue_as_new/continue_as_same",
    workflows=[ContinueAsSame],
    start=start_continue_as_same,
    check=check_continue_as_same,
    # The run the first one continued as (the handle's latest run).
    other_runs=lambda runner, handle: [runner.client.get_workflow_handle(handle.id)],
)


# --- continue_as_new/updates_do_not_block_continue_as_new --------------------------------
# An update the server admits while the first run's first workflow task is in progress, that
# task continuing as new: the update is handled by the next run (it answers its run id), and
# only that run's history has it. The first task blocks until the client saw the update
# admitted: here (record) on events that the workflow and the checker share, which takes a
# worker without a sandbox; with `check`, the Elixir test passes the word between the Elixir
# workflow and this checker (over its standard input and output).
#
# Blocking a workflow task is what workflows must never do; the feature does it on purpose.

CAN_FIRST_TASK_IN_PROGRESS = threading.Event()
CAN_UPDATE_ADMITTED = threading.Event()


@workflow.defn(name="Workflow")
class UpdatesDoNotBlockContinueAsNew:
    def __init__(self) -> None:
        self.received_update = False

    @workflow.run
    async def run(self) -> str:
        if not CAN_FIRST_TASK_IN_PROGRESS.is_set():
            CAN_FIRST_TASK_IN_PROGRESS.set()
            CAN_UPDATE_ADMITTED.wait()
        info = workflow.info()
        if info.continued_run_id is None:
            workflow.continue_as_new()
        # The update most likely came with the next run's first task; it need not have.
        await workflow.wait_condition(lambda: self.received_update)
        return info.run_id

    @workflow.update(name="update")
    async def update(self) -> str:
        self.received_update = True
        return workflow.info().run_id


async def update_admitted(client: Client, workflow_id: str, update_id: str) -> bool:
    try:
        await client.workflow_service.poll_workflow_execution_update(
            PollWorkflowExecutionUpdateRequest(
                namespace=client.namespace,
                update_ref=UpdateRef(
                    workflow_execution=WorkflowExecution(workflow_id=workflow_id),
                    update_id=update_id,
                ),
            )
        )
        return True
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return False


async def check_updates_do_not_block_continue_as_new(
    runner: Runner, handle: WorkflowHandle
) -> None:
    if runner.recording:
        await asyncio.to_thread(CAN_FIRST_TASK_IN_PROGRESS.wait)
    else:
        line = await asyncio.to_thread(sys.stdin.readline)
        assert line.strip() == "first task in progress", f"read {line!r}"

    update = asyncio.create_task(handle.execute_update("update", id="update-id"))
    while not await update_admitted(runner.client, handle.id, "update-id"):
        assert not update.done(), "the update ended before it was seen admitted"
        await asyncio.sleep(0.05)

    if runner.recording:
        CAN_UPDATE_ADMITTED.set()
    else:
        print("update admitted", flush=True)

    update_run_id = await update
    first_run_id = handle.first_execution_run_id
    assert first_run_id and update_run_id and update_run_id != first_run_id, (
        f"the update was handled by run {update_run_id!r}, not the next run after "
        f"{first_run_id!r}"
    )

    update_events = {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
    }

    async def event_types(run_id: str) -> set:
        history = await runner.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        return {event.event_type for event in history.events}

    assert not update_events & await event_types(first_run_id), "the first run has the update"
    assert update_events <= await event_types(update_run_id), "the next run lacks the update"


feature(
    name="continue_as_new/updates_do_not_block_continue_as_new",
    workflows=[UpdatesDoNotBlockContinueAsNew],
    check=check_updates_do_not_block_continue_as_new,
    # The run the first one continued as (the handle's latest run).
    other_runs=lambda runner, handle: [runner.client.get_workflow_handle(handle.id)],
    unsandboxed=True,
)


# --- data_converter/json -----------------------------------------------------------------
# A workflow returns its JSON input; the result's payload is json/plain and the same, byte for
# byte, as the input's.


@workflow.defn(name="Workflow")
class DataConverterJson:
    @workflow.run
    async def run(self, value: Dict[str, bool]) -> Dict[str, bool]:
        return value


async def check_json(runner: Runner, handle: WorkflowHandle) -> None:
    result = await handle.result()
    assert result == {"spec": True}, result
    payload = await result_payload(handle)
    assert payload.metadata["encoding"] == b"json/plain", payload.metadata
    assert json.loads(payload.data) == result, payload.data
    assert payload == await input_payload(handle), "the result's payload differs from the input's"


feature(
    name="data_converter/json",
    workflows=[DataConverterJson],
    args=[{"spec": True}],
    check=check_json,
)


# --- data_converter/binary ---------------------------------------------------------------
# A workflow returns its bytes input; the result's payload is binary/plain with those bytes, the
# same as the input's.

DEADBEEF = bytes.fromhex("deadbeef")


@workflow.defn(name="Workflow")
class DataConverterBinary:
    @workflow.run
    async def run(self, value: bytes) -> bytes:
        return value


async def check_binary(runner: Runner, handle: WorkflowHandle) -> None:
    result = await handle.result()
    assert result == DEADBEEF, result
    payload = await result_payload(handle)
    assert payload == Payload(metadata={"encoding": b"binary/plain"}, data=DEADBEEF), payload
    assert payload == await input_payload(handle), "the result's payload differs from the input's"


feature(
    name="data_converter/binary",
    workflows=[DataConverterBinary],
    args=[DEADBEEF],
    check=check_binary,
)


# --- data_converter/empty ----------------------------------------------------------------
# A workflow passes None to an activity: the activity's input is a binary/null payload without
# data.


@activity.defn(name="null_activity")
async def null_activity(input: Optional[str]) -> None:
    if input is not None:
        raise ApplicationError("Activity input should be None", non_retryable=True)


@workflow.defn(name="Workflow")
class DataConverterEmpty:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            null_activity, None, start_to_close_timeout=timedelta(minutes=1)
        )


async def check_empty(runner: Runner, handle: WorkflowHandle) -> None:
    result = await handle.result()
    assert result is None, result
    event = await first_event(handle, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    payload = event.activity_task_scheduled_event_attributes.input.payloads[0]
    assert payload == Payload(metadata={"encoding": b"binary/null"}), payload


feature(
    name="data_converter/empty",
    workflows=[DataConverterEmpty],
    activities=[null_activity],
    check=check_empty,
)


# --- data_converter/codec ----------------------------------------------------------------
# A codec wraps every payload whole (its protobuf bytes, base64) in one of encoding
# "my_encoding"; the echoed result is stored so, the same as the input.

CODEC_ENCODING = b"my_encoding"


class Base64Codec(PayloadCodec):
    async def encode(self, payloads: Sequence[Payload]) -> List[Payload]:
        return [
            Payload(
                metadata={"encoding": CODEC_ENCODING},
                data=base64.b64encode(payload.SerializeToString()),
            )
            for payload in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> List[Payload]:
        return [
            Payload.FromString(base64.b64decode(payload.data))
            if payload.metadata.get("encoding") == CODEC_ENCODING
            else payload
            for payload in payloads
        ]


@workflow.defn(name="Workflow")
class DataConverterCodec:
    @workflow.run
    async def run(self, value: Dict[str, bool]) -> Dict[str, bool]:
        return value


async def check_codec(runner: Runner, handle: WorkflowHandle) -> None:
    result = await handle.result()
    assert result == {"spec": True}, result
    payload = await result_payload(handle)
    assert payload.metadata["encoding"] == CODEC_ENCODING, payload.metadata
    inner = Payload.FromString(base64.b64decode(payload.data))
    assert inner.metadata["encoding"] == b"json/plain", inner.metadata
    assert json.loads(inner.data) == result, inner.data
    assert payload == await input_payload(handle), "the result's payload differs from the input's"


feature(
    name="data_converter/codec",
    workflows=[DataConverterCodec],
    args=[{"spec": True}],
    data_converter=replace(DataConverter.default, payload_codec=Base64Codec()),
    check=check_codec,
)


# --- schedule/cron ----------------------------------------------------------------------
# A workflow started with a cron schedule sees it in its info; at least two runs complete.

CRON_SCHEDULE = "@every 2s"


@workflow.defn(name="Workflow")
class ScheduleCron:
    @workflow.run
    async def run(self) -> None:
        assert workflow.info().cron_schedule == CRON_SCHEDULE, workflow.info().cron_schedule


async def start_cron(runner: Runner) -> WorkflowHandle:
    return await runner.client.start_workflow(
        "Workflow",
        id=runner.workflow_id(),
        task_queue=runner.task_queue,
        execution_timeout=EXECUTION_TIMEOUT,
        cron_schedule=CRON_SCHEDULE,
    )


async def check_cron(runner: Runner, handle: WorkflowHandle) -> None:
    try:
        # The feature gives the runs ten seconds; more here, for a loaded machine.
        for _ in range(45):
            await asyncio.sleep(1)
            completed = 0
            async for execution in runner.client.list_workflows(f"WorkflowId = '{handle.id}'"):
                if execution.status == WorkflowExecutionStatus.COMPLETED:
                    completed += 1
                elif execution.status != WorkflowExecutionStatus.RUNNING:
                    raise AssertionError(f"a run ended {execution.status.name}")
            if completed >= 2:
                return
        raise AssertionError(f"{completed} runs completed, not 2")
    finally:
        # The chain's current run (the feature's handle names the first, completed run).
        await runner.client.get_workflow_handle(handle.id).terminate("feature complete")


feature(name="schedule/cron", workflows=[ScheduleCron], start=start_cron, check=check_cron)


# --- the command line --------------------------------------------------------------------


def sibling_file(path: str, index: int) -> str:
    stem, extension = os.path.splitext(path)
    return f"{stem}-{index}{extension}"


async def run(address: str, name: str, task_queue: str, mode: str, history_file: Optional[str]):
    feature = FEATURES[name]
    client = await Client.connect(
        address, data_converter=feature.data_converter, interceptors=list(feature.interceptors)
    )
    runner = Runner(client, feature, task_queue, recording=mode == "record")

    if mode == "check":
        handle = await runner.start()
        await feature.check(runner, handle)
        return {"ok": True}

    runner.start_worker()
    try:
        handle = await runner.start()
        await feature.check(runner, handle)
    finally:
        await runner.stop_worker()

    histories = []
    for index, run_handle in enumerate([handle] + feature.other_runs(runner, handle)):
        history = await run_handle.fetch_history()
        file = history_file if index == 0 else sibling_file(history_file, index)
        with open(file, "w", encoding="utf-8") as out:
            out.write(history.to_json())
        histories.append({"workflow_id": run_handle.id, "file": file})
    return {"ok": True, "histories": histories}


def main() -> int:
    address, name, task_queue, mode = sys.argv[1:5]
    history_file = sys.argv[5] if mode == "record" else None
    try:
        outcome = asyncio.run(
            asyncio.wait_for(
                run(address, name, task_queue, mode, history_file), CHECK_DEADLINE_SECONDS
            )
        )
    except BaseException as error:  # every failure is the outcome the test reports
        traceback.print_exc(file=sys.stderr)
        outcome = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    print(json.dumps(outcome), flush=True)
    return 0 if outcome["ok"] else 1


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter finalization: the SDK's native threads can abort it after all is done.
    os._exit(status)
