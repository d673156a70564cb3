"""Parameter sets, decoder configuration records, AAC configs, ADTS, NAL framing and the SEI
stamp readers: a value or a CodecError, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.known_crashes import params, run_property
from tests.fuzz.strategies import FUZZ_SETTINGS, check_every_truncation
from tests.fuzz.targets import TARGETS, check
from wire.codec.bits import escape_rbsp
from wire.codec.nal import VideoCodec, join_annexb, join_length_prefixed
from wire.codec.stamp import read_stamp_annexb, stamp_sei_nal

NAMES = [
    "h264_sps",
    "h264_pps",
    "h265_vps",
    "h265_sps",
    "h265_pps",
    "avcc",
    "hvcc",
    "aac_asc",
    "adts",
    "nal_split",
    "sei_stamp",
]


@pytest.mark.parametrize("name", NAMES)
def test_seeds_are_accepted(name):
    for seed in TARGETS[name].seeds():
        TARGETS[name].run(seed)


@pytest.mark.parametrize("name", params(NAMES))
@FUZZ_SETTINGS
@given(data=st.data())
def test_any_input_gives_a_value_or_the_documented_error(name, data):
    run_property(name, data)


@pytest.mark.parametrize("name", NAMES)
def test_every_truncation_of_a_valid_input(name):
    assert check_every_truncation(name) > 0


@pytest.mark.parametrize("name", ["h264_sps", "h265_sps", "h265_vps"])
@FUZZ_SETTINGS
@given(data=st.data())
def test_parameter_sets_with_an_escaped_rbsp_change(name, data):
    """Change the RBSP, not the escaped bytes: the damage reaches the fields, not the framing."""
    from wire.codec.bits import unescape_rbsp

    nal = data.draw(st.sampled_from(TARGETS[name].seeds()))
    header = 1 if name.startswith("h264") else 2
    rbsp = bytearray(unescape_rbsp(nal[header:]))
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(rbsp) - 1))
        rbsp[position] = data.draw(st.sampled_from([0x00, 0xFF, 0x80, 0x01, rbsp[position] ^ 0x10]))
    check(name, nal[:header] + escape_rbsp(bytes(rbsp)))


@FUZZ_SETTINGS
@given(
    codec=st.sampled_from(VideoCodec),
    frame_index=st.integers(0, (1 << 35) - 1),
    wallclock=st.integers(0, (1 << 70) - 1),
    junk=st.binary(max_size=32),
)
def test_a_stamp_among_junk_nal_units_is_found(codec, frame_index, wallclock, junk):
    sei = stamp_sei_nal(codec, frame_index, wallclock)
    for data in (join_annexb([junk, sei]), join_length_prefixed([sei, junk])):
        check("sei_stamp", data)
    stamp = read_stamp_annexb(codec, join_annexb([sei]))
    assert stamp is not None
    assert (stamp.frame_index, stamp.wallclock_us) == (frame_index, wallclock)
