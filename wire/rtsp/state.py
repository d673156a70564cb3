"""Session states and transitions as data (RFC 2326 Appendix A), and the aggregate-control rules.

RECORD and the Recording state are not modelled: camsim plays, it does not record.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from wire.rtsp.message import Method
from wire.rtsp.status import StatusCode


class SessionState(Enum):
    INIT = "init"
    READY = "ready"
    PLAYING = "playing"


INIT, READY, PLAYING = SessionState.INIT, SessionState.READY, SessionState.PLAYING

# A.1 (client) and A.2 (server) agree for play-only sessions: the state after a successful
# response to a method received in a state. A pair missing from the table is answered 455.
TRANSITIONS: Mapping[tuple[SessionState, str], SessionState] = {
    (INIT, Method.SETUP): READY,
    (INIT, Method.TEARDOWN): INIT,
    (READY, Method.PLAY): PLAYING,
    (READY, Method.SETUP): READY,
    (READY, Method.TEARDOWN): INIT,
    (PLAYING, Method.PLAY): PLAYING,
    (PLAYING, Method.PAUSE): READY,
    (PLAYING, Method.TEARDOWN): INIT,
    (PLAYING, Method.SETUP): PLAYING,
}

# A.2: "The server does not need to record the state for OPTIONS, ANNOUNCE, DESCRIBE,
# GET_PARAMETER, SET_PARAMETER": they are valid in every state and change none.
STATELESS_METHODS = frozenset(
    {
        Method.OPTIONS,
        Method.DESCRIBE,
        Method.ANNOUNCE,
        Method.GET_PARAMETER,
        Method.SET_PARAMETER,
    }
)


def is_valid_in(state: SessionState, method: str) -> bool:
    """Whether ``method`` may be sent or received in ``state``."""
    return method in STATELESS_METHODS or (state, method) in TRANSITIONS


def next_state(state: SessionState, method: str) -> SessionState:
    """The state after a successful response to ``method``."""
    return TRANSITIONS.get((state, method), state)


def valid_methods(state: SessionState, supported: frozenset[str]) -> list[str]:
    """The supported methods valid in ``state``, for the ``Allow`` header of a 455."""
    return sorted(m for m in supported if is_valid_in(state, m))


class UrlTarget(Enum):
    """What a PLAY or PAUSE names: the whole presentation, or one of its streams."""

    AGGREGATE = "aggregate"
    MEDIA = "media"


class AggregateControl(Enum):
    """Which URLs a server accepts for PLAY and PAUSE of a multi-stream session (§1.3, §C.1.1)."""

    ANY = "any"
    AGGREGATE_ONLY = "aggregate-only"
    MEDIA_ONLY = "media-only"


AGGREGATE_METHODS = frozenset({Method.PLAY, Method.PAUSE})

AGGREGATE_RULES: Mapping[tuple[AggregateControl, UrlTarget], StatusCode] = {
    (AggregateControl.AGGREGATE_ONLY, UrlTarget.MEDIA): (
        StatusCode.ONLY_AGGREGATE_OPERATION_ALLOWED
    ),
    (AggregateControl.MEDIA_ONLY, UrlTarget.AGGREGATE): StatusCode.AGGREGATE_OPERATION_NOT_ALLOWED,
}


def aggregate_violation(
    policy: AggregateControl, method: str, target: UrlTarget, stream_count: int
) -> StatusCode | None:
    """The 459/460 answer a request deserves under ``policy``, or None when it is allowed.

    A session with a single stream is controlled through either URL.
    """
    if method not in AGGREGATE_METHODS or stream_count < 2:
        return None
    return AGGREGATE_RULES.get((policy, target))
