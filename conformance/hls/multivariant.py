"""Multivariant (master) playlists (RFC 8216 §4.3.4): just what the suite judges.

:mod:`wire.hls` models media playlists; a target URL may instead name a multivariant playlist,
whose variants the suite lists, follows (the first one) and checks against the media
(BANDWIDTH, CODECS).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from wire.hls.attributes import AttributeList, parse_attributes
from wire.hls.errors import PlaylistError
from wire.hls.lines import decode, split_lines

STREAM_INF = "#EXT-X-STREAM-INF"


@dataclass(frozen=True, slots=True)
class Variant:
    """One EXT-X-STREAM-INF and its URI (resolved against the playlist's URL)."""

    uri: str
    bandwidth: int | None
    average_bandwidth: int | None
    codecs: tuple[str, ...] | None
    resolution: str | None
    line: int


@dataclass(frozen=True, slots=True)
class Multivariant:
    variants: tuple[Variant, ...]
    independent_segments: bool


def is_multivariant(body: str | bytes) -> bool:
    try:
        text = decode(body)
    except PlaylistError:
        return False
    return any(line.tag == STREAM_INF for line in split_lines(text) if line.is_tag)


def parse_multivariant(body: str | bytes, base_url: str) -> Multivariant:
    """The variants; raises :class:`PlaylistError` naming the line when one cannot be read."""
    lines = split_lines(decode(body))
    variants: list[Variant] = []
    pending: tuple[AttributeList, int] | None = None
    independent = False
    for line in lines:
        if line.is_tag and line.tag == "#EXT-X-INDEPENDENT-SEGMENTS":
            independent = True
        elif line.is_tag and line.tag == STREAM_INF:
            try:
                pending = (parse_attributes(line.tag, line.value or ""), line.number)
            except PlaylistError as exc:
                raise PlaylistError(f"line {line.number}: {exc}") from None
        elif line.is_uri and pending is not None:
            attributes, number = pending
            codecs = attributes.quoted("CODECS")
            variants.append(
                Variant(
                    uri=urljoin(base_url, line.text),
                    bandwidth=attributes.integer("BANDWIDTH"),
                    average_bandwidth=attributes.integer("AVERAGE-BANDWIDTH"),
                    codecs=None
                    if codecs is None
                    else tuple(c.strip() for c in codecs.split(",") if c.strip()),
                    resolution=attributes.enumerated("RESOLUTION"),
                    line=number,
                )
            )
            pending = None
    return Multivariant(tuple(variants), independent)
