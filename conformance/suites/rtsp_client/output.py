"""Follow the HLS a client under test writes into a folder, segment by segment.

The client is told to write into ``{out}``; whichever media playlist appears there (at any
depth: ``index.m3u8`` from FFmpeg, ``live/NAME/index.m3u8`` from a server) is read every half
second, and each segment is read once, when it is first listed (a listed segment is complete,
RFC 8216 §6.2.1), before a client that keeps a sliding window deletes it. The analysis is
:func:`conformance.hls.media.analyse_segment`'s: stamps, tracks, timing, decode errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from conformance.hls.media import InitInfo, SegmentMedia, analyse_init, analyse_segment
from wire.hls.errors import PlaylistError
from wire.hls.parse import parse
from wire.hls.playlist import InitSection


@dataclass
class OutputSegment:
    """One segment of the client's output, as first listed."""

    uri: str
    discontinuity: bool
    media: SegmentMedia


@dataclass
class FolderOutput:
    """What the client wrote under ``root``, in playlist order."""

    root: Path
    playlist: Path | None = None
    segments: list[OutputSegment] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _seen: set[Path] = field(default_factory=set)
    _inits: dict[Path, tuple[InitInfo, bytes]] = field(default_factory=dict)

    def poll(self) -> None:
        """Read the playlist once and every segment it lists that was not read yet."""
        playlist = self.playlist or self._find_playlist()
        if playlist is None:
            return
        try:
            parsed = parse(playlist.read_bytes())
        except (OSError, PlaylistError, ValueError):
            return  # being rewritten, or not a media playlist yet: read it again next time
        self.playlist = playlist
        for segment in parsed.segments:
            path = (playlist.parent / segment.uri).resolve()
            if path in self._seen:
                continue
            try:
                data = path.read_bytes()
            except OSError as exc:
                self.errors.append(f"{segment.uri}: listed but not readable ({exc.strerror})")
                self._seen.add(path)
                continue
            self._seen.add(path)
            init, init_bytes = self._init(playlist, segment.init_section)
            media = analyse_segment(data, init, init_bytes)
            self.segments.append(OutputSegment(segment.uri, segment.discontinuity, media))

    def _find_playlist(self) -> Path | None:
        for candidate in sorted(self.root.rglob("*.m3u8")):
            try:
                text = candidate.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if "#EXTINF" in text:
                return candidate
        return None

    def _init(self, playlist: Path, section: InitSection | None) -> tuple[InitInfo | None, bytes]:
        if section is None:
            return None, b""
        path = (playlist.parent / section.uri).resolve()
        if path not in self._inits:
            try:
                data = path.read_bytes()
            except OSError:
                return None, b""
            self._inits[path] = (analyse_init(data), data)
        return self._inits[path]
