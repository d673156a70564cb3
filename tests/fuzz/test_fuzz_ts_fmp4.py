"""MPEG-TS segments and fMP4 boxes as a reader of any server's HLS gets them: PES packets or a
TsError; boxes, tfdt and trun or an Fmp4Error. Never another exception, never a hang. And the
writers fed what a publisher sends (parameter sets, an ASC, frames): segments, or Fmp4Error,
TsError or CodecError."""

from __future__ import annotations

import struct

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.known_crashes import params, run_property
from tests.fuzz.strategies import FUZZ_SETTINGS, check_every_truncation
from tests.fuzz.targets import TARGETS, check
from wire.fmp4 import Box, Fmp4Error, Trun
from wire.ts import TS_PACKET_SIZE

NAMES = ["ts_demux", "ts_structures", "fmp4_boxes", "writers_from_network_parameters"]


@pytest.mark.parametrize("name", NAMES)
def test_seeds_are_accepted(name):
    for seed in TARGETS[name].seeds():
        TARGETS[name].run(seed)


@pytest.mark.parametrize("name", params(NAMES))
@FUZZ_SETTINGS
@given(data=st.data())
def test_any_input_gives_a_value_or_the_documented_error(name, data):
    run_property(name, data, max_size=4096)


@pytest.mark.parametrize("name", NAMES)
def test_every_truncation_of_a_valid_input(name):
    assert check_every_truncation(name, max_seeds=1) > 0


@FUZZ_SETTINGS
@given(data=st.data())
def test_ts_with_one_packet_header_field_changed(data):
    """Sync byte, PID, flags, adaptation field control, counter or adaptation field length of
    one packet changed: the structure-aware mutation that reaches PSI and PES reassembly."""
    segment = bytearray(TARGETS["ts_demux"].seeds()[0])
    packet = data.draw(st.integers(0, len(segment) // TS_PACKET_SIZE - 1)) * TS_PACKET_SIZE
    offset = packet + data.draw(st.integers(0, 7))
    segment[offset] = data.draw(st.integers(0, 255))
    check("ts_demux", bytes(segment))


def _trun(flags: int, count: int, rest: bytes = b"") -> bytes:
    body = struct.pack(">II", flags, count) + rest
    return struct.pack(">I4s", 8 + len(body), b"trun") + body


@FUZZ_SETTINGS
@given(
    version=st.integers(0, 255),
    flags=st.integers(0, 0xFFFFFF),
    count=st.integers(0, 0xFFFFFFFF),
    rest=st.binary(max_size=64),
)
@example(version=0, flags=0, count=0xFFFFFFFF, rest=b"")  # found by fuzzing: a 4-billion entry loop
@example(version=0, flags=0x000001, count=0xFFFFFFFF, rest=b"\x00\x00\x00\x08")
def test_trun_with_any_header(version, flags, count, rest):
    payload = struct.pack(">II", version << 24 | flags, count) + rest
    try:
        trun = Trun.parse(Box("trun", payload))
    except Fmp4Error:
        return
    assert len(trun.entries) == count
    check("fmp4_boxes", _trun(flags, count, rest))
