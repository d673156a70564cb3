"""A capture of a known stream, impaired, inspects to exactly the impairments made.

The stream is a camsim sample played as a camera session (:mod:`camsim.pcap.synth`), so every
packet, frame and keyframe is known. Packets are then dropped, swapped and duplicated (UDP), or
TCP segments dropped, split, retransmitted and delivered out of order (RTSP interleaved): the
losses ``inspect`` reports must be exactly those made, and nothing else may change.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camsim.media.loader import load
from camsim.pcap import impair
from camsim.pcap.inspect import InspectResult, inspect_capture
from camsim.pcap.output import to_json
from camsim.pcap.rtp import RtpStreamReport
from camsim.pcap.synth import CameraCapture, camera_capture, write_capture
from tests.conftest import SampleFactory
from wire import pcapng


@pytest.fixture(scope="module")
def sample_path(make_test_sample: SampleFactory) -> Path:
    return make_test_sample()


@pytest.fixture(scope="module")
def udp_capture(sample_path: Path) -> CameraCapture:
    return camera_capture(load(sample_path), transport="udp")


@pytest.fixture(scope="module")
def tcp_capture(sample_path: Path) -> CameraCapture:
    return camera_capture(load(sample_path), transport="tcp")


def _inspect(packets: list[impair.Packet], folder: Path, name: str) -> InspectResult:
    return inspect_capture(write_capture(folder / name, packets))


def _stream(result: InspectResult, ssrc: int) -> RtpStreamReport:
    (stream,) = [s for s in result.rtp_streams if s.ssrc == ssrc]
    return stream


@pytest.mark.parametrize("transport", ["udp", "tcp", "http"])
def test_an_unimpaired_capture_inspects_to_what_was_sent(
    sample_path: Path, tmp_path: Path, transport: str
) -> None:
    capture = camera_capture(load(sample_path), transport=transport, seconds=12)
    result = _inspect(capture.packets, tmp_path, f"{transport}.pcapng")
    assert len(result.rtp_streams) == 2
    for truth in capture.streams:
        stream = _stream(result, truth.ssrc)
        assert stream.setup is not None
        assert stream.media.media == truth.media
        assert stream.media.clock_rate == truth.clock_rate
        assert (stream.packets, stream.expected, stream.lost, stream.missing) == (
            truth.packets,
            truth.packets,
            0,
            0,
        )
        assert (stream.duplicated, stream.reordered) == (0, 0)
        assert stream.frames == truth.frames
        assert stream.keyframes == truth.keyframes
        assert stream.first_sequence == truth.first_sequence
        assert stream.sender_reports == truth.sender_reports
        assert stream.clock_drift_sr == pytest.approx(0, abs=1e-6)
    assert not [f for f in result.findings if f.severity != "info"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_udp_loss_reordering_and_duplicates_are_counted_exactly(
    udp_capture: CameraCapture, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    video, audio = udp_capture.streams
    # Losses after the last packet received cannot show in sequence numbers: keep both ends.
    interior = video.packet_indexes[1:-1]
    dropped = data.draw(st.sets(st.sampled_from(interior), max_size=30), label="dropped")
    order = [i for i in range(len(udp_capture.packets)) if i not in dropped]
    is_video = set(video.packet_indexes)
    # RFC 3550 counts from the first packet received: keep the first one first.
    pairs = [
        p
        for p in range(len(order) - 1)
        if order[p] in is_video and order[p + 1] in is_video and order[p] != video.packet_indexes[0]
    ]
    swaps = sorted(data.draw(st.sets(st.sampled_from(pairs), max_size=10), label="swaps"))
    swapped: list[int] = []
    for position in swaps:
        if swapped and position <= swapped[-1] + 1:
            continue  # pairs must not share a packet
        order[position], order[position + 1] = order[position + 1], order[position]
        swapped.append(position)
    videos_in_order = [p for p, i in enumerate(order) if i in is_video]
    duplicates = data.draw(st.sets(st.sampled_from(videos_in_order), max_size=5), label="dups")
    arrival = []
    for position, index in enumerate(order):
        arrival.append(udp_capture.packets[index])
        if position in duplicates:
            arrival.append(udp_capture.packets[index])

    result = _inspect(arrival, tmp_path_factory.mktemp("udp"), "impaired.pcapng")
    stream = _stream(result, video.ssrc)
    assert stream.missing == len(dropped)
    assert stream.lost == len(dropped) - len(duplicates)  # RFC 3550 A.3 counts duplicates
    assert stream.reordered == len(swapped)
    assert stream.duplicated == len(duplicates)
    assert stream.packets == video.packets - len(dropped) + len(duplicates)
    lost_sequences = sorted(
        (video.first_sequence + video.packet_indexes.index(i)) & 0xFFFF for i in dropped
    )
    runs = [(run.first_sequence + k) & 0xFFFF for run in stream.loss_runs for k in range(run.count)]
    assert sorted(runs) == lost_sequences
    untouched = _stream(result, audio.ssrc)
    assert (untouched.missing, untouched.reordered, untouched.duplicated) == (0, 0, 0)
    codes = {f.code for f in result.findings}
    assert ("rtp-loss" in codes) == bool(dropped)
    assert ("rtp-reordered" in codes) == bool(swapped)
    assert ("rtp-duplicates" in codes) == bool(duplicates)


def _tcp_payload(packet: bytes) -> bytes:
    fields = impair.tcp_fields(packet)
    assert fields is not None
    return fields[7]


def _from_server(capture: CameraCapture, index: int) -> bool:
    fields = impair.tcp_fields(capture.packets[index][1])
    return fields is not None and bool(fields[7]) and fields[1] == 554


def _media_segments(capture: CameraCapture, channel: int) -> list[int]:
    """Indexes of the server's TCP segments that carry exactly one frame of ``channel``."""
    found = []
    for index, (_, packet) in enumerate(capture.packets):
        fields = impair.tcp_fields(packet)
        if fields is None:
            continue
        payload = fields[7]
        if len(payload) > 4 and payload[0] == 0x24 and payload[1] == channel:
            (length,) = struct.unpack_from("!H", payload, 2)
            if len(payload) == 4 + length:
                found.append(index)
    return found


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_tcp_segments_split_retransmitted_reordered_and_lost(
    tcp_capture: CameraCapture, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    video, audio = tcp_capture.streams
    segments = _media_segments(tcp_capture, video.channel)
    assert len(segments) == video.packets  # one RTP packet per segment: MSS 1460
    interior = segments[1:-1]
    dropped = data.draw(st.sets(st.sampled_from(interior), max_size=8), label="dropped")
    kept = [i for i in interior if i not in dropped]
    split = data.draw(st.sets(st.sampled_from(kept), max_size=10), label="split")
    resent = data.draw(st.sets(st.sampled_from(kept), max_size=10), label="resent")
    late = data.draw(st.sets(st.sampled_from(kept), max_size=5), label="late")

    packets: list[impair.Packet] = []
    held: list[impair.Packet] = []
    for index, (time, packet) in enumerate(tcp_capture.packets):
        if index in dropped:
            continue
        if index in split:
            length = len(_tcp_payload(packet))
            pieces = impair.split_segment([(time, packet)], 0, max(1, length // 3))
        else:
            pieces = [(time, packet)]
        if index in late:
            held += pieces  # delivered after the next segment: out of order
            continue
        packets += pieces
        packets += held
        held = []
        if index in resent:
            packets.append((time, packet))
    packets += held

    result = _inspect(packets, tmp_path_factory.mktemp("tcp"), "impaired.pcapng")
    stream = _stream(result, video.ssrc)
    assert stream.missing == len(dropped)
    assert stream.packets == video.packets - len(dropped)
    assert (stream.duplicated, stream.reordered) == (0, 0)
    other = _stream(result, audio.ssrc)
    assert (other.packets, other.missing) == (audio.packets, 0)
    (connection,) = result.connections
    # Segments dropped back to back make one hole.
    server = [i for i in range(len(tcp_capture.packets)) if _from_server(tcp_capture, i)]
    runs = sum(
        1 for p, i in enumerate(server) if i in dropped and (p == 0 or server[p - 1] not in dropped)
    )
    assert len(connection.holes) == runs
    missing_bytes = sum(len(_tcp_payload(tcp_capture.packets[i][1])) for i in dropped)
    assert sum(hole.size for _, hole in connection.holes) == missing_bytes
    assert connection.retransmissions >= len(resent - late)
    assert not [m for d in result.dialogs for m in d.malformed]


def test_the_fast_path_and_the_general_path_agree(
    udp_capture: CameraCapture, tmp_path: Path
) -> None:
    """Raw IP takes the inline path of Inspector.read; the same packets behind a Linux cooked
    header all go the general way. Both must say the same, impairments included."""
    video = udp_capture.streams[0]
    packets = impair.drop(udp_capture.packets, video.packet_indexes[5:40:3])
    packets = impair.duplicate(packets, video.packet_indexes[50], later=3)
    packets = impair.swap(packets, video.packet_indexes[60])
    fast = _inspect(packets, tmp_path, "raw.pcapng")
    cooked = tmp_path / "sll.pcapng"
    with cooked.open("wb") as file:
        file.write(pcapng.file_header(link_type=113))
        for time, packet in packets:
            sll = struct.pack("!HHH8sH", 0, 1, 6, bytes(8), 0x0800)
            file.write(pcapng.enhanced_packet(time, sll + packet))
    general = inspect_capture(cooked)
    assert general.link_types == [113]
    one, two = to_json(fast), to_json(general)
    assert one["rtp_streams"] == two["rtp_streams"]
    assert one["findings"] == two["findings"]
    assert one["udp"] == two["udp"]
    assert [s["missing"] for s in one["rtp_streams"]] == [12, 0]
