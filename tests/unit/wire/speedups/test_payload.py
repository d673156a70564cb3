"""wire.payload._video and wire.payload._aac against the pure-Python depacketizing: the same NAL
units, fragments, access units, losses and discards, and the same errors, for well-formed
streams packetized at any size, damaged ones and arbitrary bytes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.speedups.conftest import compiled
from wire.codec.nal import VideoCodec
from wire.payload import (
    AudioAccessUnit,
    PacketLoss,
    PayloadDiscarded,
    PayloadEvent,
    VideoAccessUnit,
    packetize_aac,
    packetize_h264,
    packetize_h265,
)
from wire.payload.aac import PyAacDepacketizer, _parse_aac_payload_py
from wire.payload.h264 import _parse_h264_payload_py
from wire.payload.h265 import _parse_h265_payload_py
from wire.payload.video import (
    NalPiece,
    PyNalDepacketizer,
    _parse_aggregation_py,
    _split_embedded_start_codes_py,
)
from wire.rtp import RtpPacket


@pytest.fixture(scope="module")
def video() -> ModuleType:
    return compiled("wire.payload._video")


@pytest.fixture(scope="module")
def aac() -> ModuleType:
    return compiled("wire.payload._aac")


def outcome(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[str, object]:
    """What a call returned (with the types of the parts), or what it raised."""
    try:
        result = function(*args, **kwargs)
    except Exception as exc:  # any exception: its type and message are compared
        return "raised", (type(exc), str(exc))
    if isinstance(result, list):
        return "returned", [(type(item), item) for item in result]
    return "returned", result


def same(compiled_function: Callable[..., Any], reference: Callable[..., Any], *args: Any) -> None:
    assert outcome(compiled_function, *args) == outcome(reference, *args)


# -- payload parsers -------------------------------------------------------------------------------

START_CODES = st.sampled_from([b"\x00\x00\x01", b"\x00\x00\x00\x01", b"\x00", b"\x00\x00"])
payload_bytes = st.lists(st.binary(max_size=12) | START_CODES, max_size=10).map(b"".join)


@settings(max_examples=1000)
@given(st.integers(0, 255), st.integers(0, 255), payload_bytes)
def test_parse_h264_payload(video: ModuleType, first: int, second: int, rest: bytes) -> None:
    for payload in (b"", bytes([first]), bytes([first, second]) + rest, rest):
        same(video.parse_h264_payload, _parse_h264_payload_py, payload)


@settings(max_examples=1000)
@given(st.integers(0, 255), st.integers(0, 255), payload_bytes)
def test_parse_h265_payload(video: ModuleType, first: int, second: int, rest: bytes) -> None:
    for payload in (b"", bytes([first]), bytes([first, second]) + rest, rest):
        same(video.parse_h265_payload, _parse_h265_payload_py, payload)


@settings(max_examples=500)
@given(st.lists(st.binary(min_size=1, max_size=20), min_size=1, max_size=5), st.data())
def test_parse_aggregation(video: ModuleType, nals: list[bytes], data: st.DataObject) -> None:
    header_size = data.draw(st.sampled_from([1, 2]))
    payload = b"\x18" * header_size + b"".join(len(n).to_bytes(2, "big") + n for n in nals)
    cut = data.draw(st.integers(0, len(payload)))
    name = data.draw(st.sampled_from(["H.264 STAP-A", "H.265 AP"]))
    for damaged in (payload, payload[:cut], payload[:cut] + data.draw(st.binary(max_size=4))):
        same(video.parse_aggregation, _parse_aggregation_py, damaged, header_size, name)


@settings(max_examples=1000)
@given(payload_bytes)
def test_split_embedded_start_codes(video: ModuleType, nal: bytes) -> None:
    same(video.split_embedded_start_codes, _split_embedded_start_codes_py, nal)


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_other_buffers_go_to_the_reference(video: ModuleType, kind: Callable[[bytes], Any]) -> None:
    for payload in (b"\x7c\x85abc", b"\x18\x00\x02\x41\x42", b"\x00\x00\x01\x41"):
        assert outcome(video.parse_h264_payload, kind(payload)) == outcome(
            _parse_h264_payload_py, kind(payload)
        )


# -- depacketizers ---------------------------------------------------------------------------------

H264_HEADERS = [0x67, 0x68, 0x06, 0x65, 0x41, 0x01, 0x09]
H265_HEADERS = [b"\x40\x01", b"\x42\x01", b"\x44\x01", b"\x26\x01", b"\x02\x01", b"\x2a\x01"]


def depacketizers(
    video: ModuleType, codec: VideoCodec, max_size: int, *, direct: bool = True
) -> tuple[Any, Any]:
    """The pure and the compiled depacketizer of ``codec``. ``direct``: the compiled one has
    the compiled parser itself as ``parse_payload``, as the codec modules define it, and takes
    fragmentation units without the parser; otherwise every payload goes through the parser."""
    h264 = codec is VideoCodec.H264
    parse_py = _parse_h264_payload_py if h264 else _parse_h265_payload_py
    parse_c = video.parse_h264_payload if h264 else video.parse_h265_payload

    class Pure(PyNalDepacketizer):
        def parse_payload(self, payload: bytes) -> list[NalPiece]:
            return parse_py(payload)

    class Compiled(video.NalDepacketizer):  # type: ignore[misc, name-defined]
        parse_payload = staticmethod(parse_c)

    class ThroughParser(video.NalDepacketizer):  # type: ignore[misc, name-defined]
        def parse_payload(self, payload: bytes) -> list[NalPiece]:
            return parse_c(payload)  # type: ignore[no-any-return]

    chosen = Compiled if direct else ThroughParser
    for kind in (Pure, chosen):
        kind.codec, kind.header_size = codec, 1 if h264 else 2
    return Pure(max_access_unit_size=max_size), chosen(max_access_unit_size=max_size)


@st.composite
def nal_units(draw: st.DrawFn, codec: VideoCodec) -> bytes:
    if codec is VideoCodec.H264:
        header = bytes([draw(st.sampled_from(H264_HEADERS) | st.integers(0, 255))])
    else:
        header = draw(st.sampled_from(H265_HEADERS) | st.binary(min_size=2, max_size=2))
    body = draw(st.binary(min_size=1, max_size=300) | payload_bytes.filter(bool))
    return header + body


@st.composite
def streams(draw: st.DrawFn, codec: VideoCodec) -> list[RtpPacket]:
    """Access units packetized at any size, then lost, repeated, reordered or damaged."""
    max_payload = draw(st.integers(8, 400))
    seq = draw(st.integers(0, 0xFFFF))
    timestamp = draw(st.integers(0, 0xFFFF_FFFF))
    packets: list[RtpPacket] = []
    for _ in range(draw(st.integers(1, 6))):
        nals = draw(st.lists(nal_units(codec), min_size=1, max_size=4))
        if codec is VideoCodec.H264:
            payloads = packetize_h264(nals, max_payload)
        else:
            payloads = packetize_h265(nals, max_payload)
        no_marker = draw(st.booleans())  # senders that never set it: the timestamp ends a unit
        for payload in payloads:
            marker = payload.marker and not no_marker
            packets.append(RtpPacket(96, seq, timestamp, 1, payload.payload, marker))
            seq = (seq + 1) & 0xFFFF
        timestamp = (timestamp + draw(st.sampled_from([0, 3000, 0xFFFF_F000]))) & 0xFFFF_FFFF
    damaged: list[RtpPacket] = []
    for packet in packets:
        action = draw(st.sampled_from(["keep"] * 6 + ["drop", "repeat", "swap", "garble"]))
        if action == "drop":
            continue
        if action == "garble":
            packet = RtpPacket(96, packet.sequence_number, packet.timestamp, 1,
                               draw(payload_bytes), packet.marker)  # fmt: skip
        damaged.append(packet)
        if action == "repeat":
            damaged.append(packet)
        if action == "swap" and len(damaged) > 1:
            damaged[-1], damaged[-2] = damaged[-2], damaged[-1]
    return damaged


def events_of(depacketizer: Any, packets: Sequence[RtpPacket]) -> list[list[PayloadEvent]]:
    events = [depacketizer.receive(packet) for packet in packets]
    return [*events, depacketizer.flush()]


@pytest.mark.parametrize("codec", list(VideoCodec))
@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_depacketizers_emit_the_same_events(
    video: ModuleType, codec: VideoCodec, data: st.DataObject
) -> None:
    packets = data.draw(streams(codec))
    max_size = data.draw(st.sampled_from([8 * 1024 * 1024, 2000, 300, 40]))
    pure, fast = depacketizers(video, codec, max_size, direct=data.draw(st.booleans()))
    assert events_of(fast, packets) == events_of(pure, packets)
    pure.reset()
    fast.reset()
    assert events_of(fast, packets[::-1]) == events_of(pure, packets[::-1])


def test_the_codec_depacketizers_are_the_compiled_ones_when_built(video: ModuleType) -> None:
    from wire import speedups
    from wire.payload import H264Depacketizer, H265Depacketizer

    expected = PyNalDepacketizer if speedups.disabled() else video.NalDepacketizer
    assert issubclass(H264Depacketizer, expected)
    assert issubclass(H265Depacketizer, expected)


def test_a_fragmented_unit_over_the_limit_is_discarded_alike(video: ModuleType) -> None:
    idr = b"\x65" + bytes(range(1, 250)) * 4
    payloads = packetize_h264([b"\x67\x42\x00\x1e", idr, b"\x41\x9a"], 100)
    packets = [RtpPacket(96, i, 90000, 1, p.payload, p.marker) for i, p in enumerate(payloads)]
    pure, fast = depacketizers(video, VideoCodec.H264, 500)
    events = events_of(pure, packets)
    assert events_of(fast, packets) == events
    assert any("access unit exceeds 500 bytes" in repr(e) for step in events for e in step)


# -- AAC -------------------------------------------------------------------------------------------

LENGTHS = st.fixed_dictionaries(
    {
        "size_length": st.integers(0, 16),
        "index_length": st.integers(0, 4),
        "index_delta_length": st.integers(0, 4),
    }
)


@settings(max_examples=500)
@given(st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=8), st.integers(5, 700))
def test_aac_well_formed_payloads(aac: ModuleType, units: list[bytes], max_payload: int) -> None:
    for packet in packetize_aac(units, max_payload):
        same(aac.parse_aac_payload, _parse_aac_payload_py, packet.payload)


@settings(max_examples=1000)
@given(st.binary(max_size=40), LENGTHS)
def test_aac_arbitrary_payloads(aac: ModuleType, payload: bytes, lengths: dict[str, int]) -> None:
    assert outcome(aac.parse_aac_payload, payload, **lengths) == outcome(
        _parse_aac_payload_py, payload, **lengths
    )
    assert outcome(aac.parse_aac_payload, payload) == outcome(_parse_aac_payload_py, payload)


@settings(max_examples=500)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 7)), min_size=1, max_size=5),
       st.binary(max_size=120), LENGTHS)  # fmt: skip
def test_aac_headers_of_any_lengths(
    aac: ModuleType, headers: list[tuple[int, int]], data: bytes, lengths: dict[str, int]
) -> None:
    """AU headers written with the given field lengths, so that they mostly parse."""
    size_length, index_length = lengths["size_length"], lengths["index_length"]
    delta_length = lengths["index_delta_length"]
    bits = ""
    for i, (size, index) in enumerate(headers):
        second = index_length if i == 0 else delta_length
        bits += (
            format(size % (1 << size_length), f"0{size_length}b")[-size_length:]
            if size_length
            else ""
        )
        bits += format(index % (1 << second), f"0{second}b")[-second:] if second else ""
    padded = bits + "0" * (-len(bits) % 8)
    section = int(padded, 2).to_bytes(len(padded) // 8, "big") if padded else b""
    payload = len(bits).to_bytes(2, "big") + section + data
    assert outcome(aac.parse_aac_payload, payload, **lengths) == outcome(
        _parse_aac_payload_py, payload, **lengths
    )


@pytest.mark.parametrize(
    "lengths",
    [
        {"size_length": 40},
        {"size_length": -1},
        {"size_length": 0, "index_length": 0, "index_delta_length": 0},
        {"index_delta_length": 33},
    ],
)
def test_aac_lengths_beyond_the_fast_path_behave_as_the_reference(
    aac: ModuleType, lengths: dict[str, int]
) -> None:
    for payload in (b"\x00\x10\x00\x08abc", b"\x00\x28" + bytes(5) + b"x", b"\x00\x00"):
        assert outcome(aac.parse_aac_payload, payload, **lengths) == outcome(
            _parse_aac_payload_py, payload, **lengths
        )
        assert outcome(aac.parse_aac_payload, bytearray(payload)) == outcome(
            _parse_aac_payload_py, bytearray(payload)
        )


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("slack", [-1, 0, 1])
def test_a_unit_of_exactly_the_limit_is_kept_alike(
    video: ModuleType, slack: int, direct: bool
) -> None:
    idr = b"\x65" + bytes(range(1, 250)) * 4
    payloads = packetize_h264([idr], 100)
    packets = [RtpPacket(96, i, 90000, 1, p.payload, p.marker) for i, p in enumerate(payloads)]
    pure, fast = depacketizers(video, VideoCodec.H264, len(idr) + slack, direct=direct)
    events = events_of(pure, packets)
    assert events_of(fast, packets) == events
    kept = [e for step in events for e in step if isinstance(e, VideoAccessUnit)]
    assert len(kept) == (0 if slack < 0 else 1)


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("slack", [-1, 0, 1])
def test_a_fragment_reaching_the_limit_then_cut_off_is_judged_alike(
    video: ModuleType, slack: int, direct: bool
) -> None:
    """The limit is met by a middle fragment, and the unit's end never comes: the limit is
    judged on the fragment that crosses it, not on the unit's end."""
    idr = b"\x65" + bytes(range(1, 250)) * 4
    payloads = packetize_h264([idr], 100)
    held = 1 + sum(len(p.payload) - 2 for p in payloads[:3])  # the NAL header, three fragments
    packets = [RtpPacket(96, i, 90000, 1, p.payload, False) for i, p in enumerate(payloads[:3])]
    packets.append(RtpPacket(96, 3, 93000, 1, b"\x41\x9a", True))  # the next picture
    pure, fast = depacketizers(video, VideoCodec.H264, held + slack, direct=direct)
    events = events_of(pure, packets)
    assert events_of(fast, packets) == events
    discarded = [e.reason for step in events for e in step if isinstance(e, PayloadDiscarded)]
    assert ("access unit exceeds" in discarded[0]) == (slack < 0), discarded


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize(
    ("codec", "start", "short"),
    [
        (VideoCodec.H264, b"\x7c\x85\x01\x02", [b"\x7c", b"\x7c\x05", b"\x7c\x45"]),
        (VideoCodec.H265, b"\x62\x01\x93\x01", [b"\x62", b"\x62\x01", b"\x62\x01\x13"]),
    ],
)
def test_truncated_fragmentation_units_are_discarded_alike(
    video: ModuleType, codec: VideoCodec, start: bytes, short: list[bytes], direct: bool
) -> None:
    """A fragmentation unit cut inside or right after its headers, after a first fragment."""
    for cut in short:
        payloads = [start, cut, start, cut + b"\x03"]
        packets = [RtpPacket(96, i, 90000, 1, p, False) for i, p in enumerate(payloads)]
        pure, fast = depacketizers(video, codec, 1 << 20, direct=direct)
        assert events_of(fast, packets) == events_of(pure, packets)


