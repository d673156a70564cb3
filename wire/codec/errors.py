"""The one error type raised by :mod:`wire.codec` for malformed input."""

from __future__ import annotations


class CodecError(ValueError):
    """Malformed or truncated bitstream data.

    Every parser in :mod:`wire.codec` raises this (and only this) for bad input; the message says
    what was being read and what was wrong, e.g. ``"SPS: truncated while reading level_idc"``.
    """
