"""A light RTSP consumer to load a server under measurement: N clients, TCP or UDP, no decoding.

Each client runs DESCRIBE, SETUP of every stream (interleaved, or to its own UDP ports) and PLAY
through :class:`wire.rtsp.RtspClientConnection`, then counts RTP packets and bytes for the given
time. The counting path is kept cheap so that the consumer loads the machine as little as it can:
interleaved frames are skipped by their length field, datagrams only counted.

    python -m benchmarks.rtsp_load --seconds 20 --transport udp rtsp://127.0.0.1:8554/cam1 ...

prints one JSON object: clients, clients that received media, packets, bytes, failures. With
``--discard`` UDP clients never read their sockets (the kernel drops what overflows): the server
does all its work while the consumer costs next to nothing, to find how far one server core goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from wire.rtsp import (
    ConnectionTerminated,
    PortRange,
    ResponseReceived,
    RtspClientConnection,
    TransportSpec,
)
from wire.sdp import SessionDescription

SETUP_TIMEOUT = 15.0


@dataclass
class Totals:
    packets: int = 0
    octets: int = 0
    receiving: int = 0
    failures: list[str] = field(default_factory=list)


class _Counter(asyncio.DatagramProtocol):
    def __init__(self, totals: Totals) -> None:
        self.totals = totals
        self.packets = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.packets += 1
        self.totals.packets += 1
        self.totals.octets += len(data)


async def _exchange(
    connection: RtspClientConnection,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    cseq: int,
) -> ResponseReceived:
    writer.write(connection.data_to_send())
    loop = asyncio.get_running_loop()
    while True:
        while (event := connection.next_event()) is not None:
            if isinstance(event, ResponseReceived) and event.cseq == cseq:
                return event
            if isinstance(event, ConnectionTerminated):
                raise ConnectionError(event.termination.detail)
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        connection.receive_data(data, loop.time())
        writer.write(connection.data_to_send())


async def _udp_pair(
    totals: Totals, discard: bool
) -> tuple[PortRange, list[asyncio.BaseTransport | socket.socket]]:
    loop = asyncio.get_running_loop()
    opened: list[asyncio.BaseTransport | socket.socket] = []
    ports = []
    for _ in range(2):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096 if discard else 1 << 20)
        sock.bind(("127.0.0.1", 0))
        ports.append(sock.getsockname()[1])
        if discard:
            opened.append(sock)
        else:
            transport, _ = await loop.create_datagram_endpoint(lambda: _Counter(totals), sock=sock)
            opened.append(transport)
    return PortRange(ports[0], ports[1]), opened


async def pull(
    url: str, transport: str, seconds: float, totals: Totals, *, discard: bool = False
) -> None:
    """One client for ``seconds`` after PLAY."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 554)
    datagram_transports: list[asyncio.BaseTransport | socket.socket] = []
    try:
        connection = RtspClientConnection(url)
        answer = await asyncio.wait_for(
            _exchange(connection, reader, writer, connection.describe()), SETUP_TIMEOUT
        )
        sdp = SessionDescription.parse(answer.response.body)
        for index, media in enumerate(sdp.media):
            if transport == "tcp":
                spec = TransportSpec(
                    lower_transport="TCP",
                    delivery="unicast",
                    interleaved=PortRange(2 * index, 2 * index + 1),
                )
            else:
                ports, pair = await _udp_pair(totals, discard)
                datagram_transports += pair
                spec = TransportSpec(delivery="unicast", client_port=ports)
            control = connection.control_url(media.control or "")
            cseq = connection.setup(control, spec)
            answer = await asyncio.wait_for(
                _exchange(connection, reader, writer, cseq), SETUP_TIMEOUT
            )
            if not answer.response.ok:
                raise ConnectionError(f"SETUP answered {answer.response.status_code}")
        cseq = connection.play()
        answer = await asyncio.wait_for(_exchange(connection, reader, writer, cseq), SETUP_TIMEOUT)
        if not answer.response.ok:
            raise ConnectionError(f"PLAY answered {answer.response.status_code}")
        before = totals.packets
        await _count(connection, reader, totals, seconds)
        if totals.packets > before or transport == "udp":
            totals.receiving += 1
    except (OSError, ConnectionError, TimeoutError, ValueError) as error:
        totals.failures.append(f"{url}: {error!r}")
    finally:
        for datagram_transport in datagram_transports:
            datagram_transport.close()
        writer.close()


async def _count(
    connection: RtspClientConnection, reader: asyncio.StreamReader, totals: Totals, seconds: float
) -> None:
    """Count ``$`` frames (and skip anything else) until the time is up."""
    deadline = time.monotonic() + seconds
    buffer = bytearray()
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            data = await asyncio.wait_for(reader.read(262144), remaining)
        except TimeoutError:
            return
        if not data:
            raise ConnectionError("server closed the connection while playing")
        buffer += data
        position = 0
        while len(buffer) - position >= 4:
            if buffer[position] != 0x24:  # an RTSP message: skip to the next frame
                next_frame = buffer.find(b"\r\n\r\n$", position)
                if next_frame < 0:
                    break
                position = next_frame + 4
                continue
            size = 4 + int.from_bytes(buffer[position + 2 : position + 4], "big")
            if len(buffer) - position < size:
                break
            totals.packets += 1
            totals.octets += size - 4
            position += size
        del buffer[:position]


async def run(urls: list[str], transport: str, seconds: float, discard: bool = False) -> Totals:
    totals = Totals()
    await asyncio.gather(*(pull(url, transport, seconds, totals, discard=discard) for url in urls))
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--transport", choices=("tcp", "udp"), default="tcp")
    parser.add_argument("--discard", action="store_true", help="UDP: never read the sockets")
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args(argv)
    totals = asyncio.run(run(args.urls, args.transport, args.seconds, args.discard))
    print(
        json.dumps(
            {
                "clients": len(args.urls),
                "receiving": totals.receiving,
                "packets": totals.packets,
                "bytes": totals.octets,
                "failures": totals.failures,
            }
        )
    )
    return 0 if not totals.failures else 1


if __name__ == "__main__":
    sys.exit(main())
