"""A replay through the fault proxy (loopback only): the replayed camera behind an RTSP proxy,
a push through a TCP proxy, raw datagrams through UDP proxies.

What the proxy dropped is known without asking it: its links draw every choice from a
``random.Random`` seeded with the proxy's seed and the flow's name (``{seed}/rtp/{n}/down``,
``{seed}/udp/{n}/up``), and a packet's fate depends only on its place in the flow. A
:class:`~camsim.fault.impair.Link` of the same name and profile, fed the same number of packets,
therefore says which ones the proxy lost; the tests check the receiver's packets against that,
and the proxy's own counters against both.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from camsim.fault.config import FaultConfig
from camsim.fault.impair import Link, LinkProfile
from camsim.media.loader import load
from camsim.pcap.capture import CaptureFile
from camsim.pcap.cli import pcap
from camsim.pcap.packet import IPPROTO_TCP, PacketDecoder
from camsim.pcap.replay_camera import CapturedCamera, load_camera
from camsim.pcap.replay_fault import parse_faults, start_camera_behind_proxy
from camsim.pcap.replay_raw import load_datagrams
from camsim.pcap.synth import CameraCapture, camera_capture, write_capture
from refserver.config import PullTransport, SourceConfig
from refserver.hls import HlsOptions
from tests.conftest import SampleFactory
from tests.integration.camera.client import RtspTestClient, open_udp_ports, transport_of
from tests.integration.pcap.harness import running_proxied_replay
from tests.integration.pcap.test_replay_push_raw import _bind_layout
from tests.integration.pcap.test_replay_refserver import _frame_indexes
from tests.integration.refserver.harness import running, server_config
from wire.rtp import RtpPacket
from wire.rtsp import RtpInfo

PCAPS = Path(__file__).resolve().parents[3] / "pcaps"


def dropped_by(name: str, profile: LinkProfile, count: int) -> set[int]:
    """The places, among ``count`` packets of the flow ``name``, that its link loses."""
    link = Link(name, profile)
    return {i for i in range(count) if not link.process(b"\x80" + bytes(11), 0.0)}


@pytest.fixture(scope="module")
def capture(make_test_sample: SampleFactory) -> CameraCapture:
    return camera_capture(load(make_test_sample()), transport="udp", seconds=3)


@pytest.fixture(scope="module")
def captured(capture: CameraCapture, tmp_path_factory: pytest.TempPathFactory) -> CapturedCamera:
    path = write_capture(tmp_path_factory.mktemp("capture") / "camera.pcapng", capture.packets)
    return load_camera(path, speed=2)


def _frame_of_each_packet(capture: CameraCapture) -> list[int]:
    """The captured video frame (counted from 0) each captured video RTP packet belongs to."""
    video = capture.streams[0]
    stamps = [RtpPacket.parse(capture.packets[i][1][28:]).timestamp for i in video.packet_indexes]
    frames, current = [], -1
    for index, stamp in enumerate(stamps):
        if index == 0 or stamp != stamps[index - 1]:
            current += 1
        frames.append(current)
    return frames


def test_a_camera_behind_the_proxy_loses_exactly_the_seeded_packets_and_frames(
    capture: CameraCapture, captured: CapturedCamera
) -> None:
    seed, faults = 11, parse_faults(["down_loss=20%"])
    count = capture.streams[0].packets
    frame_of = _frame_of_each_packet(capture)

    async def run() -> tuple[int, set[int], int, int]:
        proxied = await start_camera_behind_proxy(captured, faults, seed=seed, port=0)
        ports = await open_udp_ports()
        try:
            # Clients are given the proxy, not the camera.
            assert f":{proxied.proxy.address[1]}/" in proxied.url
            assert proxied.replay.server.port != proxied.proxy.address[1]
            async with RtspTestClient(proxied.url) as client:
                await client.describe()
                answer = await client.setup("trackID=0", ports.transport())
                assert transport_of(answer).server_port is not None
                play = await client.play()
                info = play.response.headers.get("RTP-Info")
                assert info is not None
                first = RtpInfo.parse(info).entries[0].seq
                assert first is not None
                assert proxied.proxy.rtsp is not None
                video = proxied.proxy.rtsp.channels[0]  # the first SETUP's RTP
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 30
                places: set[int] = set()
                stats = video.down.stats
                # Until the proxy has taken every packet and the client read all it let through.
                while loop.time() < deadline and (
                    stats.packets < count or len(places) < stats.packets - stats.lost
                ):
                    with contextlib.suppress(TimeoutError):
                        data = await asyncio.wait_for(ports.rtp.get(), 0.1)
                        places.add((RtpPacket.parse(data).sequence_number - first) & 0xFFFF)
                await asyncio.sleep(0.2)  # nothing more comes
                while not ports.rtp.empty():
                    packet = RtpPacket.parse(ports.rtp.get_nowait())
                    places.add((packet.sequence_number - first) & 0xFFFF)
                return first, places, stats.packets, stats.lost
        finally:
            ports.close()
            await proxied.close()

    _, received, through, lost = asyncio.run(run())
    predicted = dropped_by(f"{seed}/rtp/0/down", faults.down, count)
    assert 0 < len(predicted) < count
    # Every packet the camera sent went through the proxy, which counted what it dropped...
    assert through == count
    assert lost == len(predicted)
    # ...and the client got exactly the others: the seeded model's losses, no more, no fewer.
    assert received == set(range(count)) - predicted
    damaged = {frame_of[i] for i in predicted}
    incomplete = {frame_of[i] for i in range(count) if i not in received}
    assert incomplete == damaged
    assert 0 < len(damaged) < frame_of[-1] + 1


def test_the_command_prints_the_proxy_url_and_the_faults() -> None:
    capture_file = PCAPS / "camsim-camera-udp-loss.pcapng"
    args = ["replay", str(capture_file), "--as", "camera", "--port", "0", "--duration", "0.5"]
    args += ["--fault", "loss=5%", "--fault", "down_delay=20ms", "--fault-seed", "7"]
    result = CliRunner().invoke(pcap, args)
    assert result.exit_code == 0, result.output
    assert "through the fault proxy (rtsp): up_loss=0.05, down_loss=0.05, down_delay=0.02" in (
        result.output
    )
    assert "seed 7" in result.output
    assert "rtsp://127.0.0.1:" in result.output


def _handshake_gap(capture: Path, server_port: int) -> float:
    """Seconds between the server's first bytes (S0+S1+S2) and the client's next ones (C2),
    read from the server's own capture: one round trip as the server saw it."""
    decoder = PacketDecoder()
    sent_at: float | None = None
    with CaptureFile.open(capture) as file:
        for time_, link_type, offset, length in file.records():
            segment = decoder.decode(link_type, file.buffer, offset, length, 0)
            if segment is None or segment[0] != IPPROTO_TCP or segment[6] == segment[7]:
                continue
            from_server = segment[2] == server_port
            if from_server and sent_at is None:
                sent_at = time_
            elif not from_server and sent_at is not None:
                return time_ - sent_at
    raise AssertionError("no handshake in the capture")


