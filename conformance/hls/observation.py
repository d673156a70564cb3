"""A recording made ready to judge: the validator's findings computed once, and the views
cases share (segment pairs within a discontinuity, reload positions in words)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

from conformance.hls.recording import HlsRecording, Reload, SegmentRecord
from reports.model import Detail
from wire.hls import Finding, MediaPlaylist, check_reloads
from wire.hls import Reload as ValidatorReload


@dataclass
class HlsObservation:
    """What the ``hls`` fixture gives each case."""

    recording: HlsRecording
    findings_by_rule: dict[str, list[tuple[Finding, Reload | None]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        served = [r for r in self.recording.reloads if r.exchange.ok]
        validator_reloads = [ValidatorReload(r.at, r.exchange.body) for r in served]
        for finding in check_reloads(validator_reloads, live=True):
            reload = served[finding.reload] if finding.reload is not None else None
            self.findings_by_rule.setdefault(finding.rule, []).append((finding, reload))

    @property
    def reloads(self) -> list[Reload]:
        return self.recording.reloads

    @property
    def playlists(self) -> list[tuple[Reload, MediaPlaylist]]:
        return self.recording.playlists

    @cached_property
    def segments(self) -> list[SegmentRecord]:
        return self.recording.ordered_segments()

    @property
    def first_playlist(self) -> MediaPlaylist | None:
        return self.recording.first_playlist

    @property
    def target_duration(self) -> int | None:
        playlist = self.first_playlist
        return playlist.target_duration if playlist is not None else None

    def where(self, reload: Reload | None, line: int | None = None) -> str:
        """``reload 4 (+6.2 s), line 7`` for a finding's position."""
        parts = []
        if reload is not None:
            parts.append(f"reload {reload.index} (+{reload.at - self.recording.started_at:.1f} s)")
        if line is not None:
            parts.append(f"line {line}")
        return ", ".join(parts)

    def findings(
        self, *rules: str, only: Callable[[Reload | None], bool] | None = None
    ) -> list[Detail]:
        """The validator's findings of ``rules`` as details, in reload order; ``only`` keeps
        those of the reloads it accepts."""
        details: list[Detail] = []
        for rule in rules:
            for finding, reload in self.findings_by_rule.get(rule, []):
                if only is not None and not only(reload):
                    continue
                details.append(
                    Detail(f"{finding.message} [{rule}]", self.where(reload, finding.line))
                )
        return details

    def consecutive(self) -> Iterator[tuple[SegmentRecord, SegmentRecord]]:
        """Pairs of segments that follow each other (sequence n, n+1) with no discontinuity
        between them, both fetched and analysed."""
        by_sequence: dict[int, SegmentRecord] = {}
        for segment in self.segments:
            by_sequence.setdefault(segment.sequence, segment)
        for sequence in sorted(by_sequence):
            current = by_sequence[sequence]
            following = by_sequence.get(sequence + 1)
            if following is None or following.discontinuity:
                continue
            if current.media is None or following.media is None:
                continue
            if current.discontinuity_number != following.discontinuity_number:
                continue
            yield current, following

    def analysed(self) -> list[SegmentRecord]:
        """Segments fetched with HTTP 200 whose structure could be read."""
        return [s for s in self.segments if s.media is not None and not s.media.error]
