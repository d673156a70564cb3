"""Program specific information: the PAT and PMT sections (ISO/IEC 13818-1 §2.4.4)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from wire.ts.errors import TsError

TABLE_ID_PAT = 0x00
TABLE_ID_PMT = 0x02

# stream_type values (Table 2-34; H.265 from the 2014 amendment).
STREAM_TYPE_ADTS_AAC = 0x0F
STREAM_TYPE_H264 = 0x1B
STREAM_TYPE_H265 = 0x24

_CRC_SIZE = 4
_SECTION_HEADER = 3  # table_id, section_syntax_indicator ... section_length
_SYNTAX_HEADER = 5  # table_id_extension, version, section_number, last_section_number
MAX_SECTION_LENGTH = 1021  # §2.4.4.3/§2.4.4.8: section_length at most 0x3FD


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc32_mpeg2(data: bytes) -> int:
    """CRC_32 of Annex A: polynomial 0x04C11DB7, initial 0xFFFFFFFF, no reflection, no xor."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[(crc >> 24) ^ byte]
    return crc


def _section(table_id: int, extension: int, version: int, body: bytes) -> bytes:
    length = _SYNTAX_HEADER + len(body) + _CRC_SIZE
    if length > MAX_SECTION_LENGTH:
        raise TsError(f"PSI section of {length} bytes exceeds {MAX_SECTION_LENGTH}")
    # section_syntax_indicator 1, '0', reserved '11'; reserved '11', version, current_next 1.
    head = struct.pack(
        ">BHHBBB",
        table_id,
        0xB000 | length,
        extension,
        0xC1 | ((version & 0x1F) << 1),
        0,
        0,
    )
    section = head + body
    return section + crc32_mpeg2(section).to_bytes(_CRC_SIZE, "big")


def _open_section(data: bytes, table_id: int, name: str) -> tuple[int, int, bytes]:
    """Check header and CRC; return (table_id_extension, version, body)."""
    if len(data) < _SECTION_HEADER + _SYNTAX_HEADER + _CRC_SIZE:
        raise TsError(f"{name}: section of {len(data)} bytes is truncated")
    if data[0] != table_id:
        raise TsError(f"{name}: table_id 0x{data[0]:02x}, expected 0x{table_id:02x}")
    length = ((data[1] & 0x0F) << 8) | data[2]
    end = _SECTION_HEADER + length
    if length < _SYNTAX_HEADER + _CRC_SIZE or end > len(data):
        raise TsError(f"{name}: section_length {length} does not fit {len(data)} bytes")
    if crc32_mpeg2(data[:end]) != 0:
        raise TsError(f"{name}: CRC_32 mismatch")
    extension = (data[3] << 8) | data[4]
    version = (data[5] >> 1) & 0x1F
    return extension, version, data[_SECTION_HEADER + _SYNTAX_HEADER : end - _CRC_SIZE]


def section_length(data: bytes) -> int | None:
    """The total size of the section at the start of ``data``, None until 3 bytes are there."""
    if len(data) < _SECTION_HEADER:
        return None
    return _SECTION_HEADER + (((data[1] & 0x0F) << 8) | data[2])


@dataclass(frozen=True, slots=True)
class Pat:
    """The program association table: program_number -> PMT PID (§2.4.4.3)."""

    programs: dict[int, int]
    transport_stream_id: int = 1
    version: int = 0

    def serialize(self) -> bytes:
        body = b"".join(struct.pack(">HH", n, 0xE000 | pid) for n, pid in self.programs.items())
        return _section(TABLE_ID_PAT, self.transport_stream_id, self.version, body)

    @classmethod
    def parse(cls, data: bytes) -> Pat:
        extension, version, body = _open_section(data, TABLE_ID_PAT, "PAT")
        if len(body) % 4:
            raise TsError(f"PAT: program loop of {len(body)} bytes is not a multiple of 4")
        programs = {}
        for pos in range(0, len(body), 4):
            number, pid = struct.unpack_from(">HH", body, pos)
            programs[number] = pid & 0x1FFF
        return cls(programs, extension, version)


@dataclass(frozen=True, slots=True)
class PmtStream:
    stream_type: int
    pid: int
    descriptors: bytes = b""


@dataclass(frozen=True, slots=True)
class Pmt:
    """The program map table of one program (§2.4.4.8)."""

    program_number: int
    pcr_pid: int
    streams: tuple[PmtStream, ...]
    version: int = 0
    program_info: bytes = b""

    def serialize(self) -> bytes:
        body = bytearray(struct.pack(">HH", 0xE000 | self.pcr_pid, 0xF000 | len(self.program_info)))
        body += self.program_info
        for stream in self.streams:
            body += struct.pack(
                ">BHH", stream.stream_type, 0xE000 | stream.pid, 0xF000 | len(stream.descriptors)
            )
            body += stream.descriptors
        return _section(TABLE_ID_PMT, self.program_number, self.version, bytes(body))

    @classmethod
    def parse(cls, data: bytes) -> Pmt:
        program_number, version, body = _open_section(data, TABLE_ID_PMT, "PMT")
        if len(body) < 4:
            raise TsError(f"PMT: {len(body)} bytes, too short for PCR_PID and program_info")
        pcr_pid, info_length = struct.unpack_from(">HH", body)
        info_length &= 0x0FFF
        pos = 4 + info_length
        if pos > len(body):
            raise TsError(f"PMT: program_info_length {info_length} overruns the section")
        program_info = body[4:pos]
        streams = []
        while pos < len(body):
            if pos + 5 > len(body):
                raise TsError(f"PMT: stream entry at offset {pos} is truncated")
            stream_type, pid, es_info_length = struct.unpack_from(">BHH", body, pos)
            es_info_length &= 0x0FFF
            end = pos + 5 + es_info_length
            if end > len(body):
                raise TsError(f"PMT: ES_info_length {es_info_length} overruns the section")
            streams.append(PmtStream(stream_type, pid & 0x1FFF, body[pos + 5 : end]))
            pos = end
        return cls(program_number, pcr_pid & 0x1FFF, tuple(streams), version, program_info)
