"""Publish authorisation by stream key.

The publish name carries the key as a query, the way OBS's "stream key" field is usually filled
in: ``publish("test?key=secret")``. Keys are configured per name, and ``*`` gives a key that opens
every name. Without any keys configured, every valid name may publish. Keys are compared in
constant time (``hmac.compare_digest``), so the time a refusal takes says nothing about the key.

Every refused key gets the same answer (NetStream.Publish.Denied, :data:`DENIED_DESCRIPTION`)
whether no key was given, the key was wrong or the name has no key at all: different answers
would tell a guesser which names have keys. The precise reason is for the log only. A name that
is not a valid stream name is answered NetStream.Publish.BadName, as that says nothing about keys.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from refserver.streams import valid_stream_name
from wire.rtmp.server import PUBLISH_BAD_NAME, PUBLISH_DENIED

ANY_NAME = "*"
KEY_PARAMETER = "key"
DENIED_DESCRIPTION = "Publishing is not allowed."


@dataclass(frozen=True, slots=True)
class PublishDecision:
    """The stream name asked for, and why it is refused (``None`` when it is not)."""

    name: str
    refusal: str | None = None
    code: str | None = None
    """The onStatus code to refuse with: NetStream.Publish.Denied or .BadName."""

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    @property
    def key_refused(self) -> bool:
        """True when the name was refused for its key (these refusals are counted per address)."""
        return self.code == PUBLISH_DENIED

    @property
    def description(self) -> str:
        """What the publisher is told: the same for every refused key."""
        if self.key_refused:
            return DENIED_DESCRIPTION
        return f"{self.name}: {self.refusal}"


class StreamKeys:
    """Decides who may publish which name."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self._keys = {name: key.encode() for name, key in keys.items()}

    @property
    def open(self) -> bool:
        """True when no key is configured: every valid name may publish."""
        return not self._keys

    def authorize(self, publish_name: str) -> PublishDecision:
        """Check a ``publish`` command's stream name (``name`` or ``name?key=...``)."""
        name, _, query = publish_name.partition("?")
        if not valid_stream_name(name):
            return PublishDecision(
                name, "stream name is not 1-64 letters, digits, '_', '-' or '.'", PUBLISH_BAD_NAME
            )
        if self.open:
            return PublishDecision(name)
        expected = [self._keys[n] for n in (name, ANY_NAME) if n in self._keys]
        if not expected:
            return PublishDecision(
                name, "no stream key is configured for this name", PUBLISH_DENIED
            )
        given = parse_qs(query).get(KEY_PARAMETER, [])
        if not given:
            return PublishDecision(name, "no stream key given", PUBLISH_DENIED)
        candidate = given[-1].encode()
        # Compare against every candidate, always, so the timing does not tell which matched.
        matched = False
        for key in expected:
            matched |= hmac.compare_digest(candidate, key)
        if not matched:
            return PublishDecision(name, "wrong stream key", PUBLISH_DENIED)
        return PublishDecision(name)
