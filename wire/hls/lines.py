"""Splitting playlist text into lines and tags (RFC 8216 §4.1).

Both the parser and the validator's syntax rules read this form: each non-blank line with its
1-based line number, tags split into name and value.
"""

from __future__ import annotations

from dataclasses import dataclass

from wire.hls.errors import PlaylistError

BOM = "\ufeff"
EXTM3U = "#EXTM3U"


@dataclass(frozen=True, slots=True)
class Line:
    """One non-blank line: a tag (``#EXT...``), a comment (other ``#``) or a URI."""

    number: int
    text: str

    @property
    def is_tag(self) -> bool:
        return self.text.startswith("#EXT")

    @property
    def is_comment(self) -> bool:
        return self.text.startswith("#") and not self.is_tag

    @property
    def is_uri(self) -> bool:
        return not self.text.startswith("#")

    @property
    def tag(self) -> str:
        """The tag name with its ``#``, e.g. ``#EXTINF``."""
        return self.text.partition(":")[0]

    @property
    def value(self) -> str | None:
        """What follows the ``:``, None for a tag without one."""
        _, colon, value = self.text.partition(":")
        return value if colon else None


def decode(data: str | bytes) -> str:
    """Playlist text from bytes (UTF-8, §4.1) or text as given."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlaylistError(f"playlist is not UTF-8: byte {exc.start} ({exc.reason})") from exc


def split_lines(text: str) -> list[Line]:
    """The non-blank lines, CR/LF line endings removed, a leading BOM and trailing blanks dropped.

    §4.1 lets lines end in LF or CR LF and says blank lines are ignored.
    """
    if text.startswith(BOM):
        text = text[len(BOM) :]
    lines = []
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.rstrip("\r").rstrip()
        if stripped:
            lines.append(Line(number, stripped))
    return lines
