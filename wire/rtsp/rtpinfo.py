"""The ``RTP-Info`` header of a PLAY reply (RFC 2326 §12.33).

One entry per stream: ``url=...;seq=...;rtptime=...``, entries separated by commas. URLs are not
quoted in RTSP 1.0 and may themselves contain ``;``, ``,`` and ``=``, so a piece only starts a
new parameter or entry when it reads as one. RFC 7826 adds ``ssrc`` and quoted URLs; both are
accepted, and ``ssrc`` may come in hex or in decimal (retina#137).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from wire.digits import bounded_decimal, shown_digits
from wire.rtsp.errors import RemoteProtocolError

_PARAM_RE = re.compile(r"\s*(seq|rtptime|ssrc)\s*=\s*(\S*)\s*", re.IGNORECASE)
_ENTRY_START_RE = re.compile(r"\s*url\s*=", re.IGNORECASE)
_HEX_RE = re.compile(r"[0-9A-Fa-f]{1,8}")
# seq is 16 bits on the wire, yet RFC 2326's own example (§C.4) sends seq=9810092: any 32-bit
# value is kept as written and left to the caller to reduce. rtptime and ssrc are 32 bits.
_MAXIMUM = 0xFFFF_FFFF


def _number(name: str, text: str) -> int | None:
    if name == "ssrc" and _HEX_RE.fullmatch(text):
        return int(text, 16)  # eight hex digits (RFC 7826 §18.45); longer numbers are decimal
    return bounded_decimal(text, _MAXIMUM)


@dataclass(frozen=True)
class RtpInfoEntry:
    """What the first packet of one stream will carry after PLAY.

    Each parameter stands on its own: one the parser cannot read (``rtptime=-1``) is left out
    and named in ``problems``, the others are kept.
    """

    url: str
    seq: int | None = None
    rtptime: int | None = None
    ssrc: int | None = None
    problems: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, value: str) -> RtpInfoEntry:
        """One entry; raises :class:`RemoteProtocolError` only when it has no URL."""
        pieces = value.split(";")
        first, *rest = pieces
        if not _ENTRY_START_RE.match(first):
            raise RemoteProtocolError(f"RTP-Info: entry {value.strip()!r} does not start with url=")
        url_parts = [first.split("=", 1)[1]]
        numbers: dict[str, int] = {}
        invalid: list[tuple[str, str]] = []
        in_parameters = False
        for piece in rest:
            match = _PARAM_RE.fullmatch(piece)
            if match is None:
                if not in_parameters:
                    url_parts.append(piece)  # a ";" inside the URL
                continue  # else an unknown parameter after the URL
            in_parameters = True
            name = match[1].lower()
            number = _number(name, match[2])
            if number is None:
                invalid.append((name, match[2]))
            else:
                numbers[name] = number
        url = ";".join(url_parts).strip().strip('"')
        if not url:
            raise RemoteProtocolError("RTP-Info: empty url")
        problems = tuple(
            f"RTP-Info: invalid {name} {shown_digits(text)} for {url}, ignored"
            for name, text in invalid
        )
        return cls(url, numbers.get("seq"), numbers.get("rtptime"), numbers.get("ssrc"), problems)

    def serialize(self) -> str:
        text = f"url={self.url}"
        if self.seq is not None:
            text += f";seq={self.seq}"
        if self.rtptime is not None:
            text += f";rtptime={self.rtptime}"
        if self.ssrc is not None:
            text += f";ssrc={self.ssrc:08X}"
        return text


@dataclass(frozen=True)
class RtpInfo:
    """The header: one entry per stream, in the order the server wrote them.

    An entry without a URL is left out and named in ``problems``, with the unreadable
    parameters of the entries kept; only a header with no usable entry at all is an error.
    """

    entries: tuple[RtpInfoEntry, ...]
    problems: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, value: str) -> RtpInfo:
        chunks: list[str] = []
        for piece in value.split(","):
            if not piece.strip():
                continue
            if chunks and not _ENTRY_START_RE.match(piece):
                chunks[-1] += "," + piece  # a "," inside the previous URL
            else:
                chunks.append(piece)
        entries: list[RtpInfoEntry] = []
        problems: list[str] = []
        errors: list[RemoteProtocolError] = []
        for chunk in chunks:
            try:
                entry = RtpInfoEntry.parse(chunk)
            except RemoteProtocolError as error:
                errors.append(error)
                problems.append(f"{error}, entry ignored")
                continue
            entries.append(entry)
            problems += entry.problems
        if not entries:
            raise errors[0] if errors else RemoteProtocolError("RTP-Info: no entry")
        return cls(tuple(entries), tuple(problems))

    def serialize(self) -> str:
        return ",".join(entry.serialize() for entry in self.entries)

    def for_url(self, url: str) -> RtpInfoEntry | None:
        """The entry whose URL is ``url`` or ends with it (relative URLs are common)."""
        for entry in self.entries:
            if entry.url == url or url.endswith("/" + entry.url.lstrip("/")):
                return entry
        return None