# -- the AAC depacketizer --------------------------------------------------------------------------


@st.composite
def aac_streams(draw: st.DrawFn) -> list[RtpPacket]:
    """Access units packetized at any size (several to a packet, or one split over several),
    then lost, repeated, reordered, cut short, garbled, or given as a bytearray."""
    max_payload = draw(st.integers(5, 400))
    seq = draw(st.integers(0, 0xFFFF))
    timestamp = draw(st.integers(0, 0xFFFF_FFFF))
    packets: list[RtpPacket] = []
    for _ in range(draw(st.integers(1, 6))):
        units = draw(st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=4))
        for packetized in packetize_aac(units, max_payload):
            packets.append(RtpPacket(97, seq, timestamp, 1, packetized.payload, packetized.marker))
            seq = (seq + 1) & 0xFFFF
        step = draw(st.sampled_from([1024, 0, 2048, 0xFFFF_FC00]))
        timestamp = (timestamp + step) & 0xFFFF_FFFF
    damaged: list[RtpPacket] = []
    for packet in packets:
        actions = ["keep"] * 6 + ["drop", "repeat", "swap", "garble", "cut", "bytearray", "late"]
        action = draw(st.sampled_from(actions))
        if action == "drop":
            continue
        payload: Any = packet.payload
        if action == "garble":
            payload = draw(st.binary(max_size=30))
        elif action == "cut":
            payload = payload[: draw(st.integers(0, max(len(payload) - 1, 0)))]
        elif action == "bytearray":
            payload = bytearray(payload)
        marker = packet.marker if action != "late" else not packet.marker
        damaged.append(RtpPacket(97, packet.sequence_number, packet.timestamp, 1, payload, marker))
        if action == "repeat":
            damaged.append(damaged[-1])
        if action == "swap" and len(damaged) > 1:
            damaged[-1], damaged[-2] = damaged[-2], damaged[-1]
    return damaged


