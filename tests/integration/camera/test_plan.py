"""The pieces under the server, without sockets: packet plans, pacing, transport choice, sinks."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

import pytest

from camsim.camera.plan import DEFAULT_MAX_PAYLOAD_SIZE, build_plan, packetize_video
from camsim.camera.quirks import resolve
from camsim.camera.scheduler import PacingStats, Scheduler
from camsim.camera.sender import InterleavedSink, RtpSender
from camsim.camera.session import choose_transport
from camsim.media.loader import MediaKind, load
from wire.codec.stamp import STAMP_UUID
from wire.payload import AacDepacketizer, AudioAccessUnit, H264Depacketizer, VideoAccessUnit
from wire.rtp import RTP_HEADER_SIZE, RtpPacket
from wire.rtsp import PortRange, Transport
from wire.sdp import SessionDescription, aac_media, camera_session, h265_media


def test_plan_carries_every_unit_once_with_sets_before_keyframes(sample: Path) -> None:
    loaded = load(sample)
    assert loaded.video is not None
    plan = build_plan(loaded)
    assert [t.kind for t in plan.tracks] == [MediaKind.VIDEO, MediaKind.AUDIO]
    assert plan.period == Fraction(4)
    assert plan.tracks[0].period_ticks == 4 * 90000
    assert plan.tracks[1].period_ticks == 4 * 48000
    offsets = [b.offset for b in plan.bursts]
    assert offsets == sorted(offsets)
    video = H264Depacketizer()
    audio = AacDepacketizer()
    units: list[VideoAccessUnit] = []
    frames: list[AudioAccessUnit] = []
    sequence = 0
    for burst in plan.bursts:
        for planned in burst.packets:
            assert len(planned.data) <= DEFAULT_MAX_PAYLOAD_SIZE + RTP_HEADER_SIZE
            packet = RtpPacket.parse(planned.data)
            packet.sequence_number = sequence
            packet.timestamp = burst.ticks
            sequence += 1
            if burst.track == 0:
                units += [e for e in video.receive(packet) if isinstance(e, VideoAccessUnit)]
            else:
                frames += [e for e in audio.receive(packet) if isinstance(e, AudioAccessUnit)]
            if planned.stamp_offset >= 0:
                offset = planned.stamp_offset
                assert planned.data[offset : offset + len(STAMP_UUID)] == STAMP_UUID
    units += [e for e in video.flush() if isinstance(e, VideoAccessUnit)]
    expected = [
        (list(loaded.video.parameter_sets) if u.keyframe else []) + list(u.nalus)
        for u in loaded.video_units
    ]
    assert [list(u.nal_units) for u in units] == expected
    kept = [u.data for u in loaded.audio_units if u.pts + u.duration <= 4 * 48000]
    assert [bytes(f.data) for f in frames] == kept
    assert all(b.stamped for b in plan.bursts if b.track == 0)


def test_plan_positions(sample: Path) -> None:
    plan = build_plan(load(sample))
    keyframes = [i for i, b in enumerate(plan.bursts) if b.keyframe and b.track == 0]
    assert keyframes[0] == 0
    assert plan.first_of_track(1, 0, keyframe=True) == keyframes[1] - 1
    # Past the last keyframe the search wraps to the next loop's first burst.
    last = len(plan.bursts) - 1
    assert plan.first_of_track(last, 0, keyframe=True) == 1
    assert plan.index_at(0.0) == 0
    assert plan.index_at(plan.period_seconds) == len(plan.bursts)
    assert plan.bitrate > 300_000


def test_quirky_packetizer_plans(sample: Path) -> None:
    loaded = load(sample)
    quirks = resolve(["no-marker", "oversized-nal"])
    plan = build_plan(
        loaded,
        max_payload_size=quirks.max_payload_size(DEFAULT_MAX_PAYLOAD_SIZE),
        video_packetizer=quirks.packetizer(packetize_video),
    )
    assert quirks.plan_key == ("no-marker", "oversized-nal")
    video = [RtpPacket.parse(p.data) for b in plan.bursts if b.track == 0 for p in b.packets]
    assert not any(p.marker for p in video)
    assert max(len(p.payload) for p in video) > 1500


def test_pacing_statistics() -> None:
    stats = PacingStats(late_after=0.010)
    for _ in range(98):
        stats.record(0.0004, 3)
    stats.record(0.004, 5)
    stats.record(0.050, 7)
    assert stats.bursts == 100
    assert stats.packets == 98 * 3 + 12
    assert stats.late_packets == 7
    assert stats.percentile(0.5) == pytest.approx(0.0005)
    assert stats.percentile(0.99) == pytest.approx(0.0041)
    assert stats.max_error == 0.050
    stats.reset()
    assert (stats.bursts, stats.late_packets, stats.percentile(0.99)) == (0, 0, 0.0)


def test_scheduler_runs_tasks_in_due_order() -> None:
    class Ticker:
        def __init__(self, name: str, period: float, count: int, log: list[str]) -> None:
            self.name, self.period, self.count, self.log = name, period, count, log

        def run(self, due: float) -> float | None:
            self.log.append(self.name)
            self.count -= 1
            return due + self.period if self.count else None

    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        log: list[str] = []
        scheduler = Scheduler(loop)
        start = loop.time() + 0.01
        scheduler.schedule(Ticker("a", 0.03, 3, log), start)
        scheduler.schedule(Ticker("b", 0.03, 3, log), start + 0.015)
        cancelled = Ticker("c", 0.01, 5, log)
        scheduler.schedule(cancelled, start)
        scheduler.cancel(cancelled)
        await asyncio.sleep(0.2)
        assert len(scheduler) == 0
        return log

    assert asyncio.run(scenario()) == ["a", "b", "a", "b", "a", "b"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("RTP/AVP/TCP;unicast;interleaved=4-5", "RTP/AVP/TCP;unicast;interleaved=4-5"),
        ("RTP/AVP/TCP;unicast", "RTP/AVP/TCP;unicast;interleaved=2-3"),
        ("RTP/AVP;interleaved=6", "RTP/AVP/TCP;unicast;interleaved=6-7"),
        ("RTP/AVP;unicast;client_port=5000-5001", "RTP/AVP;unicast;client_port=5000-5001"),
        ("RTP/AVP/UDP;unicast;client_port=5000", "RTP/AVP;unicast;client_port=5000-5001"),
        ("RTP/AVP;multicast", None),
        ("RTP/SAVP;unicast;client_port=5000-5001", None),
        ("RTP/AVP;unicast;client_port=0-1", None),
        ("RTP/AVP/TCP;unicast;interleaved=255", None),
        ("RTP/AVP;unicast;client_port=5000-5001;mode=RECORD", None),
    ],
)
def test_transport_choice(header: str, expected: str | None) -> None:
    class FakeUdp:
        server_port = PortRange(7000, 7001)

    chosen = choose_transport(Transport.parse(header), 1, FakeUdp())  # type: ignore[arg-type]
    if expected is None:
        assert chosen is None
        return
    assert chosen is not None
    text = chosen.serialize()
    if chosen.client_port is not None:
        assert text == expected + ";server_port=7000-7001"
    else:
        assert text == expected


def test_udp_needs_the_shared_sockets() -> None:
    header = Transport.parse("RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP;interleaved=0-1")
    chosen = choose_transport(header, 0, None)
    assert chosen is not None
    assert chosen.interleaved == PortRange(0, 1)


class FakeTransport(asyncio.WriteTransport):
    def __init__(self, buffered: int) -> None:
        super().__init__()
        self.buffered = buffered
        self.written: list[bytes] = []

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))


def test_interleaved_sink_frames_and_drops_when_the_client_lags() -> None:
    transport = FakeTransport(0)
    sink = InterleavedSink(transport, 2, 3, max_buffered=1000)
    sender = RtpSender(
        0, 90000, 0xABCDEF01, sink, first_sequence=65535, timestamp_offset=10, cname="x"
    )
    head = 0x8060  # version 2, no marker, payload type 96
    wire = ((head, b"\x01\x02"), (head | 0x80, memoryview(b"\x03")))
    assert sender.deliver(wire, 90000, due=0.0, octets=3) == 2
    (written,) = transport.written
    assert written[:4] == b"$\x02\x00\x0e"
    first = RtpPacket.parse(written[4:18])
    second = RtpPacket.parse(written[22:])
    assert (first.sequence_number, first.timestamp, first.ssrc) == (65535, 90010, 0xABCDEF01)
    assert (second.sequence_number, second.payload, second.marker) == (0, b"\x03", True)
    assert (sender.packet_count, sender.octet_count) == (2, 3)
    transport.buffered = 1001
    assert sender.deliver(wire, 93000, due=0.1, octets=3) == 0
    assert sink.dropped == 2
    assert sender.sequence == 1  # dropped bursts leave no gap in the numbering
    assert len(transport.written) == 1


def test_sdp_quirks_edit_h265_and_audio_untouched() -> None:
    media = [
        h265_media(96, b"\x40\x01\x0c", b"\x42\x01\x01", b"\x44\x01\xc1", control="trackID=0"),
        aac_media(97, b"\x11\x90", 48000, 2, control="trackID=1"),
    ]
    for name, expected in (
        ("no-sprop", set()),
        ("sprop-missing-pps", {"sprop-vps", "sprop-sps"}),
    ):
        sdp = camera_session(list(media), session_id=1)
        sdp = SessionDescription.parse(sdp.serialize())
        resolve([name]).edit_sdp(sdp)
        parsed = SessionDescription.parse(sdp.serialize())
        assert {k for k in parsed.media[0].fmtp(96) if k.startswith("sprop")} == expected
        assert parsed.media[1].fmtp(97)["config"] == "1190"
