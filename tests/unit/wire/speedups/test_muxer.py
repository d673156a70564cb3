"""wire.ts._muxer against the pure TS muxer of wire.ts.muxer: same bytes, same counters, same
exceptions, for well-formed access units and audio batches and for odd ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.speedups.conftest import compiled
from wire.codec.aac import AudioSpecificConfig
from wire.codec.nal import VideoCodec
from wire.ts import PesPacket, TsDemuxer, TsMuxer
from wire.ts import muxer as pure
from wire.ts.muxer import AUD_NAL, PID_AUDIO, PID_VIDEO

TS = 188
MODULUS = 1 << 33

# Real parameter sets (H.264 from tests/unit/wire/test_mpegts.py) and H.265 NAL headers.
SPS = bytes.fromhex("6764000cacb40a0fd080000003008000000f078a1550")
PPS = bytes.fromhex("68ef3cb0")
VPS265 = bytes([0x40, 0x01, 0x0C])
SPS265 = bytes([0x42, 0x01, 0x01])
PPS265 = bytes([0x44, 0x01, 0xC1])
PARAMETER_SETS = {VideoCodec.H264: (SPS, PPS), VideoCodec.H265: (VPS265, SPS265, PPS265)}
# A NAL unit header of each kind a picture carries: slice, IDR, SEI.
HEADERS = {
    VideoCodec.H264: [b"\x41", b"\x65", b"\x06"],
    VideoCodec.H265: [b"\x02\x01", b"\x26\x01", b"\x4e\x01"],
}
ASCS = [
    AudioSpecificConfig.create(48000, 2),
    AudioSpecificConfig.create(44100, 1),
    AudioSpecificConfig.create(8000, 6),
]
NOT_ADTS = AudioSpecificConfig(23, 3, 48000, 2)  # ER AAC LD: no ADTS profile for it


@pytest.fixture(scope="module")
def ext() -> ModuleType:
    return compiled("wire.ts._muxer")


def outcome(function: Callable[..., Any], *args: Any) -> Any:
    """What a call returns, or the type and message of what it raises."""
    try:
        return function(*args)
    except Exception as exc:  # every kind: the two must agree on all of them
        return type(exc), str(exc)


def same(reference: Callable[..., Any], fast: Callable[..., Any], *args: Any) -> Any:
    expected = outcome(reference, *args)
    assert outcome(fast, *args) == expected
    return expected


def same_fresh(
    reference: Callable[..., Any], fast: Callable[..., Any], make: Callable[[], tuple[Any, ...]]
) -> None:
    """``same`` with the arguments made anew for each call (a generator is read once)."""
    assert outcome(fast, *make()) == outcome(reference, *make())


# -- strategies --------------------------------------------------------------------------------

# 90 kHz stamps: ordinary, around the 33-bit wrap and the PCR delay, negative and past 64 bits.
timestamps = st.one_of(
    st.integers(0, 2 * MODULUS),
    st.sampled_from([0, 1, 8999, 9000, 9001, MODULUS - 1, MODULUS, MODULUS + 9000, 2**64 + 3]),
    st.integers(-(2**70), 2**70),
)
previous_counters = st.integers(-1, 15)  # the PID's counter before, -1: no packet yet


def boundary_sizes(header: int = 0) -> st.SearchStrategy[int]:
    """PES sizes on either side of where packets split: the first packet holds 176 bytes with a
    PCR, 182 with the random access flag alone, 184 with neither; every other one 184."""
    near = st.builds(
        lambda first, k, delta: max(header, first + 184 * k + delta),
        st.sampled_from([176, 182, 184]),
        st.integers(0, 4),
        st.integers(-2, 2),
    )
    return st.one_of(near, st.integers(header, 3000))


@st.composite
def access_units(draw: st.DrawFn) -> tuple[Any, ...]:
    """The arguments of video_packets: a picture's NAL units (empty ones, an AUD first or not,
    parameter sets in it or not, a last unit sized so that the PES ends near a packet edge) and
    the muxer's parameter sets, stamps, keyframe flag and previous counter."""
    codec = draw(st.sampled_from(list(VideoCodec)))
    headers = HEADERS[codec]
    nal = st.builds(lambda h, body: h + body, st.sampled_from(headers), st.binary(max_size=300))
    units = draw(
        st.lists(
            st.one_of(
                nal,
                st.just(b""),
                st.sampled_from(PARAMETER_SETS[codec]),
                st.binary(min_size=2, max_size=40),
            ),
            max_size=6,
        )
    )
    if draw(st.booleans()):
        units.insert(0, AUD_NAL[codec])
    parameter_sets = tuple(
        draw(st.lists(st.sampled_from(PARAMETER_SETS[codec]), max_size=4, unique=True))
    )
    pts = draw(timestamps)
    dts = draw(st.sampled_from([pts, pts - 3003, pts + MODULUS, pts - 1]))
    keyframe = draw(st.booleans())
    # Pad with a slice so that the PES is one of the boundary sizes when it can be.
    base = len(pure._complete(codec, parameter_sets, units, keyframe))
    joined = sum(4 + len(n) for n in pure._complete(codec, parameter_sets, units, keyframe))
    header = 9 + (5 if dts == pts else 10)
    size = draw(boundary_sizes())
    pad = size - header - joined - 4 - len(headers[0])
    if base and pad >= 0:
        units.append(headers[0] + draw(st.binary(min_size=pad, max_size=pad)))
    return codec, parameter_sets, units, pts, dts, keyframe, draw(previous_counters)


