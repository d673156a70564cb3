"""Reading back the fragment boxes that carry timing: tfdt and trun (ISO/IEC 14496-12 §8.8)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from wire.fmp4.box import Box
from wire.fmp4.errors import Fmp4Error
from wire.fmp4.fragment import (
    TRUN_DATA_OFFSET,
    TRUN_SAMPLE_COMPOSITION_TIME_OFFSET,
    TRUN_SAMPLE_DURATION,
    TRUN_SAMPLE_FLAGS,
    TRUN_SAMPLE_SIZE,
)

TRUN_FIRST_SAMPLE_FLAGS = 0x000004
MAX_TRUN_SAMPLES = 1 << 20
"""The most samples :meth:`Trun.parse` reads from one trun.

A trun whose samples all take the defaults (no per-sample field) is 12 bytes whatever its
``sample_count``, so the count alone would otherwise decide how many entries a few bytes from
the network make. A million samples is hours of video or audio, far past any fragment.
"""


@dataclass(frozen=True, slots=True)
class Tfdt:
    """The track fragment's baseMediaDecodeTime (§8.8.12)."""

    base_media_decode_time: int

    @classmethod
    def parse(cls, tfdt: Box) -> Tfdt:
        version, _, rest = tfdt.full_header()
        size = 8 if version == 1 else 4
        if len(rest) != size:
            raise Fmp4Error(f"tfdt version {version}: {len(rest)} bytes, expected {size}")
        return cls(int.from_bytes(rest, "big"))


@dataclass(frozen=True, slots=True)
class TrunEntry:
    """One sample of a trun; None where the trun leaves the field to the defaults."""

    duration: int | None
    size: int | None
    flags: int | None
    composition_offset: int | None


@dataclass(frozen=True, slots=True)
class Trun:
    """A track fragment run (§8.8.8)."""

    version: int
    flags: int
    data_offset: int | None
    first_sample_flags: int | None
    entries: tuple[TrunEntry, ...]

    @classmethod
    def parse(cls, trun: Box) -> Trun:
        version, flags, rest = trun.full_header()
        fields = [
            TRUN_SAMPLE_DURATION,
            TRUN_SAMPLE_SIZE,
            TRUN_SAMPLE_FLAGS,
            TRUN_SAMPLE_COMPOSITION_TIME_OFFSET,
        ]
        present = [bool(flags & field) for field in fields]
        optional = (flags & TRUN_DATA_OFFSET) + bool(flags & TRUN_FIRST_SAMPLE_FLAGS)
        entry_size = 4 * sum(present)
        if len(rest) < 4 + 4 * optional:
            raise Fmp4Error(f"trun: {len(rest)} bytes, header needs {4 + 4 * optional}")
        (count,) = struct.unpack_from(">I", rest)
        if count > MAX_TRUN_SAMPLES:
            raise Fmp4Error(f"trun: {count} samples, more than the {MAX_TRUN_SAMPLES} read")
        pos = 4
        data_offset = first_sample_flags = None
        if flags & TRUN_DATA_OFFSET:
            (data_offset,) = struct.unpack_from(">i", rest, pos)
            pos += 4
        if flags & TRUN_FIRST_SAMPLE_FLAGS:
            (first_sample_flags,) = struct.unpack_from(">I", rest, pos)
            pos += 4
        if len(rest) - pos != count * entry_size:
            raise Fmp4Error(
                f"trun: {count} samples of {entry_size} bytes, {len(rest) - pos} bytes present"
            )
        if not entry_size:
            # Every sample takes the tfhd/trex defaults: one entry object serves them all.
            defaults = (TrunEntry(None, None, None, None),) * count
            return cls(version, flags, data_offset, first_sample_flags, defaults)
        # Version 0 offsets are unsigned, version 1 signed (§8.8.8.2).
        offset_format = ">i" if version == 1 else ">I"
        entries = []
        for _ in range(count):
            values: list[int | None] = []
            for index, is_present in enumerate(present):
                if not is_present:
                    values.append(None)
                    continue
                fmt = offset_format if index == 3 else ">I"
                values.append(struct.unpack_from(fmt, rest, pos)[0])
                pos += 4
            entries.append(TrunEntry(*values))
        return cls(version, flags, data_offset, first_sample_flags, tuple(entries))