def test_a_push_through_a_delaying_proxy_still_publishes_and_the_delay_shows(
    tmp_path: Path,
) -> None:
    delay = 0.25
    served = tmp_path / "refserver.pcapng"
    config = dataclasses.replace(server_config(tmp_path), capture=served)
    with running(config) as server:
        url = f"rtmp://127.0.0.1:{server.rtmp_port}/live/replayed"
        args = ["replay", str(PCAPS / "ffmpeg-rtmp-publish.pcapng"), url, "--as", "push"]
        args += ["--speed", "4", "--fault", f"delay={delay}s"]
        result = CliRunner().invoke(pcap, args)
        assert result.exit_code == 0, result.output
        server.wait_for(lambda: not server.api("replayed")["live"], what="the stream to end")
        stream = server.api("replayed")
        port = server.rtmp_port
    assert "through the fault proxy (tcp)" in result.output
    assert "90 video and 283 audio frames" in result.output
    assert stream["frames"] == {"video": 90, "audio": 283}  # every frame, through the delay
    # The server's answer reached the pusher, and the pusher's reply the server, each a delay
    # later: the round trip the server saw holds both.
    assert _handshake_gap(served, port) >= 2 * delay


def test_raw_through_the_proxy_delivers_the_datagrams_the_seeded_loss_kept(
    make_test_sample: SampleFactory, tmp_path: Path
) -> None:
    capture = camera_capture(load(make_test_sample()), transport="udp", seconds=2.0)
    path = write_capture(tmp_path / "camera.pcapng", capture.packets)
    datagrams = load_datagrams(path, speed=2)
    deltas = {d.port_delta for d in datagrams}
    assert len(deltas) >= 2  # video and audio RTP at least: a proxy for each
    base, sockets = _bind_layout(deltas)
    seed = 5
    received: dict[int, list[bytes]] = {delta: [] for delta in sockets}
    try:
        args = ["replay", str(path), "--as", "raw", "--to", f"127.0.0.1:{base}", "--speed", "2"]
        args += ["--fault", "loss=30%", "--fault-seed", str(seed)]
        result = CliRunner().invoke(pcap, args)
        assert result.exit_code == 0, result.output
        for delta, sock in sockets.items():
            while True:
                try:
                    received[delta].append(sock.recv(65536))
                except BlockingIOError:
                    break
    finally:
        for sock in sockets.values():
            sock.close()
    profile = FaultConfig().changed(loss=0.3).up
    lost = 0
    for delta, payloads in received.items():
        sent = [d.payload for d in datagrams if d.port_delta == delta]
        # Each port has a proxy of its own, seeded seed + offset; the sender is its one client.
        dropped = dropped_by(f"{seed + delta}/udp/0/up", profile, len(sent))
        assert payloads == [p for i, p in enumerate(sent) if i not in dropped]
        lost += len(dropped)
    assert 0 < lost < len(datagrams)
    assert f"sent {len(datagrams)} datagrams, {lost} lost in the fault proxy" in result.output


