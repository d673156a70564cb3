"""Errors raised by :mod:`wire.rtmp`.

Parsers of network input raise :class:`RtmpError` (a ``ValueError``) with a message naming what
was being read. The connections turn a :class:`RemoteProtocolError` (and any :class:`RtmpError`
or AMF0 error from the peer's bytes) into a close plus a ``ConnectionTerminated`` event; only a
:class:`LocalProtocolError`, the caller misusing the API, propagates.
"""

from __future__ import annotations


class RtmpError(ValueError):
    """Malformed or truncated RTMP wire data (handshake, chunk or message)."""


class RemoteProtocolError(RtmpError):
    """The peer broke the protocol.

    ``status_code`` is the code to answer with before closing, when there is one (for example
    ``NetStream.Publish.BadName``); ``None`` means close without an answer. The answer is an
    ``_error`` to ``transaction_id`` when that is set, else an ``onStatus`` on ``stream_id``.
    """

    def __init__(
        self,
        message: str,
        status_code: str | None = None,
        *,
        transaction_id: float | None = None,
        stream_id: int = 0,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.transaction_id = transaction_id
        self.stream_id = stream_id


class LocalProtocolError(Exception):
    """The caller used the connection API in a way its current state does not allow."""
