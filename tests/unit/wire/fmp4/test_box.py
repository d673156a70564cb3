from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.codec.aac import AudioSpecificConfig
from wire.fmp4 import Box, Fmp4Error, box, full_box, walk
from wire.fmp4.init import descriptor, esds


def test_box_exact_bytes():
    assert box(b"free") == bytes.fromhex("00000008") + b"free"
    assert box(b"mdat", b"\x01\x02", b"\x03") == bytes.fromhex("0000000b") + b"mdat\x01\x02\x03"


def test_full_box_exact_bytes():
    assert full_box(b"stts", 0, 0, bytes(4)) == bytes.fromhex("00000010") + b"stts" + bytes(8)
    assert full_box(b"tfhd", 0, 0x020000, bytes.fromhex("00000001")) == (
        bytes.fromhex("00000010") + b"tfhd" + bytes.fromhex("00020000 00000001")
    )
    assert full_box(b"tfdt", 1, 0, (90000).to_bytes(8, "big"))[8:12] == b"\x01\x00\x00\x00"


def test_box_rejects_bad_type_and_fields():
    with pytest.raises(Fmp4Error, match=r"box type b'abc' is not four characters"):
        box(b"abc")
    with pytest.raises(Fmp4Error, match=r"version 256 or flags 0x0 out of range"):
        full_box(b"tfdt", 256, 0)


def test_walk_round_trip_and_children():
    inner = box(b"mvhd", b"abc") + full_box(b"trex", 0, 1, b"x")
    data = box(b"moov", inner) + box(b"free")
    boxes = list(walk(data))
    assert [b.kind for b in boxes] == ["moov", "free"]
    assert [c.kind for c in boxes[0].children()] == ["mvhd", "trex"]
    assert boxes[0].child("trex").full_header() == (0, 1, b"x")
    with pytest.raises(Fmp4Error, match=r"^box moov has no trak box$"):
        boxes[0].child("trak")


def test_walk_largesize_and_size_zero():
    large = (1).to_bytes(4, "big") + b"mdat" + (20).to_bytes(8, "big") + b"abcd"
    assert list(walk(large)) == [Box("mdat", b"abcd")]
    to_end = bytes(4) + b"mdat" + b"rest"
    assert list(walk(to_end)) == [Box("mdat", b"rest")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00\x00", "box header at offset 0: 3 of 8 bytes"),
        (bytes.fromhex("00000010") + b"free", "box free at offset 0: size 16, only 8 bytes left"),
        (bytes.fromhex("00000004") + b"free", "box free at offset 0: size 4 is below its header"),
        (
            bytes.fromhex("00000001") + b"mdat" + bytes(4),
            "box mdat at offset 0: largesize truncated",
        ),
    ],
)
def test_walk_truncations(data: bytes, message: str):
    with pytest.raises(Fmp4Error) as info:
        list(walk(data))
    assert str(info.value) == message


def test_walk_every_prefix_and_trailing_data():
    data = box(b"moof", box(b"mfhd", bytes(8))) + box(b"mdat", b"xyz")
    for end in range(len(data)):
        if end in (0, 24):
            assert len(list(walk(data[:end]))) == end // 24
            continue
        with pytest.raises(Fmp4Error):
            list(walk(data[:end]))
    with pytest.raises(Fmp4Error, match=r"^box header at offset 35: 1 of 8 bytes$"):
        list(walk(data + b"\x00"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_walk_any_bytes(data: bytes):
    try:
        boxes = list(walk(data))
    except Fmp4Error:
        return
    assert sum(len(b.payload) for b in boxes) <= len(data)


def test_descriptor_size_uses_the_expandable_form():
    assert descriptor(5, b"\x11\x90") == bytes.fromhex("05021190")
    # 200 = 1 * 128 + 72: two size bytes, the first with its high bit set (14496-1 §8.3.3).
    assert descriptor(5, bytes(200))[:3] == bytes.fromhex("058148")


def test_esds_exact_bytes():
    asc = AudioSpecificConfig.create(48000, 2)
    assert asc.serialize() == bytes.fromhex("1190")
    assert esds(asc) == bytes.fromhex(
        "00000027"
        "65736473"
        "00000000"  # size 39, esds, version and flags
        "0319"
        "0000"
        "00"  # ES_Descriptor, 25 bytes: ES_ID 0, flags 0
        "0411"
        "40"
        "15"
        "000000"
        "00000000"
        "00000000"  # DecoderConfigDescriptor, AAC audio
        "0502"
        "1190"  # DecoderSpecificInfo: the AudioSpecificConfig
        "0601"
        "02"  # SLConfigDescriptor: predefined MP4
    )
