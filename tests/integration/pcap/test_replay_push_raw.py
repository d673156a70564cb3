"""``replay --as push`` publishes a capture to refserver frame for frame; ``--as raw`` resends the
captured datagrams, paced, to loopback only.

What refserver received is read back from its own ``--capture`` file, so the frames compared are
the bytes that crossed the socket, not the pusher's counters.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from camsim.encoder.flv_source import FlvPlan
from camsim.media.loader import load
from camsim.pcap.cli import pcap
from camsim.pcap.inspect import inspect_capture
from camsim.pcap.replay_camera import ReplayError
from camsim.pcap.replay_push import load_plan
from camsim.pcap.replay_raw import Datagram, load_datagrams, loopback_target, send
from camsim.pcap.synth import camera_capture, write_capture
from tests.conftest import SampleFactory
from tests.integration.refserver.harness import running, server_config
from wire import flv
from wire.codec.stamp import write_wallclock

PCAPS = Path(__file__).resolve().parents[3] / "pcaps"


def _frames(plan: FlvPlan) -> list[tuple[int, int, bytes]]:
    """Type, time and bytes of each frame; a stamp's wallclock, which the encoder writes as it
    sends (as a real sender does), set to zero."""
    frames = []
    for frame in plan.frames:
        body = bytearray(frame.body)
        if frame.stamp_at >= 0:
            write_wallclock(body, frame.stamp_at, 0)
        frames.append((frame.type_id, frame.offset_ms, bytes(body)))
    return frames


@dataclasses.dataclass
class Pushed:
    output: str
    """What the command printed."""
    stream: dict[str, Any]
    """refserver's view of the stream once it ended (``/api/streams/replayed``)."""
    served: Path
    """refserver's ``--capture`` of the publish."""


def _push(capture: Path, tmp_path: Path, *extra: str, tls: bool = False) -> Pushed:
    """Replay ``capture`` into refserver as stream ``replayed``."""
    served = tmp_path / "refserver.pcapng"
    config = dataclasses.replace(server_config(tmp_path), capture=served)
    with running(config) as server:
        port = server.rtmps_port if tls else server.rtmp_port
        url = f"rtmp{'s' if tls else ''}://127.0.0.1:{port}/live/replayed"
        result = CliRunner().invoke(pcap, ["replay", str(capture), url, "--as", "push", *extra])
        assert result.exit_code == 0, result.output
        server.wait_for(lambda: not server.api("replayed")["live"], what="the stream to end")
        stream = server.api("replayed")
    return Pushed(result.output, stream, served)


def _received(pushed: Pushed) -> FlvPlan:
    """What refserver read, as a plan."""
    received, origin = load_plan(pushed.served)
    assert origin.startswith("RTMP connection")
    return received


def test_a_captured_publish_goes_out_as_captured(tmp_path: Path) -> None:
    capture = PCAPS / "ffmpeg-rtmp-publish.pcapng"
    sent, _ = load_plan(capture)
    kinds = [f.type_id for f in sent.frames]
    assert (kinds.count(flv.TAG_TYPE_VIDEO), kinds.count(flv.TAG_TYPE_AUDIO)) == (90, 283)
    pushed = _push(capture, tmp_path, "--speed", "4")
    # Every frame once, in order, with its bytes; timestamps scaled by the speed; no second pass.
    received = _received(pushed)
    fast, _ = load_plan(capture, speed=4)
    assert _frames(received) == _frames(fast)
    assert received.video_header == sent.video_header
    assert received.audio_header == sent.audio_header
    assert "90 video and 283 audio frames" in pushed.output
    assert pushed.stream["frames"] == {"video": 90, "audio": 283}


def test_a_captured_camera_is_published_as_an_encoder(
    make_test_sample: SampleFactory, tmp_path: Path
) -> None:
    sample = load(make_test_sample())
    capture = write_capture(tmp_path / "camera.pcapng", camera_capture(sample).packets)
    sent, origin = load_plan(capture)
    assert origin == "RTSP dialog 1"
    # camsim's stamp rides in each frame: the publish carries every captured frame, in order.
    assert [f.frame_index for f in sent.frames if f.type_id == flv.TAG_TYPE_VIDEO] == [
        u.frame_index for u in sample.video_units
    ]
    received = _received(_push(capture, tmp_path, "--speed", "2"))
    fast, _ = load_plan(capture, speed=2)
    assert _frames(received) == _frames(fast)
    assert received.video_header == sent.video_header
    assert received.audio_header == sent.audio_header


