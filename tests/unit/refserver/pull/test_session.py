from __future__ import annotations

import asyncio

import pytest

from refserver.hls import Frame
from refserver.pull.session import (
    PULL_TRANSPORTS,
    CameraAddress,
    RtspPullSession,
    SessionTimeouts,
)
from refserver.pull.tracks import Presentation, Track


class NullSink:
    def started(self, presentation: Presentation, peer: str) -> None:
        raise AssertionError("nothing plays here")

    def frame(self, track: Track, frame: Frame, size: int) -> None:
        raise AssertionError("nothing plays here")

    def warning(self, message: str) -> None:
        raise AssertionError("nothing plays here")


def test_transports_and_defaults() -> None:
    assert PULL_TRANSPORTS == ("auto", "tcp", "udp", "http", "multicast")
    assert SessionTimeouts().udp_switch == 3.0

    async def scenario() -> None:
        session = RtspPullSession(CameraAddress.parse("rtsp://h/c"), NullSink())
        assert (session.transport, session.tls_verify, session.transport_in_use) == (
            "auto",
            True,
            None,
        )
        assert session.presentation is None
        with pytest.raises(ValueError) as caught:
            RtspPullSession(CameraAddress.parse("rtsp://h/c"), NullSink(), transport="quic")
        assert str(caught.value) == "transport 'quic' is not one of auto, tcp, udp, http, multicast"

    asyncio.run(scenario())
