"""HLS media playlists (RFC 8216): model, render, parse and the validator's rules."""

from wire.hls.errors import PlaylistError
from wire.hls.parse import parse
from wire.hls.playlist import (
    ByteRange,
    InitSection,
    MediaPlaylist,
    MediaSegment,
    PartialSegment,
    PlaylistType,
    PreloadHint,
    PreloadHintType,
    ServerControl,
)
from wire.hls.render import render
from wire.hls.validate import Finding, Reload, Severity, check_playlist, check_reloads

__all__ = [
    "ByteRange",
    "Finding",
    "InitSection",
    "MediaPlaylist",
    "MediaSegment",
    "PartialSegment",
    "PlaylistError",
    "PlaylistType",
    "PreloadHint",
    "PreloadHintType",
    "Reload",
    "ServerControl",
    "Severity",
    "check_playlist",
    "check_reloads",
    "parse",
    "render",
]
