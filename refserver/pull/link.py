"""The byte stream RTSP runs on: a TCP connection, TLS for ``rtsps://``, or an HTTP tunnel.

An HTTP tunnel is QuickTime's scheme for networks that let only HTTP through: a GET leg, which
the camera answers ``200 OK`` and then uses for all it sends (RTSP answers and interleaved RTP),
and a POST leg, on which our RTSP goes base64-encoded and which is never answered. Both legs
carry the same ``x-sessioncookie``; under ``rtsps://`` both are TLS connections. A session sees
one :class:`Link` either way. The link is opened with asyncio's streams, whose errors say
plainly what went wrong; then its transport is handed to the protocol that drives the session.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import ssl
from typing import cast

from refserver.pull.address import CameraAddress
from refserver.pull.errors import PullError, Unreachable
from wire.asyncio.pump import StreamPump
from wire.asyncio.transport import ForwardingTransport
from wire.rtsp import RemoteProtocolError, StatusCode
from wire.rtsp.tunnel import TunnelRequest, encode_tunnel_data, parse_tunnel_response

READ_SIZE = 65536
SESSION_COOKIE_BYTES = 16


@functools.cache
def client_context(verify: bool) -> ssl.SSLContext:
    """TLS for ``rtsps://``: the system's trust store, or (``verify`` False) any certificate,
    as cameras mostly present self-signed ones."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Link:
    """One connection to the camera that carries RTSP both ways, connected and not yet read
    from: :meth:`attach` hands it to the protocol that drives it (a ``StreamPump``)."""

    def __init__(
        self,
        transport: asyncio.Transport,
        early: bytes = b"",
        writers: tuple[asyncio.StreamWriter, ...] = (),
        reader: asyncio.StreamReader | None = None,
    ) -> None:
        self.transport = transport
        self.peer_host: str = transport.get_extra_info("peername")[0]
        self.local_host: str = transport.get_extra_info("sockname")[0]
        self._early = early  # RTSP that came with the HTTP tunnel's answer
        # The streams the link was opened with: a StreamWriter closes its transport when it is
        # collected, so they live as long as the link.
        self._writers = writers
        self._reader = reader  # what read the link until now, and may have seen its end

    def attach(self, protocol: StreamPump) -> None:
        """From now on ``protocol`` gets what the camera sends and writes to :attr:`transport`."""
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        early, self._early = self._early, b""
        if early:
            protocol.data_received(early)
        if self._reader is not None and self._reader.at_eof():
            # The camera hung up before the hand-over: its end went to the stream reader.
            protocol.eof_received()

    def close(self) -> None:
        self.transport.close()


class TunnelTransport(ForwardingTransport):
    """The two legs of an HTTP tunnel as one transport: read from GET, write base64 to POST."""

    def __init__(self, get: asyncio.Transport, post: asyncio.Transport) -> None:
        super().__init__(get)
        self._post = post

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._post.is_closing():
            self._post.write(encode_tunnel_data(bytes(data)))

    def get_write_buffer_size(self) -> int:
        return self._post.get_write_buffer_size()

    def close(self) -> None:
        self._post.close()
        super().close()

    def abort(self) -> None:
        self._post.abort()
        super().abort()


def _transport(writer: asyncio.StreamWriter) -> asyncio.Transport:
    # A stream transport, though uvloop's derive from none of asyncio's transport classes.
    return cast(asyncio.Transport, writer.transport)


async def open_link(
    address: CameraAddress,
    *,
    tunnel: bool = False,
    tls_verify: bool = True,
    timeout: float,
    user_agent: str | None = None,
) -> Link:
    """Connect to the camera (TLS for ``rtsps://``), through an HTTP tunnel when ``tunnel``.

    Raises :class:`PullError`, :class:`Unreachable` when the camera's port gave no answer at all;
    every wait is bounded by ``timeout``.
    """
    context = client_context(tls_verify) if address.secure else None
    get = await _connect(address, context, timeout)
    if not tunnel:
        return Link(_transport(get[1]), writers=(get[1],), reader=get[0])
    try:
        return await _open_tunnel(address, context, get, timeout, user_agent)
    except BaseException:
        get[1].close()
        raise


async def _connect(
    address: CameraAddress, context: ssl.SSLContext | None, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    where = address.where
    hostname = address.host if context is not None else None
    try:
        return await asyncio.wait_for(
            asyncio.open_connection(
                address.host, address.port, ssl=context, server_hostname=hostname
            ),
            timeout,
        )
    except TimeoutError:
        raise Unreachable(f"no answer from {where}") from None
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or exc.reason or str(exc)
        raise PullError(f"the camera's TLS certificate is not trusted: {reason}") from None
    except ssl.SSLError as exc:
        raise PullError(f"TLS with {where} failed: {exc.reason or exc}") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise Unreachable(f"cannot connect to {where}: {reason}") from None


async def _open_tunnel(
    address: CameraAddress,
    context: ssl.SSLContext | None,
    get: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    timeout: float,
    user_agent: str | None,
) -> Link:
    cookie = secrets.token_hex(SESSION_COOKIE_BYTES)
    reader, writer = get
    writer.write(TunnelRequest.get(address.path, cookie, user_agent, address.where).serialize())
    received = b""
    try:
        while (answered := parse_tunnel_response(received)) is None:
            async with asyncio.timeout(timeout):
                data = await reader.read(READ_SIZE)
            if not data:
                raise Unreachable("the camera closed the HTTP tunnel before answering its GET")
            received += data
    except TimeoutError:
        raise Unreachable(f"no answer to the HTTP tunnel's GET within {timeout:g} s") from None
    except RemoteProtocolError as exc:
        raise PullError(f"the camera's answer to the HTTP tunnel's GET: {exc}") from None
    except OSError as exc:
        error = Unreachable if not received else PullError
        raise error(f"the HTTP tunnel broke: {exc.strerror or exc}") from None
    response, early = answered
    if response.status_code != StatusCode.OK:
        answer = f"GET answered {response.status_code} {response.reason}"
        raise PullError(f"the camera refused the HTTP tunnel ({answer})")
    _, post = await _connect(address, context, timeout)
    post.write(TunnelRequest.post(address.path, cookie, user_agent, address.where).serialize())
    tunnel = TunnelTransport(_transport(writer), _transport(post))
    return Link(tunnel, early, writers=(writer, post), reader=reader)
