"""What an observation of an HLS stream recorded: every reload, segment, probe.

Plain data, filled by :class:`~conformance.hls.recorder.HlsRecorder` and judged by the cases
(which never touch the network). Times are the observer's monotonic clock in seconds
(``*_at``) and, where latency is computed against stamps, the wall clock (``wall``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.hls.media import InitInfo, SegmentMedia
from conformance.hls.multivariant import Multivariant
from wire.hls import MediaPlaylist


@dataclass
class Exchange:
    """One HTTP GET: when it was sent and answered, the status, headers (lower-case names)
    and body. ``error`` is set when no answer came (connection refused, timeout)."""

    url: str
    requested_at: float
    arrived_at: float = 0.0
    wall: float = 0.0
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""
    final_url: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def outcome(self) -> str:
        """The answer in words: ``HTTP 404`` or the error."""
        return f"HTTP {self.status}" if self.status is not None else self.error


@dataclass
class Reload:
    """Reload ``index`` (0-based) of the media playlist."""

    index: int
    exchange: Exchange
    playlist: MediaPlaylist | None = None
    parse_error: str = ""

    @property
    def at(self) -> float:
        return self.exchange.arrived_at


@dataclass
class SegmentRecord:
    """A media segment, from the reload that first listed it."""

    uri: str
    sequence: int
    extinf: float
    discontinuity_number: int
    discontinuity: bool
    first_reload: int
    listed_at: float
    listed_wall: float
    init_uri: str | None = None
    status: int | None = None
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    size: int = 0
    sha256: str = ""
    media: SegmentMedia | None = None
    last_listed_reload: int = 0
    removed_reload: int | None = None

    @property
    def where(self) -> str:
        return f"segment {self.sequence} ({self.uri.rsplit('/', 1)[-1]})"


@dataclass
class InitRecord:
    uri: str
    exchange: Exchange
    info: InitInfo | None = None


@dataclass
class RemovalProbe:
    """A removed segment fetched again while RFC 8216 §6.2.2 says it must still be there."""

    uri: str
    sequence: int
    removed_reload: int
    required: float  # seconds it must stay available after its removal
    elapsed_bound: float  # at most this long after the removal when probed
    exchange: Exchange | None = None
    same_bytes: bool | None = None


@dataclass
class BlockingProbe:
    """An LL-HLS blocking playlist request and what rfc8216bis §6.2.5.2 expects of it."""

    name: str
    url: str
    expect: str
    exchange: Exchange | None = None
    waited: float = 0.0
    expected_sequence: int | None = None
    delivered: bool | None = None  # the answer lists the segment asked for


@dataclass
class HlsRecording:
    """One observation of a stream."""

    target: str
    media_url: str = ""
    multivariant_exchange: Exchange | None = None
    multivariant: Multivariant | None = None
    multivariant_error: str = ""
    reloads: list[Reload] = field(default_factory=list)
    segments: dict[str, SegmentRecord] = field(default_factory=dict)
    inits: dict[str, InitRecord] = field(default_factory=dict)
    removal_probes: list[RemovalProbe] = field(default_factory=list)
    blocking_probes: list[BlockingProbe] = field(default_factory=list)
    started_at: float = 0.0
    ended_at: float = 0.0
    duration_asked: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def playlists(self) -> list[tuple[Reload, MediaPlaylist]]:
        return [(r, r.playlist) for r in self.reloads if r.playlist is not None]

    @property
    def first_playlist(self) -> MediaPlaylist | None:
        return next((p for _, p in self.playlists), None)

    def ordered_segments(self) -> list[SegmentRecord]:
        """Segments in the order they were first listed."""
        return sorted(self.segments.values(), key=lambda s: (s.first_reload, s.sequence))
