from __future__ import annotations

import pytest

from wire.rtsp.state import (
    TRANSITIONS,
    AggregateControl,
    SessionState,
    UrlTarget,
    aggregate_violation,
    is_valid_in,
    next_state,
    valid_methods,
)

INIT, READY, PLAYING = SessionState.INIT, SessionState.READY, SessionState.PLAYING


@pytest.mark.parametrize(
    ("state", "method", "after"),
    [
        (INIT, "SETUP", READY),
        (READY, "PLAY", PLAYING),
        (PLAYING, "PAUSE", READY),
        (PLAYING, "SETUP", PLAYING),
        (PLAYING, "TEARDOWN", INIT),
        (READY, "TEARDOWN", INIT),
        (READY, "OPTIONS", READY),
        (PLAYING, "GET_PARAMETER", PLAYING),
    ],
)
def test_transitions(state, method, after) -> None:
    assert is_valid_in(state, method)
    assert next_state(state, method) is after


@pytest.mark.parametrize(
    ("state", "method"), [(INIT, "PLAY"), (INIT, "PAUSE"), (READY, "PAUSE"), (INIT, "RECORD")]
)
def test_invalid_in_state(state, method) -> None:
    assert not is_valid_in(state, method)
    assert next_state(state, method) is state


def test_table_is_closed_over_the_states() -> None:
    assert set(TRANSITIONS.values()) <= set(SessionState)


def test_valid_methods_for_the_allow_header() -> None:
    supported = frozenset({"OPTIONS", "SETUP", "PLAY", "PAUSE", "TEARDOWN"})
    assert valid_methods(READY, supported) == ["OPTIONS", "PLAY", "SETUP", "TEARDOWN"]
    assert valid_methods(PLAYING, supported) == ["OPTIONS", "PAUSE", "PLAY", "SETUP", "TEARDOWN"]


@pytest.mark.parametrize(
    ("policy", "method", "target", "streams", "status"),
    [
        (AggregateControl.AGGREGATE_ONLY, "PLAY", UrlTarget.MEDIA, 2, 460),
        (AggregateControl.AGGREGATE_ONLY, "PAUSE", UrlTarget.MEDIA, 2, 460),
        (AggregateControl.AGGREGATE_ONLY, "PLAY", UrlTarget.MEDIA, 1, None),
        (AggregateControl.AGGREGATE_ONLY, "PLAY", UrlTarget.AGGREGATE, 2, None),
        (AggregateControl.AGGREGATE_ONLY, "TEARDOWN", UrlTarget.MEDIA, 2, None),
        (AggregateControl.MEDIA_ONLY, "PLAY", UrlTarget.AGGREGATE, 2, 459),
        (AggregateControl.MEDIA_ONLY, "PLAY", UrlTarget.MEDIA, 2, None),
        (AggregateControl.ANY, "PLAY", UrlTarget.MEDIA, 3, None),
    ],
)
def test_aggregate_rules(policy, method, target, streams, status) -> None:
    assert aggregate_violation(policy, method, target, streams) == status
