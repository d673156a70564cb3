"""TLS set-up with and without session resumption, for ``--resume``.

asyncio's TLS transport cannot be handed a saved session, so the bench opens these connections
itself: a plain TCP connection and TLS over a pair of :class:`ssl.MemoryBIO`, which
:meth:`ssl.SSLContext.wrap_bio` accepts a ``session`` for. Only the set-up is timed (TCP connect,
then the TLS handshake); the connection is closed with a close_notify once the session is kept.

TLS 1.3 sends its session tickets after the handshake (RFC 8446 §4.6.1), so a connection reads
until the session carries a ticket, briefly, before it closes. ``round_trips`` counts the times
the handshake waited for the server: a full TLS 1.2 handshake takes two, an abbreviated one
(RFC 5246 §7.3) one; TLS 1.3 takes one either way, resumption saving the certificate and its
verification rather than a round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass

READ_SIZE = 65536
TICKET_WAIT = 1.0
"""Seconds past the handshake to wait for a TLS 1.3 ticket (plus the connection's RTT)."""


@dataclass(frozen=True)
class TlsSetup:
    """One timed TLS set-up."""

    tcp_connect_ms: float
    tls_handshake_ms: float
    round_trips: int
    """Reads the handshake waited on before it completed."""
    session_reused: bool
    offered_session: bool
    version: str | None
    cipher: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "tcp_connect_ms": self.tcp_connect_ms,
            "tls_handshake_ms": self.tls_handshake_ms,
            "round_trips": self.round_trips,
            "session_reused": self.session_reused,
            "offered_session": self.offered_session,
            "version": self.version,
            "cipher": self.cipher,
        }


async def tls_setup(
    host: str,
    port: int,
    context: ssl.SSLContext,
    *,
    session: ssl.SSLSession | None = None,
    server_hostname: str | None = None,
    timeout: float = 10.0,
) -> tuple[TlsSetup, ssl.SSLSession | None]:
    """Connect, handshake (offering ``session`` when given), keep the session, close.

    Returns the timings and the session to offer next time (None when the server gave none).
    Raises :class:`OSError` (or :class:`ssl.SSLError`, a subclass) when the set-up fails and
    :class:`TimeoutError` when it takes longer than ``timeout``."""
    async with asyncio.timeout(timeout):
        return await _tls_setup(host, port, context, session, server_hostname)


async def _tls_setup(
    host: str,
    port: int,
    context: ssl.SSLContext,
    session: ssl.SSLSession | None,
    server_hostname: str | None,
) -> tuple[TlsSetup, ssl.SSLSession | None]:
    start = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port)
    connected = time.monotonic()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(
        incoming, outgoing, server_hostname=server_hostname or host, session=session
    )
    round_trips = 0
    try:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                writer.write(outgoing.read())
                data = await reader.read(READ_SIZE)
                if not data:
                    raise ConnectionResetError(
                        "the server closed during the TLS handshake"
                    ) from None
                round_trips += 1
                incoming.write(data)
        done = time.monotonic()
        writer.write(outgoing.read())  # the client's Finished
        setup = TlsSetup(
            tcp_connect_ms=1000 * (connected - start),
            tls_handshake_ms=1000 * (done - connected),
            round_trips=round_trips,
            session_reused=tls.session_reused,
            offered_session=session is not None,
            version=tls.version(),
            cipher=(tls.cipher() or (None,))[0],
        )
        if tls.version() == "TLSv1.3":
            await _read_tickets(
                tls, reader, incoming, TICKET_WAIT + 2 * setup.tcp_connect_ms / 1000
            )
        kept = tls.session
        # The close_notify goes into ``outgoing``; the server's answer is not awaited.
        with contextlib.suppress(ssl.SSLWantReadError):
            tls.unwrap()
        writer.write(outgoing.read())
    finally:
        writer.close()
    return setup, kept


async def _read_tickets(
    tls: ssl.SSLObject, reader: asyncio.StreamReader, incoming: ssl.MemoryBIO, wait: float
) -> None:
    """Read until the session carries a ticket, the server sends nothing more, or ``wait``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while not (tls.session is not None and tls.session.has_ticket):
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        try:
            async with asyncio.timeout(remaining):
                data = await reader.read(READ_SIZE)
        except TimeoutError:
            return
        if not data:
            return
        incoming.write(data)
        try:
            tls.read(READ_SIZE)  # processes NewSessionTicket; RTMP sends no data before C1
        except ssl.SSLWantReadError:
            continue