def aac_events(depacketizer: Any, packets: Sequence[RtpPacket]) -> list[tuple[str, Any]]:
    """Each packet's events with their types, or what receiving it raised."""
    return [outcome(depacketizer.receive, packet) for packet in packets]


@settings(max_examples=600, deadline=None)
@given(
    packets=aac_streams(),
    samples=st.sampled_from([1024, 960, 2048, 0]),
    lengths=st.sampled_from([{}, {"size_length": 13, "index_length": 3}]) | LENGTHS,
)
def test_aac_depacketizers_emit_the_same_events(
    aac: ModuleType, packets: list[RtpPacket], samples: int, lengths: dict[str, int]
) -> None:
    pure = PyAacDepacketizer(samples_per_frame=samples, **lengths)
    fast = aac.AacDepacketizer(samples_per_frame=samples, **lengths)
    assert aac_events(fast, packets) == aac_events(pure, packets)
    assert fast.samples_per_frame == pure.samples_per_frame
    pure.reset()
    fast.reset()
    assert aac_events(fast, packets[::-1]) == aac_events(pure, packets[::-1])


def test_aac_fragments_lost_repeated_and_resumed_alike(aac: ModuleType) -> None:
    """A unit over four packets: whole; with its middle lost (the rest is skipped, and the next
    unit comes whole); with a fragment repeated; with its last fragment missing the marker."""
    unit, after = bytes(range(256)) * 3, b"next unit"
    fragments = [p.payload for p in packetize_aac([unit], 200)]
    assert len(fragments) == 4
    whole = [RtpPacket(97, i, 5000, 1, f, i == 3) for i, f in enumerate(fragments)]
    tail = [RtpPacket(97, 4, 6024, 1, packetize_aac([after], 200)[0].payload, True)]
    for packets in (
        whole + tail,
        [whole[0], whole[2], whole[3], *tail],
        [whole[0], whole[1], whole[1], whole[2], whole[3], *tail],
        [*whole[:3], RtpPacket(97, 3, 5000, 1, fragments[3], False), *tail],
    ):
        events = aac_events(PyAacDepacketizer(), packets)
        assert aac_events(aac.AacDepacketizer(), packets) == events
        units = [e for kind, step in events if kind == "returned" for _, e in step]
        assert AudioAccessUnit(after, 6024) in units
    lost = aac_events(aac.AacDepacketizer(), [whole[0], whole[2], whole[3], *tail])
    skipped = PayloadDiscarded(5000, "fragmented access unit lost a fragment")
    assert ("returned", [(PacketLoss, PacketLoss(1, 2)), (PayloadDiscarded, skipped)]) in lost


def test_the_aac_depacketizer_is_the_compiled_one_when_built(aac: ModuleType) -> None:
    from wire import speedups
    from wire.payload import AacDepacketizer

    expected = PyAacDepacketizer if speedups.disabled() else aac.AacDepacketizer
    assert AacDepacketizer is expected
