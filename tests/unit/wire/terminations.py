"""Comparing ``ConnectionTerminated`` events (RTMP or RTSP) by what their termination says.

A termination may hold the wire exception, which compares by identity; :func:`ended` matches
its type instead, so an expected event can be written down in full::

    assert drain(server) == [ended(Cause.PROTOCOL_ERROR, "connect ...", error=RemoteProtocolError)]
"""

from __future__ import annotations

from dataclasses import dataclass

from wire.session import Cause, Termination


@dataclass(frozen=True)
class ended:  # lower case: it reads as the event it stands for
    """Equal to a ``ConnectionTerminated`` whose termination has these fields."""

    cause: Cause
    detail: str
    status: int | str | None = None
    error: type[Exception] | None = None
    phase: str | None = None

    def matches(self, termination: Termination) -> bool:
        error = termination.error
        return (
            termination.cause is self.cause
            and termination.detail == self.detail
            and termination.status == self.status
            and termination.phase == self.phase
            and (type(error) is self.error if self.error is not None else error is None)
        )

    def __eq__(self, other: object) -> bool:
        termination = getattr(other, "termination", None)
        return isinstance(termination, Termination) and self.matches(termination)

    def __hash__(self) -> int:
        return hash((self.cause, self.detail))
