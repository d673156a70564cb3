"""The compiled FLV tag parsers (``wire._flv``) against ``_parse_video_py`` and
``_parse_audio_py``, the pure :meth:`VideoTag.parse` and :meth:`AudioTag.parse`.

Both get the same bodies and must return equal tags (same class, same fields, field types
included) or raise the same exception (type and text): bodies the pure serializers wrote (every
legacy CodecID and SoundFormat, every frame and packet type, composition times across the signed
24-bit range, Enhanced RTMP tags), the same with bytes changed or cut short, and arbitrary bytes,
as ``bytes`` and as ``bytearray``, parsed as the tag classes and as a subclass.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.speedups.conftest import compiled
from wire import flv, speedups
from wire.flv import AudioTag, VideoTag, _parse_audio_py, _parse_video_py

Parser = Callable[[type, Any], Any]


class SubVideoTag(VideoTag):
    pass


class SubAudioTag(AudioTag):
    pass


@pytest.fixture(scope="module")
def ext() -> ModuleType:
    return compiled("wire._flv")


def outcome(parse: Parser, cls: type, data: Any) -> tuple[object, ...]:
    try:
        tag = parse(cls, data)
    except Exception as exc:  # any exception is part of the behaviour compared
        return ("raised", type(exc), str(exc))
    fields = {name: (type(value), value) for name, value in vars(tag).items()}
    hashed = hash(tag) if isinstance(tag.data, bytes) else None  # a bytearray is unhashable
    return ("returned", type(tag), fields, hashed)


def check(ext: ModuleType, data: bytes) -> None:
    for form in (bytes(data), bytearray(data)):
        for video in (VideoTag, SubVideoTag):
            expected = outcome(_parse_video_py, video, form)
            assert outcome(ext.parse_video, video, form) == expected, (video, form.hex())
        for audio in (AudioTag, SubAudioTag):
            expected = outcome(_parse_audio_py, audio, form)
            assert outcome(ext.parse_audio, audio, form) == expected, (audio, form.hex())


payloads = st.binary(max_size=24)


@st.composite
def video_bodies(draw: st.DrawFn) -> bytes:
    frame_type = draw(st.integers(1, 5))
    if draw(st.booleans()):
        codec_id = draw(st.sampled_from([7, 12, *range(16)]))
        packet_type = draw(st.integers(0, 2)) if codec_id in (7, 12) else None
        tag = VideoTag(
            frame_type,
            packet_type,
            draw(payloads),
            draw(st.integers(-0x800000, 0x7FFFFF)) if packet_type is not None else 0,
            codec_id=codec_id,
        )
    else:
        fourcc = draw(st.sampled_from(["avc1", "hvc1", "av01", "vp09"]))
        packet_type = draw(st.sampled_from([0, 1, 2, 3, 4, 5]))
        if frame_type == 5:
            packet_type = 4
        composition = draw(st.integers(-0x800000, 0x7FFFFF)) if packet_type == 1 else 0
        tag = VideoTag(frame_type, packet_type, draw(payloads), composition, fourcc=fourcc)
    return tag.serialize()


@st.composite
def audio_bodies(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return AudioTag(
            9, draw(payloads), 0, 0, 0, draw(st.sampled_from([0, 1, 2, 4])), "mp4a"
        ).serialize()
    # AAC most often: the only legacy format with a packet type.
    sound_format = draw(st.one_of(st.just(10), st.sampled_from([*range(9), *range(10, 16)])))
    return AudioTag(
        sound_format,
        draw(payloads),
        draw(st.integers(0, 3)),
        draw(st.integers(0, 1)),
        draw(st.integers(0, 1)),
        draw(st.integers(0, 1)) if sound_format == 10 else None,
    ).serialize()


bodies = st.one_of(video_bodies(), audio_bodies())


small_or_edge = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 0x7F, 0x80, 0xFF])
"""Header values at the edges of what the parsers accept: packet types, frame types, signs."""


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A written body with a header byte or two changed, cut short anywhere."""
    body = bytearray(draw(bodies))
    for _ in range(draw(st.integers(0, 2))):
        if body:
            # The first two bytes hold what the parsers check: change them most often.
            index = draw(
                st.one_of(st.integers(0, 1), st.integers(0, 8)).filter(lambda i: i < len(body))
            )
            body[index] = draw(st.one_of(st.integers(0, 255), small_or_edge))
    return bytes(body[: draw(st.integers(0, len(body)))])


@settings(max_examples=500, deadline=None)
@given(data=bodies)
def test_written_bodies(ext: ModuleType, data: bytes) -> None:
    check(ext, data)


@settings(max_examples=800, deadline=None)
@given(data=damaged())
def test_damaged_bodies(ext: ModuleType, data: bytes) -> None:
    check(ext, data)


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=12))
def test_arbitrary_bytes(ext: ModuleType, data: bytes) -> None:
    check(ext, data)


@pytest.mark.parametrize(
    "tail", [b"", b"\x00", b"\x00\x00\x00", b"\xff\xff\xfe", b"\x80\x00\x00NAL"]
)
def test_every_first_two_bytes(ext: ModuleType, tail: bytes) -> None:
    """Both parsers decide on the first two bytes (frame type and codec, AVCPacketType;
    SoundFormat, AACPacketType): every pair, before tails of each length that matters."""
    for first in range(256):
        short = bytes((first,))
        for data in (short, *(short + bytes((second,)) + tail for second in range(256))):
            assert outcome(ext.parse_video, VideoTag, data) == outcome(
                _parse_video_py, VideoTag, data
            ), data.hex()
            assert outcome(ext.parse_audio, AudioTag, data) == outcome(
                _parse_audio_py, AudioTag, data
            ), data.hex()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x17",  # AVC, too short for its header
        b"\x17\x00\x00\x00",
        b"\x17\x00\x00\x00\x00",  # AVC sequence header, no record
        b"\x27\x01\xff\xff\xff\x65",  # composition time -1
        b"\x27\x01\x80\x00\x00",  # the smallest composition time
        b"\x27\x01\x7f\xff\xff",  # the largest
        b"\x27\x03\x00\x00\x00",  # AVCPacketType 3
        b"\x07\x01\x00\x00\x00",  # frame type 0
        b"\x67\x01\x00\x00\x00",  # frame type 6
        b"\x1c\x01\x00\x00\x00\x26",  # CodecID 12 (HEVC before Enhanced RTMP)
        b"\x12\xab",  # Sorenson H.263: no packet type
        b"\x02",
        b"\x91avc1",  # enhanced
        b"\xaf",  # AAC, too short
        b"\xaf\x00\x12\x10",
        b"\xaf\x02",  # AACPacketType 2
        b"\x2f\xff\xfb",  # MP3
        b"\x90mp4a",
        b"\x97mp4a",
    ],
)
def test_targeted(ext: ModuleType, data: bytes) -> None:
    check(ext, data)


def test_selection() -> None:
    loaded = speedups.extension("wire._flv") is not None
    assert (flv._parse_video is not _parse_video_py) == loaded
    assert (flv._parse_audio is not _parse_audio_py) == loaded
