"""The live status line: what it says of a run, and that it redraws in place."""

from __future__ import annotations

import io

from camsim.bench.progress import BenchStatus, StatusLine, status_line
from camsim.encoder.stats import StreamState, StreamStats


def _stream(index: int, state: StreamState, frames: int) -> StreamStats:
    stats = StreamStats(index, f"rtmps://127.0.0.1/live/bench{index}")
    stats.state = state
    stats.video_frames = frames
    return stats


def _status() -> BenchStatus:
    streams = (
        _stream(0, StreamState.PUBLISHING, 120),
        _stream(1, StreamState.PUBLISHING, 118),
        _stream(2, StreamState.RECONNECTING, 40),
    )
    return BenchStatus(
        started=100.0,
        profile="rtt-50ms",
        stage="streaming",
        round="2/5",
        protocol="rtmps",
        streams=lambda: streams,
    )


def test_line_names_profile_round_protocol_streams_frames_and_elapsed() -> None:
    line = status_line(_status(), now=100.0 + 75.4)
    assert line == (
        "rtt-50ms | streaming 2/5 | rtmps | 2/3 streams up | 278 frames sent | 1:15 elapsed"
    )


def test_line_before_the_first_stage() -> None:
    line = status_line(BenchStatus(started=10.0), now=12.0)
    assert line == "starting | 0/0 streams up | 0 frames sent | 0:02 elapsed"


def test_terminal_line_is_redrawn_in_place_and_cleared_at_the_end() -> None:
    out = io.StringIO()
    show = StatusLine(out, clock=lambda: 101.0)
    status = _status()
    show(status)
    status.round = "3/5"
    show(status)
    show.close()
    text = out.getvalue()
    assert "\n" not in text  # never scrolls: each redraw returns to the line's start
    draws = text.split("\r\x1b[K")
    assert draws == ["", status_line(_status(), 101.0), status_line(status, 101.0), ""]
