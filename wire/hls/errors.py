"""The one error type raised by :mod:`wire.hls` for malformed playlists."""

from __future__ import annotations


class PlaylistError(ValueError):
    """A playlist that cannot be read as an HLS media playlist.

    The message names the line and what was wrong, e.g.
    ``"line 4: #EXT-X-TARGETDURATION value '2.5' is not a decimal-integer"``.
    """
