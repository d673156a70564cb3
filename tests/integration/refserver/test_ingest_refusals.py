"""Refused stream keys: one answer for every reason, later and later from an address that keeps
guessing, then a ban; other addresses publish all along."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from camsim.encoder.flv_source import FlvPlan
from refserver.config import Limits
from refserver.ingest.keys import DENIED_DESCRIPTION
from tests.integration.refserver.harness import (
    RtmpPublisher,
    RunningServer,
    running,
    server_config,
)
from wire.rtmp.events import (
    ConnectAccepted,
    ConnectionTerminated,
    PublishRejected,
    PublishStarted,
    RtmpEvent,
)
from wire.session import Termination

DENIED = "NetStream.Publish.Denied"
GUESSER = "127.0.0.1"
OWNER = "127.0.0.2"
KEYS = {"cam": "secret", "door": "other"}


def refusals(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [
        dict(vars(r))
        for r in caplog.records
        if r.name == "refserver.ingest" and r.getMessage() == "publish refused"
    ]


async def attempt(port: int, name: str, source: str) -> tuple[RtmpEvent, float]:
    """Publish ``name`` from ``source``: the answer and how long it took after the request."""
    publisher = RtmpPublisher(port, source=source)
    try:
        await publisher.open()
    except ConnectionError:
        return ConnectionTerminated(Termination.peer_closed("refused at accept")), 0.0
    try:
        answer = await publisher.read_until(ConnectAccepted)
    except ConnectionError:
        answer = ConnectionTerminated(Termination.peer_closed("reset"))
    if not isinstance(answer, ConnectAccepted):
        await publisher.close()
        return answer, 0.0
    began = time.monotonic()
    publisher.connection.publish(name, began)
    await publisher.flush()
    try:
        answer = await publisher.read_until(PublishStarted, PublishRejected, timeout=20)
    except ConnectionError:
        answer = ConnectionTerminated(Termination.peer_closed("reset"))
    took = time.monotonic() - began
    await publisher.close()
    return answer, took


def test_every_refused_key_gets_the_same_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # No delay, and one address per attempt: only the answers themselves are compared here.
    limits = Limits(key_failure_delay=0, key_failure_limit=0)
    names = ["cam?key=wrong", "cam", "cam?key=", "nokey?key=secret", "door?key=secret"]

    async def scenario(server: RunningServer) -> list[RtmpEvent]:
        return [
            (await attempt(server.rtmp_port, name, f"127.0.1.{index}"))[0]
            for index, name in enumerate(names, start=1)
        ]

    with running(server_config(tmp_path, stream_keys=KEYS, limits=limits)) as server:
        answers = asyncio.run(scenario(server))
    assert answers == [PublishRejected(1, DENIED, DENIED_DESCRIPTION)] * len(names)
    # The log still says exactly why.
    assert [r["reason"] for r in refusals(caplog)] == [
        "wrong stream key",
        "no stream key given",
        "no stream key given",
        "no stream key is configured for this name",
        "wrong stream key",
    ]


def test_repeated_failures_wait_longer_then_the_address_is_banned(
    tmp_path: Path, h264_plan: FlvPlan, caplog: pytest.LogCaptureFixture
) -> None:
    limits = Limits(key_failure_delay=0.25, key_failure_limit=3, key_failure_window=60)

    async def scenario(server: RunningServer) -> None:
        port = server.rtmp_port
        took = []
        for _ in range(3):
            answer, seconds = await attempt(port, "cam?key=guess", GUESSER)
            assert answer == PublishRejected(1, DENIED, DENIED_DESCRIPTION)
            took.append(seconds)
        # 0.25 s, then 0.5 s, then 1 s before each answer.
        assert took[0] >= 0.25
        assert took[1] >= 0.5
        assert took[2] >= 1.0
        assert took[0] < took[1] < took[2]
        # Banned: its connections are closed as they come, even one with the right key.
        answer, _ = await attempt(port, "cam?key=secret", GUESSER)
        assert isinstance(answer, ConnectionTerminated)
        # Another address is not affected.
        owner = RtmpPublisher(port, source=OWNER)
        assert isinstance(await owner.publish("cam?key=secret"), PublishStarted)
        await owner.send_plan(h264_plan, seconds=1)
        await owner.unpublish()

    with running(server_config(tmp_path, stream_keys=KEYS, limits=limits)) as server:
        asyncio.run(scenario(server))
    assert [r["delay"] for r in refusals(caplog)] == [0.25, 0.5, 1.0]
    banned = [
        r
        for r in caplog.records
        if r.name == "refserver.ingest" and r.getMessage() == "connection refused"
    ]
    assert [r.__dict__["reason"] for r in banned] == [
        "address banned after repeated refused stream keys"
    ]


def test_a_guess_made_while_the_last_answer_is_pending_is_refused_unread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limits = Limits(key_failure_delay=1.0, key_failure_limit=0)

    async def scenario(server: RunningServer) -> list[RtmpEvent]:
        port = server.rtmp_port
        # The first guess's answer is a second away; a second connection tries the right key.
        first = asyncio.create_task(attempt(port, "cam?key=guess", GUESSER))
        await asyncio.sleep(0.3)
        second, _ = await attempt(port, "cam?key=secret", GUESSER)
        return [(await first)[0], second]

    with running(server_config(tmp_path, stream_keys=KEYS, limits=limits)) as server:
        answers = asyncio.run(scenario(server))
    assert answers == [PublishRejected(1, DENIED, DENIED_DESCRIPTION)] * 2
    reasons = [r["reason"] for r in refusals(caplog)]
    assert reasons == ["wrong stream key", "1 refused stream keys, the last answer not yet due"]
