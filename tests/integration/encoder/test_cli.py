"""``camsim push`` as a process: JSON stats, and a clean stop on SIGTERM and SIGINT."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.encoder.rtmp_server import running_server


def start_push(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from camsim.cli import main; main()", "push", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_every_stream_cleanly(sample_path: Path, signum: signal.Signals):
    with running_server() as server:
        process = start_push(
            server.url("live/cam{n}"), "--streams", "2", "--media", str(sample_path), "--json"
        )
        try:
            server.wait_until(
                lambda: (
                    len(server.sessions) == 2 and all(len(s.video) > 3 for s in server.sessions)
                ),
                timeout=20,
            )
            process.send_signal(signum)
            out, err = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        server.wait_until(lambda: all(s.closed for s in server.sessions), 5)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    streams = json.loads(out)["streams"]
    assert [s["state"] for s in streams] == ["done", "done"]
    by_name = {session.publish_name: session for session in server.sessions}
    for stats in streams:
        session = by_name[f"cam{stats['index']}"]
        assert stats["video_frames"] == len(session.video) - 1  # all but the sequence header
        assert session.deleted, "the stream unpublished before closing"
