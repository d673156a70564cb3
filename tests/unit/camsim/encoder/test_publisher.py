"""The asyncio owner of one attempt, on a real event loop but a fake transport (no socket): the
pacer is driven by the session's events, and the close grace ends a transport that never
drains."""

from __future__ import annotations

import asyncio

from camsim.encoder.pacer import Pacer
from camsim.encoder.publisher import PublishAttempt, StreamPublisher
from camsim.encoder.session import PublishOptions
from camsim.encoder.target import PushTarget
from tests.unit.camsim.encoder.dialog import URL, Dialog, tiny_plan
from tests.unit.wire.asyncio.sessions import FakeTransport
from wire.session import Cause

GRACE = 0.05


def attempt_on(
    loop: asyncio.AbstractEventLoop, timeout: float = GRACE
) -> tuple[PublishAttempt, FakeTransport]:
    options = PublishOptions(timeout=timeout)
    publisher = StreamPublisher(1, PushTarget.parse(URL), tiny_plan(), Pacer(loop), options)
    attempt = PublishAttempt(publisher, loop)
    transport = FakeTransport()
    attempt.pump.connection_made(transport)
    attempt.session.transport_connected(loop.time())
    attempt.pump.transmit()
    return attempt, transport


def test_the_close_grace_aborts_a_transport_that_never_drains() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        attempt, transport = attempt_on(loop)
        assert len(transport.written) == 1 + 1536  # C0+C1 went out through the pump
        attempt.stop()
        ended = attempt.session.termination
        assert ended is not None
        assert ended.cause is Cause.LOCAL_CLOSE
        assert transport.closed
        assert not transport.aborted  # closing: what was written may still drain...
        await asyncio.sleep(GRACE / 2)
        assert not transport.aborted
        await asyncio.sleep(GRACE)
        assert transport.aborted  # ...for the grace, then the connection is dropped

    asyncio.run(scenario())


def test_a_failed_connection_is_dropped_without_waiting_for_the_grace() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        attempt, transport = attempt_on(loop, timeout=30.0)
        attempt.session.handle_timer(loop.time() + 30.0)  # the RTMP handshake timed out
        attempt.pump.transmit()
        assert transport.closed
        await asyncio.sleep(0.01)
        assert transport.aborted

    asyncio.run(scenario())


def test_media_is_paced_from_the_sessions_events_and_stops_when_writes_pause() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        attempt, transport = attempt_on(loop)
        session = attempt.session
        dialog = Dialog(session)
        dialog.server.receive_data(bytes(transport.written), loop.time())
        transport.written.clear()
        session.receive_data(dialog.server.data_to_send(), loop.time())
        for _ in range(3):  # connect, createStream, publish, through the pump each time
            attempt.pump.transmit()
            dialog.server.receive_data(bytes(transport.written), loop.time())
            transport.written.clear()
            dialog.round_trip(loop.time())
        attempt.pump.transmit()
        assert session.pacing
        await asyncio.sleep(0.03)  # the frames at 0 ms are due by now
        assert session.stats.video_frames >= 1
        assert session.stats.audio_frames >= 1
        attempt.pump.pause_writing()
        sent = session.stats.audio_frames
        await asyncio.sleep(0.25)  # past the frames at 200 ms, and the stall
        assert session.stats.audio_frames == sent  # paused: the pacer left the stream alone
        assert session.termination is not None  # and the stall ended it after the timeout
        assert session.termination.detail == "the server stopped reading for 0.05 s while streaming"

    asyncio.run(scenario())
