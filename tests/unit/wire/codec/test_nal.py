from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.registry import cpu_limit
from wire.codec.bits import BitReader, BitWriter, escape_rbsp, unescape_rbsp
from wire.codec.errors import CodecError
from wire.codec.nal import (
    VideoCodec,
    has_irap,
    is_irap,
    is_vcl,
    join_annexb,
    join_length_prefixed,
    split_annexb,
    split_length_prefixed,
)

# NAL units never start with a zero byte (forbidden_zero_bit + nal_ref_idc/type) and never end
# with one (rbsp_trailing_bits), which is what makes Annex B framing unambiguous.
nal_units = st.binary(min_size=1, max_size=64).map(lambda b: b"\x41" + escape_rbsp(b) + b"\x80")


def test_split_annexb_mixed_start_codes() -> None:
    data = b"\x00\x00\x00\x01\x67\x42\x00\x00\x01\x68\xce\x00\x00\x00\x01\x65\x88"
    assert split_annexb(data) == [b"\x67\x42", b"\x68\xce", b"\x65\x88"]


def test_split_annexb_drops_trailing_zero_bytes() -> None:
    assert split_annexb(b"\x00\x00\x01\x09\xf0\x00\x00\x00\x00\x00\x01\x65") == [
        b"\x09\xf0",
        b"\x65",
    ]


def test_split_annexb_rejects_leading_garbage() -> None:
    with pytest.raises(CodecError, match=r"^Annex B: 2 bytes of data before the first start code$"):
        split_annexb(b"\x12\x34\x00\x00\x01\x65")
    with pytest.raises(CodecError, match=r"^Annex B: no start code found$"):
        split_annexb(b"\x65\x88\x84")


def test_split_length_prefixed_errors_are_precise() -> None:
    with pytest.raises(CodecError, match=r"NAL unit of 9 bytes at offset 4 overruns the sample"):
        split_length_prefixed(b"\x00\x00\x00\x09\x65\x88")
    with pytest.raises(CodecError, match=r"2 bytes left at offset 6, too few for a 4-byte length"):
        split_length_prefixed(b"\x00\x00\x00\x02\x65\x88\x00\x00")
    with pytest.raises(CodecError, match=r"zero-length NAL unit at offset 4"):
        split_length_prefixed(b"\x00\x00\x00\x00")
    with pytest.raises(CodecError, match=r"unsupported length size 3"):
        split_length_prefixed(b"", 3)


@given(st.lists(nal_units, max_size=8))
def test_annexb_round_trip(nalus: list[bytes]) -> None:
    assert split_annexb(join_annexb(nalus)) == nalus


@given(st.lists(nal_units, max_size=8), st.sampled_from([1, 2, 4]))
def test_length_prefixed_round_trip(nalus: list[bytes], size: int) -> None:
    fitting = [n for n in nalus if len(n) < 1 << (8 * size)]
    assert split_length_prefixed(join_length_prefixed(fitting, size), size) == fitting


@given(st.binary(max_size=200))
def test_any_bytes_split_or_raise_codec_error(data: bytes) -> None:
    for split in (split_annexb, split_length_prefixed):
        with contextlib.suppress(CodecError):
            split(data)


def test_vcl_and_irap_classification() -> None:
    assert is_vcl(VideoCodec.H264, b"\x65")
    assert is_irap(VideoCodec.H264, b"\x65")
    assert is_vcl(VideoCodec.H264, b"\x41")
    assert not is_irap(VideoCodec.H264, b"\x41")
    assert not is_vcl(VideoCodec.H264, b"\x67")
    assert is_irap(VideoCodec.H265, b"\x26\x01")  # IDR_W_RADL
    assert is_irap(VideoCodec.H265, b"\x2a\x01")  # CRA
    assert not is_vcl(VideoCodec.H265, b"\x40\x01")  # VPS
    with pytest.raises(CodecError, match="shorter than its 2-byte header"):
        is_vcl(VideoCodec.H265, b"\x26")


