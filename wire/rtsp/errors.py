"""The two error kinds of :mod:`wire.rtsp`.

:class:`RemoteProtocolError` means the peer broke the protocol. It is a ``ValueError`` and is the
only exception a parser of network input raises; it carries the status code a server answers with
and whether the byte stream can still be read after it. :class:`LocalProtocolError` means our
caller misused the API (sent a response to a request that was never received, wrote to a closed
connection, built a header with a line break in it).
"""

from __future__ import annotations

from wire.rtsp.status import StatusCode


class RemoteProtocolError(ValueError):
    """The peer sent bytes that RTSP does not allow.

    ``status_code`` is what a server answers; ``fatal`` is true when the stream cannot be framed
    any more and the connection must close; ``cseq`` is the offending request's CSeq when it could
    be read, so that the error answer can echo it (RFC 2326 §12.17).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int = StatusCode.BAD_REQUEST,
        fatal: bool = False,
        cseq: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.fatal = fatal
        self.cseq = cseq


class LocalProtocolError(Exception):
    """Our caller asked for something the protocol or the connection state does not allow."""
