"""Payload codec interop: a Python SDK client and workflow worker with an AES-GCM codec call
activities served by an Hourglass worker with Hourglass.PayloadCodec.Encryption.

Usage: python3 codec_peer.py ADDRESS HOURGLASS_TASK_QUEUE KEY_ID KEY_HEX

The codec follows the scheme of the Temporal SDKs' encryption samples: each payload is
serialized whole, encrypted with AES-256-GCM under a fresh 12-byte nonce, and sent as
`binary/encrypted` with the key id in `encryption-key-id`. Prints the outcomes, and what the
server stored, as one Erlang term.
"""

import asyncio
import dataclasses
import os
import sys
import uuid
from datetime import timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio import converter, workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from peer_workflows import describe, erlang_term

HOURGLASS_QUEUE = sys.argv[2]


class AesGcmCodec(converter.PayloadCodec):
    def __init__(self, key_id: str, key: bytes) -> None:
        self.key_id = key_id
        self.aead = AESGCM(key)

    async def encode(self, payloads):
        encoded = []
        for payload in payloads:
            nonce = os.urandom(12)
            sealed = self.aead.encrypt(nonce, payload.SerializeToString(), None)
            encoded.append(
                Payload(
                    metadata={
                        "encoding": b"binary/encrypted",
                        "encryption-key-id": self.key_id.encode(),
                    },
                    data=nonce + sealed,
                )
            )
        return encoded

    async def decode(self, payloads):
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding", b"") != b"binary/encrypted":
                decoded.append(payload)
                continue
            if payload.metadata.get("encryption-key-id", b"").decode() != self.key_id:
                raise ValueError("payload encrypted with another key")
            plain = self.aead.decrypt(payload.data[:12], payload.data[12:], None)
            decoded.append(Payload.FromString(plain))
        return decoded


@workflow.defn(name="CodecScenario")
class CodecScenario:
    @workflow.run
    async def run(self, scenario: str):
        options = dict(
            task_queue=HOURGLASS_QUEUE,
            start_to_close_timeout=timedelta(seconds=20),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100)),
        )
        try:
            if scenario == "echo":
                return await workflow.execute_activity(
                    "echo", {"secret": "swordfish", "n": [1, 2]}, **options
                )
            if scenario == "failure":
                return await workflow.execute_activity("non_retryable", **options)
            if scenario == "heartbeat_resume":
                options["heartbeat_timeout"] = timedelta(seconds=5)
                options["retry_policy"] = RetryPolicy(
                    initial_interval=timedelta(milliseconds=100), maximum_attempts=2
                )
                return await workflow.execute_activity("resume", **options)
        except ActivityError as error:
            return {"failed": describe(error)}
        raise ValueError(f"unknown scenario {scenario}")


def encodings(history, kind):
    """The encodings of the payloads of the history events of one kind, as the server stores them."""
    found = []
    for event in history.events:
        if kind == "scheduled" and event.HasField("activity_task_scheduled_event_attributes"):
            payloads = event.activity_task_scheduled_event_attributes.input.payloads
        elif kind == "completed" and event.HasField("activity_task_completed_event_attributes"):
            payloads = event.activity_task_completed_event_attributes.result.payloads
        else:
            continue
        found += [p.metadata.get("encoding", b"").decode() for p in payloads]
    return found


async def main():
    address, _, key_id, key_hex = sys.argv[1:5]
    codec = AesGcmCodec(key_id, bytes.fromhex(key_hex))
    data_converter = dataclasses.replace(converter.default(), payload_codec=codec)
    client = await Client.connect(address, data_converter=data_converter)
    queue = HOURGLASS_QUEUE + "-py"
    scenarios = ["echo", "failure", "heartbeat_resume"]
    # Unsandboxed: the sandbox would re-import this module and the cryptography package.
    async with Worker(
        client,
        task_queue=queue,
        workflows=[CodecScenario],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handles = [
            await client.start_workflow(
                "CodecScenario",
                scenario,
                id=f"codec-{scenario}-{uuid.uuid4()}",
                task_queue=queue,
                execution_timeout=timedelta(seconds=120),
            )
            for scenario in scenarios
        ]
        results = {s: await h.result() for s, h in zip(scenarios, handles)}
        history = await handles[0].fetch_history()
    results["stored_input"] = encodings(history, "scheduled")
    results["stored_result"] = encodings(history, "completed")
    print(erlang_term(results) + ".")


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)
