"""Codec bitstream helpers: NAL framing, parameter sets, decoder configuration records,
AudioSpecificConfig and the camsim per-frame SEI stamp.

Pure functions over bytes. Malformed input raises :class:`CodecError` (a ``ValueError``) with a
message naming the structure and the field that was being read.
"""

from wire.codec.errors import CodecError

__all__ = ["CodecError"]