@given(st.sampled_from(list(VideoCodec)), st.lists(st.binary(min_size=2, max_size=4), max_size=6))
def test_has_irap_is_is_irap_over_a_picture(codec: VideoCodec, nalus: list[bytes]) -> None:
    assert has_irap(codec, nalus) == any(is_irap(codec, nal) for nal in nalus)
    assert has_irap(codec, [b"", *nalus, b""]) == has_irap(codec, nalus)  # empty units skipped


def test_has_irap_raises_for_a_unit_shorter_than_the_h265_header() -> None:
    assert has_irap(VideoCodec.H264, [b"\x41", b"\x65"])
    assert not has_irap(VideoCodec.H264, [b"\x67", b"\x41"])
    with pytest.raises(CodecError, match="shorter than its 2-byte header"):
        has_irap(VideoCodec.H265, [b"\x26"])


@given(st.binary(max_size=100))
def test_escape_round_trip_and_no_start_code_emulation(data: bytes) -> None:
    escaped = escape_rbsp(data)
    assert unescape_rbsp(escaped) == data
    for marker in (b"\x00\x00\x00", b"\x00\x00\x01", b"\x00\x00\x02"):
        assert marker not in escaped


@given(
    st.lists(st.integers(0, 100_000), max_size=20), st.lists(st.integers(-5000, 5000), max_size=20)
)
def test_exp_golomb_round_trip(unsigned: list[int], signed: list[int]) -> None:
    writer = BitWriter()
    for value in unsigned:
        writer.ue(value)
    for value in signed:
        writer.se(value)
    reader = BitReader(writer.to_bytes(), "test")
    assert [reader.ue("u") for _ in unsigned] == unsigned
    assert [reader.se("s") for _ in signed] == signed


def test_bit_reader_truncation_names_the_field() -> None:
    reader = BitReader(b"\xff", "SPS")
    reader.u(6, "a")
    with pytest.raises(CodecError, match=r"^SPS: truncated while reading level_idc$"):
        reader.u(8, "level_idc")
    with pytest.raises(CodecError, match=r"^PPS: Exp-Golomb code too long in pic_id$"):
        BitReader(b"\x00" * 8, "PPS").ue("pic_id")


fields = st.lists(
    st.integers(0, 70).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, (1 << n) - 1))),
    max_size=30,
)


@given(fields)
def test_bit_writer_and_reader_agree_with_a_bit_string(values: list[tuple[int, int]]) -> None:
    """Fields of any width at any bit offset: the bytes are the fields' bits end to end."""
    writer = BitWriter()
    for n, value in values:
        writer.u(n, value)
    bits = "".join(f"{value:0{n}b}" if n else "" for n, value in values)
    bits += "0" * (-len(bits) % 8)
    data = writer.to_bytes()
    assert data == (int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b"")
    reader = BitReader(data, "test")
    assert [reader.u(n, "field") for n, _ in values] == [value for _, value in values]
    assert reader.bits_left == len(bits) - sum(n for n, _ in values)


def test_long_fields_take_linear_time() -> None:
    # Found by fuzzing (a slow hvcC target): reading or writing a field bit by bit cost O(n^2),
    # seconds for the 64 kB NAL units of an hvcC and minutes for a 1 MB AudioSpecificConfig.
    data = bytes(range(256)) * 4096  # 1 MiB
    with cpu_limit(1.0):
        reader = BitReader(b"\xff" + data, "test")
        assert reader.u(3, "head") == 7
        value = reader.u(8 * len(data), "payload")
        writer = BitWriter()
        writer.u(3, 7)
        writer.u(8 * len(data), value)
        written = writer.to_bytes()
    assert reader.bits_left == 5
    assert value == int.from_bytes(b"\xff" + data, "big") >> 5 & ((1 << 8 * len(data)) - 1)
    assert written[:-1] == (b"\xff" + data)[:-1]
    assert written[-1] == (b"\xff" + data)[-1] & 0xE0


def test_bit_widths_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot read -1 bits"):
        BitReader(b"\x00", "test").u(-1, "field")
    with pytest.raises(ValueError, match="8 does not fit in 3 bits"):
        BitWriter().u(3, 8)
    assert BitReader(b"", "test").u(0, "field") == 0
