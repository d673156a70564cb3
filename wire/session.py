"""Why a connection ended: one structured answer shared by every protocol and session object.

A connection (``wire.rtmp``, ``wire.rtsp``) or a session built on one ends exactly once, and its
``ConnectionTerminated`` event carries a :class:`Termination`: a :class:`Cause` to act on, plain
words to log, and what goes with the cause (the refusal's status, the wire exception, the phase
that ran out of time). Callers branch on ``cause`` and never parse ``detail``::

    from wire.session import Cause

    ended = event.termination
    if ended.cause is Cause.TIMED_OUT:
        fail(f"{ended.phase} timed out")
    elif ended.cause is Cause.PROTOCOL_ERROR:
        fail(f"protocol error: {ended.detail}")  # ended.error is the RemoteProtocolError
    elif ended.cause is Cause.REFUSED:
        refuse(ended.status)

This module is sans-IO like the rest of ``wire``: no sockets, no clock, no event loop.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Cause(enum.Enum):
    """What ended a connection, from the point of view of the side that reports it."""

    PEER_CLOSED = "peer closed"
    """The other side closed or reset the connection (EOF, RST, a broken read)."""
    TIMED_OUT = "timed out"
    """A deadline we own expired: a phase, idleness, missing media, a keepalive."""
    REFUSED = "refused"
    """A request was refused with a status (RTSP 4xx/5xx, an RTMP ``_error`` or onStatus error):
    by the peer on a client connection, by us on a server connection. ``status`` says which."""
    PROTOCOL_ERROR = "protocol error"
    """The peer broke the protocol; ``error`` holds the wire exception."""
    LOCAL_CLOSE = "local close"
    """We closed: stop(), shutdown, a TEARDOWN or unpublish that completed."""
    OVERLOAD = "overload"
    """A limit of ours: connections, buffered bytes, a peer that does not read."""


@dataclass(frozen=True, slots=True)
class Termination:
    """Why a connection ended, and what goes with that cause.

    ``detail`` is for people (logs, the API, error messages) and is never parsed. ``status`` is
    the RTSP status code or RTMP status code of a :attr:`Cause.REFUSED`; ``error`` the exception
    behind a :attr:`Cause.PROTOCOL_ERROR` (or the OS error behind a broken connection); ``phase``
    the phase of the protocol or session it ended in, when it has phases (for
    :attr:`Cause.TIMED_OUT`, the one that ran out of time).
    """

    cause: Cause
    detail: str
    status: int | str | None = None
    error: Exception | None = None
    phase: str | None = None

    def __str__(self) -> str:
        return self.detail

    @classmethod
    def peer_closed(
        cls,
        detail: str = "peer closed the connection",
        *,
        error: Exception | None = None,
        phase: str | None = None,
    ) -> Termination:
        """The peer closed or reset the connection; ``error`` is the OS error of a reset."""
        return cls(Cause.PEER_CLOSED, detail, error=error, phase=phase)

    @classmethod
    def local_close(
        cls, detail: str = "closed locally", *, phase: str | None = None
    ) -> Termination:
        """We closed the connection."""
        return cls(Cause.LOCAL_CLOSE, detail, phase=phase)

    @classmethod
    def timed_out(cls, phase: str, detail: str | None = None) -> Termination:
        """``phase`` ran out of time; the detail says so unless given."""
        return cls(Cause.TIMED_OUT, detail or f"timed out waiting for {phase}", phase=phase)

    @classmethod
    def protocol_error(cls, error: Exception, *, phase: str | None = None) -> Termination:
        """The peer broke the protocol; the detail is the exception's message."""
        return cls(Cause.PROTOCOL_ERROR, str(error), error=error, phase=phase)

    @classmethod
    def refused(cls, status: int | str, detail: str, *, phase: str | None = None) -> Termination:
        """A request was refused with ``status``."""
        return cls(Cause.REFUSED, detail, status=status, phase=phase)

    @classmethod
    def overload(cls, detail: str, *, phase: str | None = None) -> Termination:
        """A limit of ours ended the connection."""
        return cls(Cause.OVERLOAD, detail, phase=phase)
