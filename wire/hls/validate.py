"""The HLS validator: every registered rule over one playlist or a sequence of reloads.

Rules live in :mod:`wire.hls.rules` (text, playlist and reload scopes) and register themselves
by name in :data:`~wire.hls.rules.registry.RULES`. When the text cannot be parsed at all the
validator reports :data:`PARSE_RULE`, unless a text rule has already named the cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from wire.hls.errors import PlaylistError
from wire.hls.lines import decode, split_lines
from wire.hls.parse import parse
from wire.hls.playlist import MediaPlaylist
from wire.hls.rules import playlist as _playlist_rules  # noqa: F401  (registers the rules)
from wire.hls.rules import reload as _reload_rules  # noqa: F401
from wire.hls.rules import text as _text_rules  # noqa: F401
from wire.hls.rules.registry import (
    PLAYLIST_RULES,
    RELOAD_RULES,
    RULES,
    TEXT_RULES,
    Finding,
    PlaylistView,
    Severity,
    Snapshot,
    TextView,
)

PARSE_RULE = "playlist-syntax"

__all__ = [
    "PARSE_RULE",
    "RULES",
    "Finding",
    "Reload",
    "Severity",
    "check_model",
    "check_playlist",
    "check_reloads",
    "only_errors",
]


@dataclass(frozen=True, slots=True)
class Reload:
    """One fetch of a playlist: when the response arrived (seconds, any monotonic clock of the
    observer) and its body."""

    at: float
    body: str | bytes


def check_model(playlist: MediaPlaylist, *, live: bool = True) -> list[Finding]:
    """The playlist-scope rules over a model (a writer checking what it is about to publish)."""
    view = PlaylistView(playlist, live)
    return [rule.finding(violation) for rule in PLAYLIST_RULES for violation in rule.check(view)]


def _check_text(body: str | bytes, live: bool) -> tuple[list[Finding], MediaPlaylist | None]:
    try:
        text = decode(body)
    except PlaylistError as exc:
        return [Finding(PARSE_RULE, Severity.ERROR, str(exc))], None
    view = TextView(text, tuple(split_lines(text)))
    findings = [rule.finding(violation) for rule in TEXT_RULES for violation in rule.check(view)]
    try:
        playlist = parse(text)
    except PlaylistError as exc:
        if not only_errors(findings):
            findings.append(Finding(PARSE_RULE, Severity.ERROR, str(exc)))
        return findings, None
    return findings + check_model(playlist, live=live), playlist


def check_playlist(body: str | bytes, *, live: bool = True) -> list[Finding]:
    """Every text and playlist rule over one playlist; ``live`` says the stream is live."""
    return _check_text(body, live)[0]


def check_reloads(
    reloads: Sequence[Reload], *, live: bool = True, each_playlist: bool = True
) -> list[Finding]:
    """The reload rules over successive fetches of one playlist, in fetch order.

    With ``each_playlist`` the single-playlist findings of every reload are included too,
    tagged with the reload's index. Unparseable reloads are left out of the reload rules.
    """
    findings: list[Finding] = []
    snapshots: list[Snapshot] = []
    positions: list[int] = []
    for index, reload in enumerate(reloads):
        found, playlist = _check_text(reload.body, live)
        if each_playlist:
            findings.extend(replace(finding, reload=index) for finding in found)
        if playlist is not None:
            snapshots.append(Snapshot(reload.at, playlist))
            positions.append(index)
    for rule in RELOAD_RULES:
        for violation in rule.check(snapshots):
            position = positions[violation.reload] if violation.reload is not None else None
            findings.append(rule.finding(violation, position))
    return findings


def only_errors(findings: Sequence[Finding]) -> list[Finding]:
    """Only the error-level findings."""
    return [finding for finding in findings if finding.severity is Severity.ERROR]