def test_push_over_rtmps(tmp_path: Path) -> None:
    capture = PCAPS / "ffmpeg-rtmp-publish.pcapng"
    pushed = _push(capture, tmp_path, "--speed", "4", "--insecure", tls=True)
    assert pushed.stream["frames"] == {"video": 90, "audio": 283}
    # refserver's capture of an RTMPS connection holds the TLS records, as a sniffer's would.
    result = inspect_capture(pushed.served)
    (session,) = result.tls
    assert session.version in (0x0303, 0x0304)  # TLS 1.2 or 1.3
    assert session.server_hello_time is not None
    assert result.rtmp == []


def test_push_over_rtmps_checks_the_certificate(tmp_path: Path) -> None:
    capture = PCAPS / "ffmpeg-rtmp-publish.pcapng"
    with running(server_config(tmp_path)) as server:
        url = f"rtmps://127.0.0.1:{server.rtmps_port}/live/replayed"
        result = CliRunner().invoke(pcap, ["replay", str(capture), url, "--as", "push"])
    assert result.exit_code != 0
    assert "certificate" in result.output.lower()


def test_push_refuses_a_server_off_this_machine(tmp_path: Path) -> None:
    capture = PCAPS / "ffmpeg-rtmp-publish.pcapng"
    args = ["replay", str(capture), "rtmp://192.0.2.1/live/x", "--as", "push"]
    result = CliRunner().invoke(pcap, args)
    assert result.exit_code != 0
    assert "must be loopback" in result.output


@pytest.mark.parametrize("target", ["127.0.0.1:5004", "127.8.0.3:5004", "[::1]:5004"])
def test_loopback_targets_are_accepted(target: str) -> None:
    assert loopback_target(target)[1] == 5004


@pytest.mark.parametrize("target", ["192.0.2.1:5004", "8.8.8.8:53", "[2001:db8::1]:5004"])
def test_other_targets_are_refused(target: str) -> None:
    with pytest.raises(ReplayError, match="must be loopback"):
        loopback_target(target)


@pytest.mark.parametrize("target", ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:http"])
def test_malformed_targets_say_what_is_expected(target: str) -> None:
    with pytest.raises(ReplayError, match="HOST:PORT"):
        loopback_target(target)


def _bind_layout(deltas: set[int]) -> tuple[int, dict[int, socket.socket]]:
    """Sockets on ``base + delta`` for every delta, at a base where all are free."""
    for base in range(20000, 60000 - max(deltas), 997):
        sockets: dict[int, socket.socket] = {}
        try:
            for delta in sorted(deltas):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets[delta] = sock
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                sock.bind(("127.0.0.1", base + delta))
                sock.setblocking(False)
            return base, sockets
        except OSError:
            for sock in sockets.values():
                sock.close()
    raise AssertionError("no free port layout")


def test_raw_resends_every_datagram_paced_with_the_port_layout(
    make_test_sample: SampleFactory, tmp_path: Path
) -> None:
    capture = camera_capture(load(make_test_sample()), transport="udp", seconds=2.0)
    path = write_capture(tmp_path / "camera.pcapng", capture.packets)
    datagrams = load_datagrams(path, speed=2)
    assert min(d.port_delta for d in datagrams) == 0
    # RTP, RTCP and all: every UDP packet of the capture (raw IPv4, protocol byte 17).
    udp = [packet[28:] for _, packet in capture.packets if packet[9] == socket.IPPROTO_UDP]
    assert [d.payload for d in datagrams] == udp
    base, sockets = _bind_layout({d.port_delta for d in datagrams})
    received: dict[int, list[bytes]] = {delta: [] for delta in sockets}
    try:
        began = time.monotonic()
        sent = asyncio.run(send(datagrams, "127.0.0.1", base))
        elapsed = time.monotonic() - began
        for delta, sock in sockets.items():
            while True:
                try:
                    received[delta].append(sock.recv(65536))
                except BlockingIOError:
                    break
    finally:
        for sock in sockets.values():
            sock.close()
    assert sent == len(datagrams)
    for delta, payloads in received.items():
        assert payloads == [d.payload for d in datagrams if d.port_delta == delta]
    # Paced: not at once, and at twice the captured speed.
    assert datagrams[-1].offset <= elapsed < datagrams[-1].offset + 2.0


def test_raw_duration_stops_the_send() -> None:
    datagrams = [Datagram(i * 0.1, 0, b"x") for i in range(50)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        port = sink.getsockname()[1]
        sent = asyncio.run(send(datagrams, "127.0.0.1", port, duration=0.55))
    assert sent == 6  # offsets 0.0 to 0.5


def test_raw_refuses_a_destination_off_this_machine(tmp_path: Path) -> None:
    capture = PCAPS / "camsim-camera-udp-loss.pcapng"
    args = ["replay", str(capture), "--as", "raw", "--to", "192.0.2.1:5004"]
    result = CliRunner().invoke(pcap, args)
    assert result.exit_code != 0
    assert "must be loopback" in result.output
