"""Reading pcap and pcapng files: formats, byte orders, timestamp resolutions, damage."""

from __future__ import annotations

import struct
from decimal import Decimal
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import PcapNgWriter, PcapWriter

from camsim.pcap.capture import CaptureError, CaptureFile, CaptureFormat
from wire import pcapng


def _frames(count: int) -> list[Ether]:
    return [
        Ether()
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / UDP(sport=5000, dport=6000)
        / Raw(bytes([i]) * (10 + i))
        for i in range(count)
    ]


def _write_pcap(path: Path, frames: list[Ether], **options: object) -> None:
    writer = PcapWriter(str(path), linktype=1, **options)  # type: ignore[arg-type]
    for index, frame in enumerate(frames):
        frame.time = Decimal(1_700_000_000 + index) + Decimal("0.123456")  # type: ignore[assignment]
        writer.write(frame)
    writer.close()


@pytest.mark.parametrize(
    ("options", "fraction"),
    [({}, 123456_000), ({"nano": True}, 123456_000), ({"endianness": ">"}, 123456_000)],
    ids=["microseconds", "nanoseconds", "big-endian"],
)
def test_pcap_records(tmp_path: Path, options: dict[str, object], fraction: int) -> None:
    path = tmp_path / "a.pcap"
    frames = _frames(3)
    _write_pcap(path, frames, **options)
    with CaptureFile.open(path) as capture:
        assert capture.format is CaptureFormat.PCAP
        assert capture.link_types == {1}
        records = list(capture.records())
        packets = list(capture.packets())
        assert [bytes(capture.buffer[o : o + n]) for _, _, o, n in records] == [
            bytes(f) for f in frames
        ]
        assert [p.timestamp_ns for p in packets] == [
            (1_700_000_000 + i) * 1_000_000_000 + fraction for i in range(3)
        ]
        assert records[1][0] == pytest.approx(1_700_000_001.123456, abs=1e-6)
        assert capture.truncated is None


def test_pcapng_written_by_scapy(tmp_path: Path) -> None:
    path = tmp_path / "a.pcapng"
    frames = _frames(4)
    writer = PcapNgWriter(str(path))
    for index, frame in enumerate(frames):
        frame.time = 1_600_000_000 + index / 4
        writer.write(frame)
    writer.close()
    with CaptureFile.open(path) as capture:
        assert capture.format is CaptureFormat.PCAPNG
        records = list(capture.records())
        assert [bytes(capture.buffer[o : o + n]) for _, _, o, n in records] == [
            bytes(f) for f in frames
        ]
        assert [r[1] for r in records] == [1] * 4
        assert [r[0] for r in records] == pytest.approx([1_600_000_000 + i / 4 for i in range(4)])


def test_pcapng_interfaces_with_their_own_link_types_and_resolutions() -> None:
    raw = pcapng.udp_packet("192.0.2.1", 1, "192.0.2.2", 2, b"raw ip")
    ethernet = bytes(Ether() / IP(src="192.0.2.3", dst="192.0.2.4") / UDP() / Raw(b"ether"))
    # Interface 1 counts microseconds (no if_tsresol); interface 0 nanoseconds.
    microsecond_interface = pcapng._block(
        pcapng.BLOCK_INTERFACE_DESCRIPTION, struct.pack("<HHI", 1, 0, 0)
    )
    data = (
        pcapng.section_header("test")
        + pcapng.interface_description(pcapng.LINKTYPE_RAW)
        + microsecond_interface
        + pcapng.enhanced_packet(1_500_000_000_123_456_789, raw)
        + _enhanced(1, 1_500_000_001_654_321, ethernet)
    )
    capture = CaptureFile.from_bytes(data)
    records = list(capture.records())
    packets = list(capture.packets())
    assert [r[1] for r in records] == [101, 1]
    assert [p.timestamp_ns for p in packets] == [
        1_500_000_000_123_456_789,
        1_500_000_001_654_321_000,
    ]
    assert bytes(data[records[0][2] : records[0][2] + records[0][3]]) == raw
    assert bytes(data[records[1][2] : records[1][2] + records[1][3]]) == ethernet


def _enhanced(interface: int, units: int, data: bytes) -> bytes:
    header = struct.pack("<IIIII", interface, units >> 32, units & 0xFFFFFFFF, len(data), len(data))
    return pcapng._block(pcapng.BLOCK_ENHANCED_PACKET, header + pcapng._pad(data))


def test_big_endian_pcapng_section() -> None:
    body = struct.pack(">IHHq", pcapng.BYTE_ORDER_MAGIC, 1, 0, -1)
    shb = struct.pack(">II", pcapng.BLOCK_SECTION_HEADER, 12 + len(body)) + body
    shb += struct.pack(">I", 12 + len(body))
    idb_body = struct.pack(">HHI", 101, 0, 0)
    idb = (
        struct.pack(">II", 1, 12 + len(idb_body)) + idb_body + struct.pack(">I", 12 + len(idb_body))
    )
    packet = b"\x45" + bytes(19)
    epb_body = struct.pack(">IIIII", 0, 0, 5_000_000, len(packet), len(packet)) + packet
    epb = (
        struct.pack(">II", 6, 12 + len(epb_body)) + epb_body + struct.pack(">I", 12 + len(epb_body))
    )
    capture = CaptureFile.from_bytes(shb + idb + epb)
    ((time, link_type, _, length),) = capture.records()
    assert (time, link_type, length) == (5.0, 101, 20)


def test_a_capture_cut_mid_record_keeps_the_whole_records(tmp_path: Path) -> None:
    path = tmp_path / "cut.pcap"
    _write_pcap(path, _frames(3))
    data = path.read_bytes()
    capture = CaptureFile.from_bytes(data[:-5])
    assert len(list(capture.records())) == 2
    assert capture.truncated is not None
    assert "ends inside the record" in capture.truncated


def test_a_pcapng_cut_mid_block(tmp_path: Path) -> None:
    data = pcapng.file_header() + b"".join(
        pcapng.enhanced_packet(i, pcapng.udp_packet("10.0.0.1", 1, "10.0.0.2", 2, b"x" * 50))
        for i in range(3)
    )
    capture = CaptureFile.from_bytes(data[:-7])
    assert len(list(capture.records())) == 2
    assert capture.truncated is not None


def test_not_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not a capture file at all")
    with pytest.raises(
        CaptureError, match=r"notes.txt: not a pcap or pcapng file \(it starts with 74 68 69 73\)"
    ):
        CaptureFile.open(path)
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    with pytest.raises(CaptureError, match="empty file"):
        CaptureFile.open(empty)


def test_field_captures_open(shared_dir: Path) -> None:
    with CaptureFile.open(shared_dir / "captures" / "camera-h264-udp-digest.pcapng") as capture:
        assert capture.format is CaptureFormat.PCAPNG
        assert sum(1 for _ in capture.records()) == 1727
        assert capture.interfaces[0].units_per_second == 1_000_000_000
    with CaptureFile.open(shared_dir / "captures" / "rtmp-play-h264-aac.pcap") as capture:
        assert capture.format is CaptureFormat.PCAP
        assert sum(1 for _ in capture.records()) == 618
