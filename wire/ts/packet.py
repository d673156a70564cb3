"""Transport stream packets (ISO/IEC 13818-1 §2.4.3.2) and their adaptation field (§2.4.3.4)."""

from __future__ import annotations

from dataclasses import dataclass

from wire.ts.errors import TsError

TS_PACKET_SIZE = 188
TS_HEADER_SIZE = 4
SYNC_BYTE = 0x47
PID_PAT = 0x0000
PID_NULL = 0x1FFF
MAX_PID = 0x1FFF

# The 27 MHz program clock reference is a 33-bit 90 kHz base times 300 plus a 9-bit extension.
PCR_BASE_MODULUS = 1 << 33
PCR_PER_90KHZ_TICK = 300

AF_DISCONTINUITY = 0x80
AF_RANDOM_ACCESS = 0x40
AF_ES_PRIORITY = 0x20
AF_PCR = 0x10
AF_OTHER_FLAGS = 0x0F  # OPCR, splicing point, private data, extension
PCR_SIZE = 6

MAX_PAYLOAD_SIZE = TS_PACKET_SIZE - TS_HEADER_SIZE


@dataclass(frozen=True, slots=True)
class AdaptationField:
    """The adaptation field.

    ``length_only`` is the one-byte field with ``adaptation_field_length`` 0, the way to stuff a
    single byte (§2.4.3.5). ``trailer`` holds everything after the PCR: the optional fields
    signalled by ``other_flags`` (OPCR, splice countdown, private data, extension) as they are,
    then the stuffing bytes.
    """

    discontinuity: bool = False
    random_access: bool = False
    es_priority: bool = False
    pcr: int | None = None
    other_flags: int = 0
    trailer: bytes = b""
    length_only: bool = False

    @classmethod
    def stuffing(cls, size: int) -> AdaptationField:
        """A field of exactly ``size`` bytes (at least 1) that carries nothing but stuffing."""
        if size == 1:
            return cls(length_only=True)
        return cls(trailer=b"\xff" * (size - 2))

    def with_stuffing(self, count: int) -> AdaptationField:
        """This field grown by ``count`` stuffing bytes."""
        if count == 0:
            return self
        if self.length_only:
            return AdaptationField.stuffing(1 + count)
        return AdaptationField(
            self.discontinuity,
            self.random_access,
            self.es_priority,
            self.pcr,
            self.other_flags,
            self.trailer + b"\xff" * count,
        )

    @property
    def size(self) -> int:
        """Bytes on the wire, the length byte included."""
        if self.length_only:
            return 1
        return 2 + (PCR_SIZE if self.pcr is not None else 0) + len(self.trailer)

    def serialize(self) -> bytes:
        if self.length_only:
            return b"\x00"
        flags = (
            (AF_DISCONTINUITY if self.discontinuity else 0)
            | (AF_RANDOM_ACCESS if self.random_access else 0)
            | (AF_ES_PRIORITY if self.es_priority else 0)
            | (AF_PCR if self.pcr is not None else 0)
            | (self.other_flags & AF_OTHER_FLAGS)
        )
        out = bytearray([self.size - 1, flags])
        if self.pcr is not None:
            base, extension = divmod(self.pcr, PCR_PER_90KHZ_TICK)
            if not 0 <= base < PCR_BASE_MODULUS:
                raise TsError(f"adaptation field: PCR {self.pcr} does not fit 42 bits")
            # program_clock_reference_base (33), reserved (6, all ones), extension (9).
            out += ((base << 15) | (0x3F << 9) | extension).to_bytes(PCR_SIZE, "big")
        out += self.trailer
        return bytes(out)

    @classmethod
    def parse(cls, data: bytes) -> AdaptationField:
        """Parse a field that starts with its length byte and is exactly that long."""
        length = data[0]
        if length == 0:
            return cls(length_only=True)
        flags = data[1]
        pos = 2
        pcr = None
        if flags & AF_PCR:
            if length < 1 + PCR_SIZE:
                raise TsError(f"adaptation field: PCR flag set in a field of {length} bytes")
            value = int.from_bytes(data[2:8], "big")
            pcr = (value >> 15) * PCR_PER_90KHZ_TICK + (value & 0x1FF)
            pos = 8
        return cls(
            discontinuity=bool(flags & AF_DISCONTINUITY),
            random_access=bool(flags & AF_RANDOM_ACCESS),
            es_priority=bool(flags & AF_ES_PRIORITY),
            pcr=pcr,
            other_flags=flags & AF_OTHER_FLAGS,
            trailer=bytes(data[pos : 1 + length]),
        )


