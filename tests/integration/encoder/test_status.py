"""The live status table and the final summary (no sockets, a fake clock)."""

from __future__ import annotations

import io
import json

from camsim.encoder.stats import StreamState, StreamStats
from camsim.encoder.status import LiveStatus, format_summary


def streams() -> list[StreamStats]:
    first = StreamStats(1, "rtmp://h/live/cam1", state=StreamState.PUBLISHING)
    first.publishing_seconds, first.publishing_since = 10.0, 100.0
    first.video_frames, first.bytes_sent = 300, 250_000
    second = StreamStats(2, "rtmp://h/live/cam2", state=StreamState.FAILED)
    second.error = "publish rejected: NetStream.Publish.BadName: Already publishing"
    return [first, second]


def test_live_status_redraws_in_place_with_rates():
    out = io.StringIO()
    now = [104.0]
    status = LiveStatus(out, clock=lambda: now[0])
    all_stats = streams()
    status(all_stats)
    first_draw = out.getvalue()
    assert first_draw.splitlines() == [
        "   #  state           up s   frames   kbit/s recon  detail",
        "   1  publishing        14      300        0     0  rtmp://h/live/cam1",
        "   2  failed             0        0        0     0  "
        "publish rejected: NetStream.Publish.BadName: Already publishing",
        " all  1/2 up                    300        0     0",
    ]
    all_stats[0].bytes_sent += 125_000  # 1 Mbit in the next second
    now[0] = 105.0
    status(all_stats)
    redraw = out.getvalue()[len(first_draw) :]
    assert redraw.startswith("\x1b[4F\x1b[J")  # back over the 4 lines drawn before
    assert "   1  publishing        15      300     1000     0  rtmp://h/live/cam1" in redraw


def test_summary_lists_phase_timings():
    all_stats = streams()
    all_stats[0].tcp_connect_ms, all_stats[0].rtmp_handshake_ms = 0.42, 1.5
    all_stats[0].connect_to_publish_ms = 43.21
    assert format_summary(all_stats).splitlines()[:2] == [
        "   #  state         tcp ms  tls ms   hs ms  pub ms   frames       MB recon  detail",
        "   1  publishing       0.4       -     1.5    43.2      300      0.2     0  "
        "rtmp://h/live/cam1",
    ]


def test_json_has_every_counter_and_timing():
    data = streams()[1].to_json()
    assert json.loads(json.dumps(data)) == {
        "index": 2,
        "url": "rtmp://h/live/cam2",
        "state": "failed",
        "tcp_connect_ms": None,
        "tls_handshake_ms": None,
        "rtmp_handshake_ms": None,
        "connect_to_publish_ms": None,
        "bytes_sent": 0,
        "video_frames": 0,
        "audio_frames": 0,
        "reconnects": 0,
        "publishing_seconds": 0.0,
        "error": "publish rejected: NetStream.Publish.BadName: Already publishing",
        "status_code": None,
        "status_description": None,
    }
