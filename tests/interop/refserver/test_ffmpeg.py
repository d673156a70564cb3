"""FFmpeg publishes into the ``refserver`` command over RTMP and RTMPS; ffprobe reads the HLS
back over HTTP; the playlists are held to every HLS rule across reloads."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.interop.refserver.conftest import RefserverProcess, ffmpeg_push, wait_exit
from wire.hls import parse
from wire.hls.validate import Reload, check_playlist, check_reloads, only_errors

pytestmark = pytest.mark.interop("ffmpeg", "ffprobe")


def ffprobe_streams(url: str) -> list[dict[str, object]]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_streams", "-show_format", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    streams: list[dict[str, object]] = json.loads(result.stdout)["streams"]
    return streams


@pytest.mark.parametrize("scheme", ["rtmp", "rtmps"])
def test_ffmpeg_push_and_ffprobe_reads_hls(
    refserver: RefserverProcess, sample_path: Path, scheme: str
):
    url = refserver.rtmp_url("test") if scheme == "rtmp" else refserver.rtmps_url("test")
    wait_exit(ffmpeg_push(sample_path, url))
    deadline = time.monotonic() + 10
    while refserver.api("test")["live"] and time.monotonic() < deadline:
        time.sleep(0.05)

    info = refserver.api("test")
    assert info["live"] is False
    assert info["publishes"] == 1
    assert info["frames"]["video"] == 60
    assert info["tracks"] == {"video": "h264", "audio": "mp4a.40.2", "audio_left_out": None}
    assert info["hls"]["segments_written"] == 4

    streams = ffprobe_streams(refserver.http_url("/live/test/index.m3u8"))
    assert sorted(str(s["codec_name"]) for s in streams) == ["aac", "h264"]
    video = next(s for s in streams if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (320, 240)
    [started] = [e for e in refserver.log_entries() if e["message"] == "publish started"]
    assert started["protocol"] == scheme
    assert started["stream"] == "test"


def poll_playlist(
    refserver: RefserverProcess, name: str, until: subprocess.Popen[bytes], interval: float = 0.25
) -> list[Reload]:
    """Reload the playlist every ``interval`` s while ``until`` runs."""
    reloads = []
    while until.poll() is None:
        status, body = refserver.get(f"/live/{name}/index.m3u8")
        if status == 200:
            reloads.append(Reload(time.monotonic(), body))
        time.sleep(interval)
    return reloads


@pytest.mark.slow
def test_live_playlist_obeys_every_rule_across_reloads(
    refserver: RefserverProcess, sample_path: Path
):
    pusher = ffmpeg_push(
        sample_path, refserver.rtmp_url("rules"), realtime=True, loop=True, seconds=12
    )
    reloads = poll_playlist(refserver, "rules", pusher)
    wait_exit(pusher)

    assert len(reloads) > 30
    assert only_errors(check_reloads(reloads)) == []
    last = parse(reloads[-1].body)
    # A window of 6 one-second segments slid along: the first ones were removed.
    assert last.media_sequence > 0
    assert len(last.segments) == 6
    # Removed segments stay downloadable (RFC 8216 §6.2.2).
    first = parse(reloads[0].body).segments[0].uri
    status, _ = refserver.get(f"/live/rules/{first}")
    assert status == 200


@pytest.mark.slow
def test_ffmpeg_killed_mid_segment_then_republished(refserver: RefserverProcess, sample_path: Path):
    killed = ffmpeg_push(sample_path, refserver.rtmp_url("crash"), realtime=True, loop=True)
    reloads = []
    deadline = time.monotonic() + 4.5
    while time.monotonic() < deadline:
        status, body = refserver.get("/live/crash/index.m3u8")
        if status == 200:
            reloads.append(Reload(time.monotonic(), body))
        time.sleep(0.25)
    killed.send_signal(signal.SIGKILL)
    killed.wait(10)
    deadline = time.monotonic() + 10
    while refserver.api("crash")["live"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert refserver.api("crash")["live"] is False
    cut = refserver.get("/live/crash/index.m3u8")[1]
    assert only_errors(check_playlist(cut)) == []

    again = ffmpeg_push(sample_path, refserver.rtmp_url("crash"), realtime=True, seconds=4)
    reloads += poll_playlist(refserver, "crash", again)
    wait_exit(again)

    final = parse(reloads[-1].body)
    assert sum(s.discontinuity for s in final.segments) == 1
    findings = only_errors(check_reloads(reloads))
    # The only gap allowed is the one while no publisher was connected.
    assert [f.rule for f in findings if f.rule != "new-segment-interval"] == []
    assert refserver.api("crash")["publishes"] == 2


def test_ctrl_c_finishes_open_segments_and_playlists(
    refserver: RefserverProcess, sample_path: Path
):
    pusher = ffmpeg_push(sample_path, refserver.rtmp_url("stop"), realtime=True, loop=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if refserver.get("/live/stop/index.m3u8")[0] == 200:
            break
        time.sleep(0.1)
    time.sleep(0.5)  # into the second segment
    assert refserver.stop() == 0
    pusher.wait(10)
    body = (refserver.hls_dir / "stop" / "index.m3u8").read_bytes()
    playlist = parse(body)
    assert playlist.endlist
    assert len(playlist.segments) == 2
    assert only_errors(check_playlist(body, live=False)) == []
    messages = [e["message"] for e in refserver.log_entries()]
    assert messages.index("shutting down") < messages.index("publish stopped")
    assert messages[-1] == "stopped"


def test_fmp4_segments_from_the_command(tmp_path: Path, sample_path: Path):
    server = RefserverProcess(
        tmp_path / "refserver", "--target-duration=1", "--segment-format=fmp4"
    )
    server.start()
    try:
        wait_exit(ffmpeg_push(sample_path, server.rtmp_url("test")))
        status, body = server.get("/live/test/index.m3u8")
        assert status == 200
        assert only_errors(check_playlist(body)) == []
        playlist = parse(body)
        assert playlist.version is not None
        assert playlist.version >= 6
        assert playlist.segments[0].init_section is not None
        init_status, init = server.get(f"/live/test/{playlist.segments[0].init_section.uri}")
        assert init_status == 200
        assert init[4:8] == b"ftyp"
        assert all(s.uri.endswith(".m4s") for s in playlist.segments)

        streams = ffprobe_streams(server.http_url("/live/test/index.m3u8"))
        assert sorted(str(s["codec_name"]) for s in streams) == ["aac", "h264"]
    finally:
        server.stop()