@dataclass(frozen=True, slots=True)
class TsPacket:
    """One 188-byte packet. ``continuity_counter`` counts payload-carrying packets per PID."""

    pid: int
    continuity_counter: int
    payload: bytes = b""
    payload_unit_start: bool = False
    adaptation: AdaptationField | None = None
    transport_error: bool = False
    priority: bool = False
    scrambling: int = 0
    has_payload: bool = True

    def serialize(self) -> bytes:
        if not 0 <= self.pid <= MAX_PID:
            raise TsError(f"TS packet: PID {self.pid} does not fit 13 bits")
        control = (0b10 if self.adaptation is not None else 0) | (1 if self.has_payload else 0)
        header = bytes(
            [
                SYNC_BYTE,
                (0x80 if self.transport_error else 0)
                | (0x40 if self.payload_unit_start else 0)
                | (0x20 if self.priority else 0)
                | (self.pid >> 8),
                self.pid & 0xFF,
                ((self.scrambling & 3) << 6) | (control << 4) | (self.continuity_counter & 0xF),
            ]
        )
        adaptation = self.adaptation.serialize() if self.adaptation is not None else b""
        packet = header + adaptation + self.payload
        if len(packet) != TS_PACKET_SIZE:
            raise TsError(
                f"TS packet: header, adaptation field and payload make {len(packet)} bytes, "
                f"not {TS_PACKET_SIZE}"
            )
        return packet

    @classmethod
    def parse(cls, data: bytes, index: int = 0) -> TsPacket:
        """Parse one packet; ``index`` only names it in error messages."""
        if len(data) != TS_PACKET_SIZE:
            raise TsError(f"TS packet {index}: {len(data)} bytes, not {TS_PACKET_SIZE}")
        if data[0] != SYNC_BYTE:
            raise TsError(f"TS packet {index}: sync byte 0x{data[0]:02x}, expected 0x47")
        control = (data[3] >> 4) & 3
        if control == 0:
            raise TsError(f"TS packet {index}: adaptation_field_control 0 is reserved")
        pos = TS_HEADER_SIZE
        adaptation = None
        if control & 0b10:
            length = data[pos]
            # §2.4.3.5: 0 to 182 before a payload, 183 in a packet without one.
            limit = MAX_PAYLOAD_SIZE - 2 if control & 1 else MAX_PAYLOAD_SIZE - 1
            if length > limit:
                raise TsError(
                    f"TS packet {index}: adaptation field of {length} bytes exceeds {limit}"
                )
            try:
                adaptation = AdaptationField.parse(data[pos : pos + 1 + length])
            except TsError as exc:
                raise TsError(f"TS packet {index}: {exc}") from None
            pos += 1 + length
        return cls(
            pid=((data[1] & 0x1F) << 8) | data[2],
            continuity_counter=data[3] & 0xF,
            payload=bytes(data[pos:]) if control & 1 else b"",
            payload_unit_start=bool(data[1] & 0x40),
            adaptation=adaptation,
            transport_error=bool(data[1] & 0x80),
            priority=bool(data[1] & 0x20),
            scrambling=data[3] >> 6,
            has_payload=bool(control & 1),
        )
