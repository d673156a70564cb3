"""A session that ends on the first bytes through a TLS handshake the pump runs still has its
last words sent.

A TLS 1.3 client may send its first request in the same flight as its Finished message; the TLS
layer then hands that data to the pump before ``loop.start_tls`` has returned, while the pump
has no transport to write to yet. The handshake is done by then, so an end the data leads to
(a refusal, a ``bye``) must not cancel it: the answer goes out once ``start_tls`` returns.
Loopback only, every wait bounded.
"""

from __future__ import annotations

import asyncio
import socket
import ssl

from tests.unit.wire.asyncio.sessions import EchoSession, Ended
from wire.asyncio.certificates import self_signed, server_context_for
from wire.asyncio.pump import StreamPump, TlsHandshake
from wire.session import Cause

HOST = "127.0.0.1"
LIMIT = 10.0


def finished_and_first_bytes_in_one_flight(
    port: int, context: ssl.SSLContext, data: bytes
) -> bytes:
    """Handshake by hand, then send the client's Finished and ``data`` in one write; returns
    what the server sent back until it closed."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=HOST)
    with socket.create_connection((HOST, port), timeout=LIMIT / 2) as sock:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if outgoing.pending:
                    sock.sendall(outgoing.read())
                incoming.write(sock.recv(65536))
        tls.write(data)
        sock.sendall(outgoing.read())  # the Finished record, then the data's
        answer = b""
        while chunk := sock.recv(65536):
            incoming.write(chunk)
            try:
                while piece := tls.read(65536):
                    answer += piece
            except ssl.SSLWantReadError:
                continue  # a record not complete yet
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            break  # read() gave b"": the server's close_notify
        return answer


def test_an_answer_to_the_first_bytes_through_tls_is_not_lost() -> None:
    pair = self_signed([HOST])
    client = ssl.create_default_context(cadata=pair.certificate.decode())
    client.minimum_version = ssl.TLSVersion.TLSv1_3

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        events: list[object] = []

        def accepted() -> StreamPump:
            handshake = TlsHandshake(server_context_for(pair), timeout=5.0, server_side=True)
            return StreamPump(EchoSession(loop.time()), on_event=events.append, tls=handshake)

        server = await loop.create_server(accepted, HOST, 0)
        port = server.sockets[0].getsockname()[1]
        try:
            for _ in range(5):  # the same flight every time; a few rounds for good measure
                answer = await loop.run_in_executor(
                    None, finished_and_first_bytes_in_one_flight, port, client, b"bye\n"
                )
                assert answer == b"goodbye\n"
            ends = [e.termination.cause for e in events if isinstance(e, Ended)]
            assert ends == [Cause.LOCAL_CLOSE] * 5
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(asyncio.wait_for(scenario(), LIMIT))