@st.composite
def audio_batches(draw: st.DrawFn) -> tuple[Any, ...]:
    """The arguments of audio_packets: a batch of raw AAC frames (none to a dozen, the last sized
    so that the PES ends near a packet edge), stamp, whether it carries the PCR, counter."""
    raws = draw(st.lists(st.binary(max_size=400), max_size=12))
    size = draw(boundary_sizes())
    pad = size - 14 - sum(7 + len(r) for r in raws) - 7
    if pad >= 0:
        raws.append(draw(st.binary(min_size=pad, max_size=pad)))
    asc = draw(st.sampled_from(ASCS))
    return asc, raws, draw(timestamps), draw(st.booleans()), draw(previous_counters)


# -- differential properties -------------------------------------------------------------------


@settings(max_examples=400)
@given(
    pid=st.one_of(st.sampled_from([0, PID_VIDEO, PID_AUDIO, 0x1FFF]), st.integers(0, 0x1FFF)),
    pes=boundary_sizes().flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    previous=previous_counters,
    pcr=st.one_of(st.none(), st.integers(0, 300 * 2 * MODULUS), st.integers(-(2**66), 2**66)),
    random_access=st.booleans(),
)
def test_packetize_matches(ext, pid, pes, previous, pcr, random_access):
    data, _ = same(pure._packetize_py, ext.packetize, pid, pes, previous, pcr, random_access)
    assert len(data) % TS == 0


@settings(max_examples=500)
@given(access_units())
def test_video_packets_match(ext, args):
    same(pure._video_packets_py, ext.video_packets, *args)


@settings(max_examples=300)
@given(audio_batches())
def test_audio_packets_match(ext, args):
    same(pure._audio_packets_py, ext.audio_packets, *args)


@settings(max_examples=200)
@given(
    codec=st.sampled_from(list(VideoCodec)),
    nalus=st.lists(st.binary(max_size=200), max_size=5),
    parameter_sets=st.lists(st.binary(max_size=8), max_size=4).map(tuple),
    pts=timestamps,
    keyframe=st.booleans(),
    previous=previous_counters,
)
def test_arbitrary_nal_units_match(ext, codec, nalus, parameter_sets, pts, keyframe, previous):
    """Any bytes as NAL units and parameter sets, too short for a header included."""
    args = (codec, parameter_sets, nalus, pts, pts, keyframe, previous)
    same(pure._video_packets_py, ext.video_packets, *args)


@contextmanager
def implementation(video: Callable[..., Any], audio: Callable[..., Any]) -> Iterator[None]:
    with (
        mock.patch.object(pure, "video_packets", video),
        mock.patch.object(pure, "audio_packets", audio),
    ):
        yield