def test_raw_through_the_proxy_refuses_a_destination_off_this_machine() -> None:
    capture = PCAPS / "camsim-camera-udp-loss.pcapng"
    args = ["replay", str(capture), "--as", "raw", "--to", "192.0.2.1:5004", "--fault", "loss=1%"]
    result = CliRunner().invoke(pcap, args)
    assert result.exit_code == 1
    assert "must be loopback" in result.output


@pytest.mark.slow
def test_refserver_pulls_a_camera_behind_a_delaying_proxy_over_udp_frame_for_frame(
    make_test_sample: SampleFactory, tmp_path: Path
) -> None:
    sample = load(make_test_sample(gop_seconds=Fraction(1)))
    capture = camera_capture(sample, transport="udp")
    captured = load_camera(write_capture(tmp_path / "camera.pcapng", capture.packets))
    expected = [u.frame_index for u in sample.video_units]
    with running_proxied_replay(captured, {"delay": "50ms"}, seed=2) as proxied:
        # A long media timeout: the camera says BYE at the end, and a reconnect plays it again.
        source = SourceConfig("door", proxied.url, PullTransport.UDP, media_timeout=60.0)
        config = server_config(
            tmp_path, sources=(source,), hls=HlsOptions(target_duration=1.0, window=10)
        )
        with running(config) as server:
            server.wait_for(
                lambda: server.api("door")["frames"]["video"] >= len(expected),
                timeout=30,
                what=f"{len(expected)} video frames",
            )
            hls_dir = server.hls_dir / "door"
        assert proxied.proxy.rtsp is not None
        _, down = proxied.proxy.rtsp.totals()
    # The media crossed the proxy over UDP (not interleaved), and every frame reached the HLS.
    assert down.packets >= capture.streams[0].packets
    assert down.lost == 0
    segments = sorted(hls_dir.glob("*.ts"), key=lambda p: int(p.stem.removeprefix("segment")))
    assert _frame_indexes(segments) == expected
