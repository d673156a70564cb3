"""A small MPEG-TS demuxer: PAT/PMT, PES reassembly, PCR and continuity checking.

Enough to judge segments (ours or any server's): feed bytes in any chunks, get each PES packet
with its PID, stream type, timestamps and whether its first TS packet had the random access
indicator; continuity counter errors (§2.4.3.3) are collected, not raised, since a test wants
to see all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wire.ts.errors import TsError
from wire.ts.packet import PID_NULL, PID_PAT, SYNC_BYTE, TS_PACKET_SIZE, TsPacket
from wire.ts.pes import PesPacket
from wire.ts.psi import Pat, Pmt, section_length


@dataclass(frozen=True, slots=True)
class DemuxedPes:
    """One reassembled PES packet. ``packet_index`` is the TS packet it started in."""

    pid: int
    stream_type: int
    pes: PesPacket
    random_access: bool
    packet_index: int

    @property
    def pts(self) -> int | None:
        return self.pes.pts

    @property
    def dts(self) -> int | None:
        return self.pes.dts

    @property
    def data(self) -> bytes:
        return self.pes.payload


@dataclass(frozen=True, slots=True)
class ContinuityError:
    """A continuity counter that did not follow on from the previous packet of its PID."""

    pid: int
    packet_index: int
    expected: int
    got: int


@dataclass(frozen=True, slots=True)
class PcrSample:
    pid: int
    packet_index: int
    pcr: int  # 27 MHz


@dataclass
class _Assembly:
    start_index: int
    stream_type: int
    random_access: bool
    data: bytearray = field(default_factory=bytearray)


class TsDemuxer:
    """Feed TS bytes with :meth:`feed`, call :meth:`flush` at the end of the stream."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.packet_count = 0
        self.pat: Pat | None = None
        self.pmts: dict[int, Pmt] = {}  # by PMT PID
        self.stream_types: dict[int, int] = {}  # elementary PID -> stream_type
        self.continuity_errors: list[ContinuityError] = []
        self.pcrs: list[PcrSample] = []
        self.first_pids: list[int] = []  # PIDs of the first packets, to check PAT/PMT order
        self._counters: dict[int, int] = {}
        self._sections: dict[int, bytearray] = {}
        self._assemblies: dict[int, _Assembly] = {}

    def feed(self, data: bytes) -> list[DemuxedPes]:
        """Packets completed by ``data``; raises :class:`TsError` on malformed input."""
        self._buffer += data
        out: list[DemuxedPes] = []
        while len(self._buffer) >= TS_PACKET_SIZE:
            raw = bytes(self._buffer[:TS_PACKET_SIZE])
            del self._buffer[:TS_PACKET_SIZE]
            out.extend(self._packet(TsPacket.parse(raw, self.packet_count)))
            self.packet_count += 1
        if self._buffer and self._buffer[0] != SYNC_BYTE:
            raise TsError(
                f"TS packet {self.packet_count}: sync byte 0x{self._buffer[0]:02x}, expected 0x47"
            )
        return out

    def flush(self) -> list[DemuxedPes]:
        """The PES packets still being assembled; raises if a partial TS packet is left."""
        if self._buffer:
            raise TsError(
                f"TS packet {self.packet_count}: truncated at {len(self._buffer)} of "
                f"{TS_PACKET_SIZE} bytes"
            )
        out = [self._finish(pid, a) for pid, a in sorted(self._assemblies.items())]
        self._assemblies.clear()
        return out

    def _packet(self, packet: TsPacket) -> list[DemuxedPes]:
        if len(self.first_pids) < 2:
            self.first_pids.append(packet.pid)
        if packet.pid == PID_NULL:
            return []
        self._check_continuity(packet)
        adaptation = packet.adaptation
        if adaptation is not None and adaptation.pcr is not None:
            self.pcrs.append(PcrSample(packet.pid, self.packet_count, adaptation.pcr))
        if packet.pid == PID_PAT or packet.pid in self._pmt_pids():
            self._psi(packet)
            return []
        if packet.pid not in self.stream_types or not packet.payload:
            return []
        out = []
        if packet.payload_unit_start:
            pending = self._assemblies.pop(packet.pid, None)
            if pending is not None:
                out.append(self._finish(packet.pid, pending))
            random_access = adaptation is not None and adaptation.random_access
            self._assemblies[packet.pid] = _Assembly(
                self.packet_count, self.stream_types[packet.pid], random_access
            )
        assembly = self._assemblies.get(packet.pid)
        if assembly is not None:  # payload before the first unit start is skipped
            assembly.data += packet.payload
        return out

    def _pmt_pids(self) -> set[int]:
        return set(self.pat.programs.values()) if self.pat is not None else set()

    def _check_continuity(self, packet: TsPacket) -> None:
        previous = self._counters.get(packet.pid)
        discontinuity = packet.adaptation is not None and packet.adaptation.discontinuity
        if previous is not None and not discontinuity:
            # §2.4.3.3: the counter steps with each payload; a packet without one repeats it.
            expected = (previous + 1) % 16 if packet.has_payload else previous
            if packet.continuity_counter != expected:
                self.continuity_errors.append(
                    ContinuityError(
                        packet.pid, self.packet_count, expected, packet.continuity_counter
                    )
                )
        self._counters[packet.pid] = packet.continuity_counter

    def _psi(self, packet: TsPacket) -> None:
        payload = packet.payload
        if packet.payload_unit_start:
            if not payload:
                raise TsError(f"TS packet {self.packet_count}: PSI unit start without payload")
            pointer = payload[0]
            if 1 + pointer > len(payload):
                raise TsError(f"TS packet {self.packet_count}: pointer_field {pointer} overruns")
            self._sections[packet.pid] = bytearray(payload[1 + pointer :])
        elif packet.pid in self._sections:
            self._sections[packet.pid] += payload
        else:
            return
        section = self._sections[packet.pid]
        length = section_length(bytes(section))
        if length is None or len(section) < length:
            return
        del self._sections[packet.pid]
        try:
            if packet.pid == PID_PAT:
                self.pat = Pat.parse(bytes(section[:length]))
            else:
                pmt = Pmt.parse(bytes(section[:length]))
                self.pmts[packet.pid] = pmt
                for stream in pmt.streams:
                    self.stream_types[stream.pid] = stream.stream_type
        except TsError as exc:
            raise TsError(f"TS packet {self.packet_count}: {exc}") from None

    def _finish(self, pid: int, assembly: _Assembly) -> DemuxedPes:
        try:
            pes = PesPacket.parse(bytes(assembly.data))
        except TsError as exc:
            raise TsError(f"TS packet {assembly.start_index}: {exc}") from None
        return DemuxedPes(
            pid, assembly.stream_type, pes, assembly.random_access, assembly.start_index
        )


def demux(data: bytes) -> tuple[TsDemuxer, list[DemuxedPes]]:
    """Demux a whole buffer: the demuxer (tables, PCRs, continuity errors) and every PES."""
    demuxer = TsDemuxer()
    packets = demuxer.feed(data)
    packets += demuxer.flush()
    return demuxer, packets
