"""G.711 and Opus packetizers: what ``WholePayloadDepacketizer`` reads back is what went in."""

from __future__ import annotations

import pytest

from wire.payload.audio import G711_PACKET_SAMPLES, OPUS_MAX_PACKET, packetize_g711, packetize_opus
from wire.payload.errors import PayloadError
from wire.payload.events import AudioAccessUnit
from wire.payload.whole import WholePayloadDepacketizer
from wire.rtp.packet import RtpPacket


def test_g711_is_cut_every_20_ms_with_the_first_sample_offset() -> None:
    samples = bytes(range(256)) * 2  # 512 samples: three whole packets and 32 samples left
    packets = packetize_g711(samples)
    assert [len(p.payload) for p in packets] == [160, 160, 160, 32]
    assert [p.unit_index for p in packets] == [0, 160, 320, 480]
    assert not any(p.marker for p in packets)
    assert b"".join(p.payload for p in packets) == samples


def test_g711_round_trips_through_the_depacketizer_with_timestamps_per_sample() -> None:
    samples = bytes((7 * i) & 0xFF for i in range(G711_PACKET_SAMPLES * 3))
    depacketizer = WholePayloadDepacketizer()
    units: list[AudioAccessUnit] = []
    first = 0xFFFFFF00  # across the timestamp wrap
    for seq, payload in enumerate(packetize_g711(samples)):
        stamp = (first + payload.unit_index) & 0xFFFFFFFF
        for event in depacketizer.receive(RtpPacket(0, seq, stamp, 1, payload.payload)):
            assert isinstance(event, AudioAccessUnit)
            units.append(event)
    assert b"".join(u.data for u in units) == samples
    assert [u.timestamp for u in units] == [0xFFFFFF00, 0xFFFFFFA0, 0x40]


def test_g711_refuses_an_empty_interval() -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        packetize_g711(b"\xff" * 10, 0)


def test_opus_is_one_packet_per_payload_never_split() -> None:
    opus = [b"\xfc" + bytes(40), b"\x78" + bytes(1200), b"\xfc\x01"]
    packets = packetize_opus(opus)
    assert [p.payload for p in packets] == opus
    assert [p.unit_index for p in packets] == [0, 1, 2]
    assert not any(p.marker for p in packets)


@pytest.mark.parametrize("bad", [b"", bytes(OPUS_MAX_PACKET + 1)])
def test_opus_refuses_an_empty_or_oversized_packet(bad: bytes) -> None:
    with pytest.raises(PayloadError, match="Opus packet 1"):
        packetize_opus([b"\xfc\x00", bad])
