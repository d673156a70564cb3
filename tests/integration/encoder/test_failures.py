"""Servers that refuse, stay silent, break the protocol or drop the connection."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from click.testing import CliRunner, Result

from camsim.cli import main
from camsim.encoder.flv_source import FlvPlan
from camsim.encoder.publisher import Backoff
from camsim.encoder.stats import StreamState
from tests.integration.encoder.conftest import push
from tests.integration.encoder.rtmp_server import (
    BARE_ON_FC_PUBLISH,
    GARBAGE_AMF,
    MALFORMED_CHUNK,
    Behaviour,
    running_server,
)
from wire.flv import VideoTag


def run_push(*args: str) -> Result:
    return CliRunner().invoke(main, ["push", *args])


def test_rejected_publish_exits_non_zero_with_the_status(sample_path: Path):
    behaviour = Behaviour(reject=("NetStream.Publish.BadName", "cam1 is already publishing"))
    with running_server(behaviour) as server:
        url = server.url("live/cam1")
        result = run_push(url, "--media", str(sample_path), "--duration", "5", "--json")
    assert result.exit_code == 1
    assert result.stderr == (
        f"stream 1 ({url}): publish rejected: NetStream.Publish.BadName: "
        "cam1 is already publishing\n"
    )
    (stream,) = json.loads(result.stdout)["streams"]
    assert stream["state"] == "failed"
    assert stream["status_code"] == "NetStream.Publish.BadName"
    assert stream["status_description"] == "cam1 is already publishing"
    assert stream["video_frames"] == 0


def test_rejection_is_not_retried_with_reconnect(plan: FlvPlan):
    behaviour = Behaviour(reject=("NetStream.Publish.Denied", "no"))
    with running_server(behaviour) as server:
        started = time.monotonic()
        (stats,) = push([server.url("live/x")], plan, 10, reconnect=True)
    assert time.monotonic() - started < 5
    assert len(server.sessions) == 1
    assert stats.state is StreamState.FAILED
    assert stats.error == "publish rejected: NetStream.Publish.Denied: no"
    assert stats.reconnects == 0


def test_silent_server_times_out_in_the_handshake(sample_path: Path):
    with running_server(Behaviour(silent=True)) as server:
        started = time.monotonic()
        result = run_push(server.url("live/cam1"), "--media", str(sample_path), "--timeout", "0.5")
        elapsed = time.monotonic() - started
    assert result.exit_code == 1
    assert result.stderr.endswith(
        f"RTMP handshake with 127.0.0.1:{server.port} timed out after 0.5 s\n"
    )
    assert elapsed < 5


def test_unanswered_publish_times_out(plan: FlvPlan):
    with running_server(Behaviour(answer_publish=False)) as server:
        (stats,) = push([server.url("live/x")], plan, 10, timeout=0.5)
    assert stats.state is StreamState.FAILED
    assert stats.error == f"publish with 127.0.0.1:{server.port} timed out after 0.5 s"
    assert stats.rtmp_handshake_ms is not None
    assert stats.connect_to_publish_ms is None


def test_tcp_connect_refused(plan: FlvPlan):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        (stats,) = push([f"rtmp://127.0.0.1:{port}/live/x"], plan, 10)
    assert stats.state is StreamState.FAILED
    assert stats.error is not None
    assert stats.error.startswith(f"TCP connect to 127.0.0.1:{port} failed: ")
    assert "Connect call failed" in stats.error


def test_malformed_chunk_is_a_clear_error_and_closes(plan: FlvPlan):
    with running_server(Behaviour(inject_after_connect=MALFORMED_CHUNK)) as server:
        (stats,) = push([server.url("live/x")], plan, 10)
        server.wait_until(lambda: server.sessions[0].closed, 5)
    assert stats.state is StreamState.FAILED
    assert stats.error == (
        "protocol error during RTMP connect: "
        "chunk stream 40: first chunk has fmt 3, nothing to inherit"
    )


def test_garbage_amf_is_a_clear_error_and_closes(plan: FlvPlan):
    with running_server(Behaviour(inject_after_connect=GARBAGE_AMF)) as server:
        (stats,) = push([server.url("live/x")], plan, 10)
        server.wait_until(lambda: server.sessions[0].closed, 5)
    assert stats.state is StreamState.FAILED
    assert stats.error == (
        "protocol error during RTMP connect: "
        "command: AMF0 string: truncated, need 16384 bytes at offset 3, have 8"
    )


def test_a_command_without_transaction_id_is_tolerated(plan: FlvPlan):
    with running_server(Behaviour(inject_after_connect=BARE_ON_FC_PUBLISH)) as server:
        # The duration runs from the start, set-up included: 2 s leaves room for a slow set-up
        # on a loaded machine while still asking for many frames after the bare command.
        (stats,) = push([server.url("live/x")], plan, 2.0)
    assert stats.state is StreamState.DONE, stats.error
    assert len(server.sessions[0].video) > 3


def test_reconnects_after_the_server_drops_the_connection(plan: FlvPlan):
    behaviour = Behaviour(drop_first_after_frames=8)
    with running_server(behaviour) as server:
        (stats,) = push(
            [server.url("live/x")], plan, 3.5, reconnect=True, backoff=Backoff(0.1, 0.2)
        )
    assert len(server.sessions) == 2
    first, second = server.sessions
    assert stats.state is StreamState.DONE
    assert stats.reconnects == 1
    assert stats.error is None
    # The new connection starts over: metadata, sequence headers, then a keyframe...
    assert len(second.metadata) == 1
    tags = [VideoTag.parse(body) for _, body, _ in second.video]
    assert tags[0].is_sequence_header
    assert tags[1].is_keyframe
    # ...with timestamps that kept running with the clock instead of restarting at zero.
    assert second.video[1][0] > first.video[-1][0]


def test_dropped_connection_without_reconnect_fails(plan: FlvPlan):
    with running_server(Behaviour(drop_first_after_frames=3)) as server:
        (stats,) = push([server.url("live/x")], plan, 10)
    assert stats.state is StreamState.FAILED
    assert stats.error == "server closed the connection during streaming"
    assert len(server.sessions) == 1


def test_many_streams_need_the_index_placeholder(sample_path: Path):
    result = run_push("rtmp://127.0.0.1/live/cam", "--streams", "2", "--media", str(sample_path))
    assert result.exit_code == 2
    assert "put {n} in the URL" in result.stderr


def test_bad_url_is_a_usage_error(sample_path: Path):
    result = run_push("http://127.0.0.1/live/cam", "--media", str(sample_path))
    assert result.exit_code == 2
    assert "http://127.0.0.1/live/cam: the scheme must be rtmp:// or rtmps://" in result.stderr


def test_server_that_stops_reading_is_a_stall_error(plan: FlvPlan):
    with running_server(Behaviour(stop_reading_after_publish=True)) as server:
        started = time.monotonic()
        (stats,) = push([server.url("live/x")], plan, 20, timeout=1, send_buffer=16384)
    assert time.monotonic() - started < 10
    assert stats.state is StreamState.FAILED
    assert stats.error == "the server stopped reading for 1 s while streaming"
