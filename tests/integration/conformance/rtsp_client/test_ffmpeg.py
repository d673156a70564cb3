"""FFmpeg's RTSP demuxer judged by rtsp-client, as the README's verdict table reports it.

``ffmpeg -rtsp_transport tcp -i URL -c copy -f hls`` is the client most pull setups start
from. It fails exactly the cases below; each was checked against the RFC by hand (README,
suite rtsp-client, verdicts). A change in FFmpeg or in the suite that moves a verdict fails
this test, so the table is kept true.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conformance.conftest import conform

pytestmark = [pytest.mark.slow, pytest.mark.interop("ffmpeg"), pytest.mark.timeout(600)]

FFMPEG = (
    "ffmpeg -nostdin -loglevel warning -rtsp_transport tcp -i {url} -c copy -f hls {out}/index.m3u8"
)
WEAKNESSES = {
    "RTSPC-RESTART-001": "no reconnect: the demuxer ends when the camera goes away",
    "RTSPC-QUIRK-MEDIA-STALL": "no reconnect on missing RTP: the output waits for ever",
    "RTSPC-QUIRK-INTERLEAVED-WITHOUT-TCP": "takes RTP/AVP;interleaved= as UDP",
    "RTSPC-QUIRK-SCHEMELESS-CONTENT-BASE": "uses a scheme-less Content-Base as it is",
    "RTSPC-QUIRK-TIMESTAMP-JUMP": "copies a 3 h timestamp jump into a segment",
}


def test_ffmpeg_fails_only_its_known_weaknesses(tmp_path: Path) -> None:
    args = ["--suite", "rtsp-client", "--target", FFMPEG, "--set", "parallel=4"]
    run = conform(args, tmp_path / "ffmpeg.json", timeout=400)
    assert run.failing() == set(WEAKNESSES), run.stdout
    assert run.code == 1
