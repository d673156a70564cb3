"""The one error type raised by :mod:`wire.ts` for malformed MPEG transport streams."""

from __future__ import annotations


class TsError(ValueError):
    """Malformed or truncated MPEG-TS data.

    The message names the structure and what was wrong, e.g.
    ``"TS packet 3: sync byte 0x00, expected 0x47"``.
    """
