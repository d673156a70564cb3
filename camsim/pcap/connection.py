"""One TCP connection of a capture: two reassembled directions and the analyser of its protocol.

Until the content says what the connection carries, the reassembled bytes of both directions wait
here in capture order; once a sniffer of :mod:`camsim.pcap.classify` is sure, the analyser
registered for that protocol is created and given everything so far, then every later byte as it
comes. Analysers are sans-IO: bytes, packet numbers and capture times in, results kept for the
report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol as TypingProtocol

from camsim.pcap.classify import NEED_MORE, SNIFF_LIMIT, Protocol, Verdict, sniff
from camsim.pcap.flow import Endpoint
from camsim.pcap.packet import TCP_ACK, TCP_SYN
from camsim.pcap.tcp import Hole, TcpDirection

CLIENT = 0
SERVER = 1


class StreamAnalyser(TypingProtocol):
    """Consumes both directions of a connection once its protocol is known."""

    def data(self, from_client: bool, chunk: bytes, number: int, time: float) -> None: ...

    def hole(self, from_client: bool, hole: Hole) -> None: ...

    def end(self) -> None: ...


@dataclass(frozen=True)
class ConnectionInfo:
    """What an analyser knows about its connection."""

    index: int
    client: Endpoint
    server: Endpoint
    first_packet: int
    first_time: float


AnalyserFactory = Callable[[ConnectionInfo], StreamAnalyser]


class _DirectionSink:
    def __init__(self, connection: TcpConnection, direction: int) -> None:
        self.connection = connection
        self.direction = direction

    def data(self, chunk: bytes, number: int, time: float) -> None:
        self.connection._data(self.direction, chunk, number, time)

    def hole(self, hole: Hole) -> None:
        self.connection._hole(self.direction, hole)


@dataclass
class ConnectionSummary:
    index: int
    client: Endpoint
    server: Endpoint
    protocol: Protocol
    first_packet: int
    last_packet: int
    start: float
    end: float
    bytes_from_client: int
    bytes_from_server: int
    holes: list[tuple[str, Hole]] = field(default_factory=list)
    retransmissions: int = 0
    out_of_order: int = 0
    reset: bool = False


class TcpConnection:
    """A TCP connection between ``a`` (the first endpoint seen sending) and ``b``."""

    def __init__(
        self,
        index: int,
        a: Endpoint,
        b: Endpoint,
        number: int,
        time: float,
        factories: dict[Protocol, AnalyserFactory],
    ) -> None:
        self.index = index
        self.endpoints = (a, b)
        self.first_packet = self.last_packet = number
        self.start = self.end = time
        self.factories = factories
        self.directions = (
            TcpDirection(_DirectionSink(self, 0)),
            TcpDirection(_DirectionSink(self, 1)),
        )
        self.protocol: Protocol | None = None
        self.analyser: StreamAnalyser | None = None
        self.client_direction = 0
        self._waiting: list[tuple[int, bytes | Hole, int, float]] = []
        self._sniffed = [b"", b""]

    def segment(
        self, direction: int, seq: int, ack: int, flags: int, data: bytes, number: int, time: float
    ) -> None:
        """One captured segment sent by ``endpoints[direction]``."""
        self.last_packet = number
        self.end = time
        if flags & TCP_SYN and not flags & TCP_ACK:
            self.client_direction = direction  # the side that opens is the client
        self.directions[direction].segment(seq, flags, data, number, time)
        if flags & TCP_ACK:
            self.directions[1 - direction].acked(ack)

    @property
    def closed(self) -> bool:
        """Both sides sent FIN, or either reset."""
        one, two = self.directions
        return one.reset or two.reset or (one.fin_seq is not None and two.fin_seq is not None)

    def finish(self) -> None:
        for direction in self.directions:
            direction.finish()
        if self.analyser is None and self._waiting:
            self._classify(final=True)
        if self.analyser is not None:
            self.analyser.end()

    def _data(self, direction: int, chunk: bytes, number: int, time: float) -> None:
        if self.analyser is not None:
            self.analyser.data(direction == self.client_direction, chunk, number, time)
            return
        if self.protocol is Protocol.UNKNOWN:
            return
        self._waiting.append((direction, chunk, number, time))
        if len(self._sniffed[direction]) < SNIFF_LIMIT:
            self._sniffed[direction] += chunk[: SNIFF_LIMIT - len(self._sniffed[direction])]
            self._classify(final=False)

    def _hole(self, direction: int, hole: Hole) -> None:
        if self.analyser is not None:
            self.analyser.hole(direction == self.client_direction, hole)
        elif self.protocol is None:
            self._waiting.append((direction, hole, hole.before_packet, 0.0))

    def _classify(self, *, final: bool) -> None:
        verdicts: list[tuple[int, Verdict]] = []
        waiting = False
        for direction in (self.client_direction, 1 - self.client_direction):
            sniffed = self._sniffed[direction]
            if not sniffed:
                continue
            complete = final or len(sniffed) >= SNIFF_LIMIT
            verdict = sniff(sniffed, final=complete)
            if isinstance(verdict, Verdict):
                verdicts.append((direction, verdict))
            elif verdict is NEED_MORE:
                waiting = True
        if verdicts:
            direction, verdict = verdicts[0]
            self.client_direction = direction if verdict.client else 1 - direction
            self._start(verdict.protocol)
        elif not waiting and (final or all(len(s) >= SNIFF_LIMIT for s in self._sniffed if s)):
            self.protocol = Protocol.UNKNOWN
            self._waiting.clear()

    def _start(self, protocol: Protocol) -> None:
        self.protocol = protocol
        factory = self.factories.get(protocol)
        if factory is None:
            self._waiting.clear()
            return
        client = self.endpoints[self.client_direction]
        server = self.endpoints[1 - self.client_direction]
        self.analyser = factory(
            ConnectionInfo(self.index, client, server, self.first_packet, self.start)
        )
        waiting, self._waiting = self._waiting, []
        for direction, item, number, time in waiting:
            from_client = direction == self.client_direction
            if isinstance(item, Hole):
                self.analyser.hole(from_client, item)
            else:
                self.analyser.data(from_client, item, number, time)

    def summary(self) -> ConnectionSummary:
        client = self.directions[self.client_direction]
        server = self.directions[1 - self.client_direction]
        holes = [("client", hole) for hole in client.holes] + [
            ("server", hole) for hole in server.holes
        ]
        return ConnectionSummary(
            index=self.index,
            client=self.endpoints[self.client_direction],
            server=self.endpoints[1 - self.client_direction],
            protocol=self.protocol or Protocol.UNKNOWN,
            first_packet=self.first_packet,
            last_packet=self.last_packet,
            start=self.start,
            end=self.end,
            bytes_from_client=client.counters.bytes,
            bytes_from_server=server.counters.bytes,
            holes=holes,
            retransmissions=client.counters.retransmissions + server.counters.retransmissions,
            out_of_order=client.counters.out_of_order + server.counters.out_of_order,
            reset=client.reset or server.reset,
        )
