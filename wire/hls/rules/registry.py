"""The validator's rule registry: findings, the views rules read, and the decorators.

A rule is a small function registered under a name with a severity; its docstring's first line
says what it checks and cites RFC 8216 (or rfc8216bis, or Apple's HLS Authoring Specification).
It yields :class:`Violation` values and the runner turns them into :class:`Finding` values.
Three scopes exist: text rules read the raw lines (what the model cannot see: tag order,
repetition, spelling), playlist rules read the parsed model, reload rules read a sequence of
playlists fetched over time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from wire.hls.lines import Line
from wire.hls.playlist import MediaPlaylist

C = TypeVar("C", bound=Callable[..., Iterator["Violation"]])


class Severity(StrEnum):
    ERROR = "error"  # breaks a MUST of the RFC
    WARNING = "warning"  # breaks a SHOULD, or a requirement of Apple's authoring spec


class Scope(StrEnum):
    TEXT = "text"
    PLAYLIST = "playlist"
    RELOADS = "reloads"


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule. ``line`` is 1-based; ``reload`` indexes the reload sequence."""

    rule: str
    severity: Severity
    message: str
    line: int | None = None
    reload: int | None = None

    def __str__(self) -> str:
        where = "".join(
            (
                f"reload {self.reload}: " if self.reload is not None else "",
                f"line {self.line}: " if self.line is not None else "",
            )
        )
        return f"{self.severity} {self.rule}: {where}{self.message}"


@dataclass(frozen=True, slots=True)
class Violation:
    """What a rule yields; ``reload`` is the index of the playlist it was seen in."""

    message: str
    line: int | None = None
    reload: int | None = None


@dataclass(frozen=True, slots=True)
class TextView:
    """A playlist as text: the raw string and its non-blank lines."""

    text: str
    lines: tuple[Line, ...]

    def tags(self, *names: str) -> Iterator[Line]:
        return (line for line in self.lines if line.is_tag and line.tag in names)


@dataclass(frozen=True, slots=True)
class PlaylistView:
    """A parsed playlist and what the caller knows about it (``live``: a live stream)."""

    playlist: MediaPlaylist
    live: bool


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One reload: when it arrived (seconds, the observer's clock) and what it held."""

    at: float
    playlist: MediaPlaylist


TextCheck = Callable[[TextView], Iterator[Violation]]
PlaylistCheck = Callable[[PlaylistView], Iterator[Violation]]
ReloadCheck = Callable[[Sequence[Snapshot]], Iterator[Violation]]


@dataclass(frozen=True, slots=True)
class Rule(Generic[C]):
    name: str
    scope: Scope
    severity: Severity
    check: C

    @property
    def reference(self) -> str:
        """The docstring's first paragraph: what the rule checks and where that is written."""
        paragraph = (self.check.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(line.strip() for line in paragraph.splitlines())

    def finding(self, violation: Violation, reload: int | None = None) -> Finding:
        return Finding(
            self.name,
            self.severity,
            violation.message,
            line=violation.line,
            reload=violation.reload if reload is None else reload,
        )


# Every rule by name, and the rules of each scope in registration order.
RULES: dict[str, Rule[Callable[..., Iterator[Violation]]]] = {}
TEXT_RULES: list[Rule[TextCheck]] = []
PLAYLIST_RULES: list[Rule[PlaylistCheck]] = []
RELOAD_RULES: list[Rule[ReloadCheck]] = []


def _add(rule: Rule[C], scope_rules: list[Rule[C]]) -> None:
    if rule.name in RULES:
        raise ValueError(f"HLS rule {rule.name!r} is registered twice")
    if not rule.check.__doc__:
        raise ValueError(f"HLS rule {rule.name!r} has no docstring naming its source")
    RULES[rule.name] = rule  # type: ignore[assignment]
    scope_rules.append(rule)


def text_rule(name: str, severity: Severity = Severity.ERROR) -> Callable[[TextCheck], TextCheck]:
    def register(check: TextCheck) -> TextCheck:
        _add(Rule(name, Scope.TEXT, severity, check), TEXT_RULES)
        return check

    return register


def playlist_rule(
    name: str, severity: Severity = Severity.ERROR
) -> Callable[[PlaylistCheck], PlaylistCheck]:
    def register(check: PlaylistCheck) -> PlaylistCheck:
        _add(Rule(name, Scope.PLAYLIST, severity, check), PLAYLIST_RULES)
        return check

    return register


def reload_rule(
    name: str, severity: Severity = Severity.ERROR
) -> Callable[[ReloadCheck], ReloadCheck]:
    def register(check: ReloadCheck) -> ReloadCheck:
        _add(Rule(name, Scope.RELOADS, severity, check), RELOAD_RULES)
        return check

    return register
