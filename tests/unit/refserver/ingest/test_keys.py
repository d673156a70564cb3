"""Publish authorisation by stream key."""

from __future__ import annotations

import pytest

from refserver.ingest.keys import PublishDecision, StreamKeys

DENIED = "NetStream.Publish.Denied"
BAD_NAME = "NetStream.Publish.BadName"


@pytest.mark.parametrize(
    ("publish_name", "decision"),
    [
        ("cam?key=secret", PublishDecision("cam")),
        ("cam?key=master", PublishDecision("cam")),
        ("other?key=master", PublishDecision("other")),
        ("cam?key=wrong", PublishDecision("cam", "wrong stream key", DENIED)),
        ("cam?key=secre", PublishDecision("cam", "wrong stream key", DENIED)),
        ("cam", PublishDecision("cam", "no stream key given", DENIED)),
        ("cam?token=secret", PublishDecision("cam", "no stream key given", DENIED)),
        ("cam?key=wrong&key=secret", PublishDecision("cam")),
    ],
)
def test_keys_per_name_and_for_any_name(publish_name: str, decision: PublishDecision):
    keys = StreamKeys({"cam": "secret", "*": "master"})
    assert keys.authorize(publish_name) == decision


def test_name_without_a_configured_key_is_denied():
    keys = StreamKeys({"cam": "secret"})
    assert keys.authorize("other?key=secret") == PublishDecision(
        "other", "no stream key is configured for this name", DENIED
    )


def test_without_keys_every_valid_name_publishes():
    keys = StreamKeys({})
    assert keys.open
    assert keys.authorize("anything?key=x").allowed


@pytest.mark.parametrize("name", ["", "../x", ".x", "a b", "a/b", "x" * 65, "é"])
def test_unsafe_names_are_bad_names(name: str):
    decision = StreamKeys({}).authorize(name)
    assert decision.code == BAD_NAME
    assert decision.refusal == "stream name is not 1-64 letters, digits, '_', '-' or '.'"
