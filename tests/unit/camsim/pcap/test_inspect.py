"""``camsim pcap inspect`` on the real field captures and through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from camsim.pcap.cli import pcap
from camsim.pcap.inspect import InspectResult, inspect_capture
from camsim.pcap.output import HIDDEN, format_text, to_json


@pytest.fixture(scope="module")
def camera(shared_dir: Path) -> InspectResult:
    return inspect_capture(shared_dir / "captures" / "camera-h264-udp-digest.pcapng")


@pytest.fixture(scope="module")
def rtmp_play(shared_dir: Path) -> InspectResult:
    return inspect_capture(shared_dir / "captures" / "rtmp-play-h264-aac.pcap")


def test_camera_dialog(camera: InspectResult) -> None:
    """What ../shared/captures/README.md says the capture holds: OPTIONS, 401 Digest
    challenges, DESCRIBE with H.264 Main SDP, SETUP over UDP, PLAY, TEARDOWN."""
    (dialog,) = camera.dialogs
    assert str(dialog.server) == "192.168.1.108:554"
    assert dialog.server_agent == "Rtsp Server/3.0"
    methods = [(e.method, e.status) for e in dialog.exchanges]
    assert methods[:4] == [("OPTIONS", 401), ("OPTIONS", 401), ("DESCRIBE", 401), ("OPTIONS", 401)]
    assert methods[4:] == [
        ("OPTIONS", 200),
        ("DESCRIBE", 200),
        ("SETUP", 200),
        ("PLAY", 200),
        ("TEARDOWN", 200),
    ]
    assert all(e.challenges == ["Digest MD5"] for e in dialog.exchanges if e.status == 401)
    setup = dialog.exchanges[6]
    assert setup.authorization == "Digest MD5"
    assert setup.transport is not None
    assert "client_port=46048-46049" in setup.transport
    assert dialog.sdp is not None
    assert dialog.sdp.media[0].fmtp(96)["profile-level-id"] == "4D4028"


def test_camera_stream(camera: InspectResult) -> None:
    """1,569 RTP packets in 3.2 s with no loss, H.264 Main (profile-level-id 4D4028)."""
    (stream,) = camera.rtp_streams
    assert (stream.packets, stream.lost, stream.missing) == (1569, 0, 0)
    assert 3.2 < stream.duration < 3.3
    assert (stream.media.codec, stream.media.source, stream.media.clock_rate) == (
        "H264",
        "sdp",
        90000,
    )
    assert stream.video_format is not None
    assert stream.video_format.profile == "Main"
    assert stream.setup is not None
    assert "trackID=0" in stream.setup
    # live555's two 4-byte NAT punch packets to the server's ports are no RTP.
    punch = [f for f in camera.udp_flows if f.source.port == 46048]
    assert [(f.packets, f.other, f.rtp) for f in punch] == [(2, 2, None)]


def test_camera_findings_say_why_credentials_were_refused(camera: InspectResult) -> None:
    codes = [f.code for f in camera.findings]
    assert codes == ["rtsp-credentials-retried", "rtsp-credentials-retried"]
    assert all("empty user name" in f.message for f in camera.findings)


def test_rtmp_play(rtmp_play: InspectResult) -> None:
    """connect('live'), Window Ack Size, Set Peer Bandwidth, onBWDone, createStream,
    play('hks'), onMetaData (H.264 480x288, AAC 48 kHz stereo, Lavf57.36.100)."""
    (session,) = rtmp_play.rtmp
    assert session.app == "live"
    assert session.role == "play"
    assert session.stream_names == ["hks"]
    names = [c.name for c in session.commands]
    for name in ("connect", "_result", "onBWDone", "createStream", "play", "onStatus"):
        assert name in names
    assert "NetStream.Play.Start" in {c.details.get("code") for c in session.commands}
    assert session.window_ack_sizes
    assert session.peer_bandwidths
    (stream,) = session.media_streams
    assert stream.video_codec == "H264"
    assert stream.video_format is not None
    assert (stream.video_format.width, stream.video_format.height) == (480, 288)
    assert (stream.audio_codec, stream.audio_sample_rate, stream.audio_channels) == (
        "AAC",
        48000,
        2,
    )
    assert stream.metadata["encoder"] == "Lavf57.36.100"
    assert not rtmp_play.findings


def test_stream_names_are_hidden_unless_asked(rtmp_play: InspectResult) -> None:
    hidden = json.dumps(to_json(rtmp_play))
    assert '"hks"' not in hidden
    assert HIDDEN in hidden
    assert "stream=hks" not in format_text(rtmp_play)
    assert "stream=hks" in format_text(rtmp_play, show_secrets=True)
    shown = to_json(rtmp_play, show_secrets=True)
    assert shown["rtmp"][0]["stream_names"] == ["hks"]


def test_cli_text_and_json(shared_dir: Path) -> None:
    capture = str(shared_dir / "captures" / "camera-h264-udp-digest.pcapng")
    runner = CliRunner()
    text = runner.invoke(pcap, ["inspect", capture])
    assert text.exit_code == 0, text.output
    assert "RTSP dialog 1: 192.168.1.3:44246 -> 192.168.1.108:554 over TCP" in text.output
    assert "SSRC 4DD55626: video H264/90000" in text.output
    assert "Findings (2)" in text.output
    result = runner.invoke(pcap, ["inspect", "--json", capture])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["capture"]["packets"] == 1727
    assert data["rtp_streams"][0]["ssrc"] == "4DD55626"
    assert [f["code"] for f in data["findings"]] == ["rtsp-credentials-retried"] * 2


def test_cli_refuses_a_file_that_is_not_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "notes.pcap"
    path.write_text("hello, this is a text file, not a capture")
    result = CliRunner().invoke(pcap, ["inspect", str(path)])
    assert result.exit_code == 1
    assert "notes.pcap: not a pcap or pcapng file (it starts with 68 65 6c 6c)" in result.output
