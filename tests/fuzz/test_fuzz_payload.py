"""RTP payloads of H.264, H.265 and AAC: NAL units or a PayloadError; depacketizers never raise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import seeds
from tests.fuzz.known_crashes import params, run_property
from tests.fuzz.strategies import FUZZ_SETTINGS, check_every_truncation
from tests.fuzz.targets import TARGETS, check
from wire.payload import (
    AacDepacketizer,
    H264Depacketizer,
    H265Depacketizer,
    PayloadDiscarded,
    VideoAccessUnit,
    packetize_h264,
    packetize_h265,
)
from wire.rtp import RtpPacket

PARSERS = ["h264_payload", "h265_payload", "aac_payload"]
DEPACKETIZERS = ["h264_depacketizer", "h265_depacketizer", "aac_depacketizer"]
NAMES = PARSERS + DEPACKETIZERS


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


@pytest.mark.parametrize("codec", ["h264", "h265"])
@FUZZ_SETTINGS
@given(size=st.integers(40, 400), data=st.data())
def test_a_damaged_packet_costs_at_most_its_access_unit(codec, size, data):
    """One packet of the second of three access units corrupted: the other two still come out."""
    unit = seeds.h264_access_unit() if codec == "h264" else seeds.h265_access_unit()
    packetize = packetize_h264 if codec == "h264" else packetize_h265
    depacketizer = H264Depacketizer() if codec == "h264" else H265Depacketizer()
    units = [packetize(unit, size) for _ in range(3)]
    victim = data.draw(st.integers(0, len(units[1]) - 1))
    damaged = bytearray(units[1][victim].payload)
    position = data.draw(st.integers(0, len(damaged) - 1))
    damaged[position] = data.draw(st.integers(0, 255))
    out = []
    seq = 0
    for index, packets in enumerate(units):
        for number, packet in enumerate(packets):
            payload = bytes(damaged) if (index, number) == (1, victim) else packet.payload
            rtp = RtpPacket(96, seq, 3000 * index, 1, payload, marker=packet.marker)
            out += depacketizer.receive(rtp)
            seq += 1
    complete = [event for event in out if isinstance(event, VideoAccessUnit)]
    assert complete[0].timestamp == 0
    assert complete[-1].timestamp == 6000
    assert all(isinstance(event, VideoAccessUnit | PayloadDiscarded) for event in out)


@FUZZ_SETTINGS
@given(
    st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40), st.booleans()), max_size=20)
)
def test_aac_depacketizer_on_any_sequence_of_packets(packets):
    depacketizer = AacDepacketizer()
    for seq, payload, marker in packets:
        depacketizer.receive(RtpPacket(97, seq, seq * 1024, 1, payload, marker=marker))
    check("aac_payload", packets[0][1] if packets else b"")