@settings(max_examples=60)
@given(
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("video"), access_units()),
            st.tuples(st.just("audio"), audio_batches()),
            st.tuples(st.just("segment"), st.none()),
        ),
        max_size=25,
    ),
    with_video=st.booleans(),
)
def test_a_muxer_writes_the_same_stream(ext, steps, with_video):
    """Calls spread over segments through TsMuxer: the counters carry over the same way."""
    codec = VideoCodec.H264 if with_video else None
    streams = []
    for video, audio in (
        (pure._video_packets_py, pure._audio_packets_py),
        (ext.video_packets, ext.audio_packets),
    ):
        muxer = TsMuxer(codec, ASCS[0], PARAMETER_SETS[VideoCodec.H264])
        out = []
        with implementation(video, audio):
            for kind, args in steps:
                if kind == "segment":
                    out.append(muxer.tables())
                elif kind == "audio":
                    out.append(outcome(muxer.audio_frames, args[1], args[2]))
                elif with_video and args[0] is VideoCodec.H264:
                    out.append(outcome(muxer.video_access_unit, *args[2:6]))
        streams.append((out, muxer._counters))
    assert streams[0] == streams[1]


# -- the edges, one by one ---------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 175, 176, 177, 181, 182, 183, 184, 185, 360, 361, 368])
@pytest.mark.parametrize("previous", range(-1, 16))
@pytest.mark.parametrize(
    ("pcr", "random_access"), [(None, False), (None, True), (27_000_000, True)]
)
def test_packetize_at_every_counter_and_edge(ext, size, previous, pcr, random_access):
    pes = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    data, last = same(
        pure._packetize_py, ext.packetize, PID_VIDEO, pes, previous, pcr, random_access
    )
    counters = [data[i + 3] & 0x0F for i in range(0, len(data), TS)]
    assert counters[0] == (previous + 1) & 0x0F
    assert counters[-1] == last


H265_AUD = AUD_NAL[VideoCodec.H265]
ODD_VIDEO = {
    "h265 one-byte first unit": (VideoCodec.H265, (), [b"\x02"], 0, 0, False, 0),
    "h265 one-byte unit in a keyframe": (VideoCodec.H265, (), [H265_AUD, b"\x26"], 0, 0, True, 0),
    "h265 one-byte unit elsewhere": (VideoCodec.H265, (), [b"\x02\x01", b"\x26"], 0, 0, False, 0),
    "empty h264 parameter set": (VideoCodec.H264, (b"",), [b"\x65"], 0, 0, True, 0),
    "short h265 parameter set": (VideoCodec.H265, (b"\x40",), [b"\x26\x01"], 0, 0, True, 0),
    "no dts": (VideoCodec.H264, (), [b"\x65"], 0, None, True, 0),
    "a dts without a pts": (VideoCodec.H264, (), [b"\x65"], None, 0, True, 0),
    "float stamps": (VideoCodec.H264, (), [b"\x65"], 1.5, 1.5, True, 0),
    "bool stamps": (VideoCodec.H264, (), [b"\x65"], True, False, True, True),
    "a bytearray unit": (VideoCodec.H264, (), [bytearray(b"\x65\x01")], 0, 0, True, 0),
    "a memoryview unit": (VideoCodec.H264, (), [memoryview(b"\x41\x01")], 0, 0, False, 0),
    "a str unit": (VideoCodec.H264, (), ["x"], 0, 0, False, 0),
    "units from a generator": lambda: (VideoCodec.H264, (), iter([b"\x65"]), 0, 0, True, 0),
    "the codec as its string": ("h264", (), [b"\x09\xf0", b"\x65"], 0, 0, True, 0),
    "no codec": (None, (), [b"\x65"], 0, 0, True, 0),
    "a keyframe flag of 1": (VideoCodec.H264, (SPS,), [b"\x65"], 0, 0, 1, 0),
    "a huge previous counter": (VideoCodec.H264, (), [b"\x65"], 0, 0, True, 2**70),
}


@pytest.mark.parametrize("args", ODD_VIDEO.values(), ids=ODD_VIDEO.keys())
def test_odd_access_units_match(ext, args):
    make = args if callable(args) else lambda: args
    same_fresh(pure._video_packets_py, ext.video_packets, make)


