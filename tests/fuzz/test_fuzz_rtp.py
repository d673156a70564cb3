"""RTP and RTCP from the network: a packet or an RtpError, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.known_crashes import params, run_property
from tests.fuzz.strategies import FUZZ_SETTINGS, check_every_truncation
from tests.fuzz.targets import TARGETS, check
from wire.rtp import RtpError, RtpPacket, parse_compound
from wire.rtp.packet import HeaderExtension

NAMES = ["rtp_packet", "rtcp_compound", "rtp_jitter_and_stats", "rtp_timeline_and_dts"]


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


@FUZZ_SETTINGS
@given(
    payload_type=st.integers(0, 127),
    seq=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=64),
    csrc=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15),
    extension=st.none()
    | st.builds(
        HeaderExtension,
        st.integers(0, 0xFFFF),
        st.binary(max_size=8).map(lambda b: b + bytes(-len(b) % 4)),
    ),
    padding=st.integers(0, 255),
    cut=st.integers(0, 2000),
)
def test_a_valid_packet_truncated_anywhere(
    payload_type, seq, timestamp, ssrc, payload, csrc, extension, padding, cut
):
    packet = RtpPacket(
        payload_type,
        seq,
        timestamp,
        ssrc,
        payload,
        csrc=csrc,
        extension=extension,
        padding_size=padding,
    )
    data = packet.serialize()
    assert RtpPacket.parse(data) == packet
    header = 12 + 4 * len(csrc) + (0 if extension is None else 4 + len(extension.data))
    if cut < header:
        # Cut inside the header: an error. Cut in the payload or padding, the packet may still
        # be valid (a shorter payload), which the check below accepts either way.
        with pytest.raises(RtpError):
            RtpPacket.parse(data[:cut])
    check("rtp_packet", data[:cut])


@FUZZ_SETTINGS
@given(
    st.lists(st.sampled_from(TARGETS["rtcp_compound"].seeds()), min_size=1, max_size=4), st.data()
)
def test_compound_rtcp_with_one_length_field_changed(packets, data):
    compound = bytearray(b"".join(packets))
    # Every RTCP header's length word sits at offset 2 of a 4-byte-aligned header.
    offset = data.draw(st.integers(0, len(compound) // 4 - 1)) * 4 + 2
    compound[offset : offset + 2] = data.draw(st.integers(0, 0xFFFF)).to_bytes(2, "big")
    check("rtcp_compound", bytes(compound))
    if compound == b"".join(packets):  # the same length written back: still valid
        assert parse_compound(bytes(compound))