ODD_AUDIO = {
    "a frame ADTS cannot count": (ASCS[0], [b"", bytes(8185)], 0, False, 0),
    "a frame at the ADTS limit": (ASCS[0], [bytes(8184)], 0, False, 0),
    "a PES over 65535 bytes": (ASCS[0], [bytes(8000)] * 9, 0, False, 0),
    "a PES of 65535 bytes": (
        ASCS[0],
        [bytes(8000)] * 8 + [bytes(65535 - 8 - 8 * 8007 - 7)],
        0,
        False,
        0,
    ),
    "not an ADTS object type": (NOT_ADTS, [b"\x01"], 0, False, 0),
    "not an ADTS object type, no frames": (NOT_ADTS, [], 0, True, 0),
    "no pts with a pcr": (ASCS[0], [b"\x01"], None, True, 0),
    "no pts without a pcr": (ASCS[0], [b"\x01"], None, False, 0),
    "a bytearray frame": (ASCS[0], [b"\x01", bytearray(b"\x02")], 0, True, 0),
    "frames from a generator": lambda: (ASCS[0], iter([b"\x01"]), 0, True, 0),
    "not a config": (None, [b"\x01"], 0, True, 0),
}


@pytest.mark.parametrize("args", ODD_AUDIO.values(), ids=ODD_AUDIO.keys())
def test_odd_audio_batches_match(ext, args):
    make = args if callable(args) else lambda: args
    same_fresh(pure._audio_packets_py, ext.audio_packets, make)


ODD_PACKETIZE = {
    "a bytearray PES": (PID_VIDEO, bytearray(200), 0, None, False),
    "a memoryview PES": (PID_VIDEO, memoryview(bytes(200)), 0, None, False),
    "a PID past 13 bits": (0x2100, bytes(200), 0, None, False),
    "a negative PID": (-1, bytes(200), 0, None, False),
    "a float PCR": (PID_VIDEO, bytes(200), 0, 1.5, True),
    "a PCR extension": (PID_VIDEO, bytes(200), 0, 300 * 5 + 299, True),
    "a random access flag of 1": (PID_VIDEO, bytes(200), 0, None, 1),
    "a str PES": (PID_VIDEO, "x", 0, None, False),
}


@pytest.mark.parametrize("args", ODD_PACKETIZE.values(), ids=ODD_PACKETIZE.keys())
def test_odd_packetize_arguments_match(ext, args):
    same(pure._packetize_py, ext.packetize, *args)


def test_well_formed_input_never_reaches_the_reference(ext):
    """The fast path is what the properties compare: an ordinary picture, audio batch or PES is
    written by the compiled code itself, not handed back to the pure functions."""

    def refuse(*args: object) -> object:
        raise AssertionError("handed to the pure reference")

    with mock.patch.multiple(
        pure, _video_packets_py=refuse, _audio_packets_py=refuse, _packetize_py=refuse
    ):
        for codec in VideoCodec:
            units = [AUD_NAL[codec], b"", HEADERS[codec][1] + bytes(500)]
            ext.video_packets(codec, PARAMETER_SETS[codec], units, 2**40, 2**40 - 3003, True, 15)
            ext.video_packets(codec, (), (HEADERS[codec][0],), 0, 0, False, -1)
        ext.audio_packets(ASCS[0], [bytes(300)] * 5, 90000, True, 3)
        ext.audio_packets(ASCS[1], (), 0, False, -1)
        ext.packetize(PID_AUDIO, bytes(1000), 7, None, False)
        ext.packetize(PID_VIDEO, b"", 7, 2**60, True)


def test_the_packets_demux_to_the_access_unit(ext):
    """Not only equal to the reference: a demuxer reads the picture back."""
    units = [SPS, PPS, b"\x65" + bytes(range(256)) * 3]
    data, _ = ext.video_packets(VideoCodec.H264, (), units, MODULUS + 5, 2, True, -1)
    demuxer = TsDemuxer()
    muxer = TsMuxer(VideoCodec.H264, None)
    pes = [unit.pes for unit in demuxer.feed(muxer.tables() + data)] + [
        unit.pes for unit in demuxer.flush()
    ]
    assert pes == [
        PesPacket(
            0xE0,
            b"".join(b"\x00\x00\x00\x01" + n for n in [AUD_NAL[VideoCodec.H264], *units]),
            5,
            2,
            data_alignment=True,
            bounded=False,
        )
    ]
