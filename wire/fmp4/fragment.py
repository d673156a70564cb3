"""CMAF media segments: styp, then one moof and its mdat (ISO/IEC 14496-12 §8.8).

Each track fragment uses default-base-is-moof (§8.8.7.1), so a trun's data_offset counts from
the first byte of the moof: the segment stands alone, whatever precedes it in a file.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from wire.fmp4.box import HEADER_SIZE, box, full_box
from wire.fmp4.errors import Fmp4Error

STYP_MAJOR_BRAND = b"msdh"
STYP_COMPATIBLE_BRANDS = (b"msdh", b"cmfs")

# tfhd flags (§8.8.7.1).
TFHD_DEFAULT_BASE_IS_MOOF = 0x020000
# trun flags (§8.8.8.1).
TRUN_DATA_OFFSET = 0x000001
TRUN_SAMPLE_DURATION = 0x000100
TRUN_SAMPLE_SIZE = 0x000200
TRUN_SAMPLE_FLAGS = 0x000400
TRUN_SAMPLE_COMPOSITION_TIME_OFFSET = 0x000800

# sample_flags (§8.8.3.1): is_leading (2 bits), sample_depends_on (2), sample_is_depended_on
# (2), sample_has_redundancy (2), sample_padding_value (3), sample_is_non_sync_sample (1),
# sample_degradation_priority (16). A sync sample depends on no other (depends_on 2); any
# other picture depends on others (1) and is flagged non-sync.
SAMPLE_FLAGS_SYNC = 2 << 24
SAMPLE_FLAGS_NON_SYNC = 1 << 24 | 1 << 16


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample: its bytes as stored in mdat, its duration and composition offset in the
    track's timescale."""

    data: bytes
    duration: int
    sync: bool = True
    composition_offset: int = 0


@dataclass(frozen=True, slots=True)
class TrackFragment:
    """A track's samples in one fragment, the first decoded at ``base_decode_time``."""

    track_id: int
    base_decode_time: int
    samples: tuple[Sample, ...]
    with_sample_flags: bool = True
    with_composition_offsets: bool = True

    @property
    def trun_flags(self) -> int:
        flags = TRUN_DATA_OFFSET | TRUN_SAMPLE_DURATION | TRUN_SAMPLE_SIZE
        if self.with_sample_flags:
            flags |= TRUN_SAMPLE_FLAGS
        if self.with_composition_offsets:
            flags |= TRUN_SAMPLE_COMPOSITION_TIME_OFFSET
        return flags

    def traf(self, data_offset: int) -> bytes:
        """The traf box whose samples start ``data_offset`` bytes after the moof's start."""
        if self.base_decode_time < 0:
            raise Fmp4Error(f"track {self.track_id}: negative decode time {self.base_decode_time}")
        tfhd = full_box(b"tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF, struct.pack(">I", self.track_id))
        tfdt = full_box(b"tfdt", 1, 0, struct.pack(">Q", self.base_decode_time))
        flags = self.trun_flags
        entries = bytearray()
        for sample in self.samples:
            entries += struct.pack(">II", sample.duration, len(sample.data))
            if flags & TRUN_SAMPLE_FLAGS:
                entries += struct.pack(
                    ">I", SAMPLE_FLAGS_SYNC if sample.sync else SAMPLE_FLAGS_NON_SYNC
                )
            if flags & TRUN_SAMPLE_COMPOSITION_TIME_OFFSET:
                # Version 1 makes the offset signed (§8.8.8.2): B-frames may precede their
                # decode time once an edit removes the initial delay.
                entries += struct.pack(">i", sample.composition_offset)
        trun = full_box(
            b"trun", 1, flags, struct.pack(">Ii", len(self.samples), data_offset), bytes(entries)
        )
        return box(b"traf", tfhd, tfdt, trun)

    @property
    def data_size(self) -> int:
        return sum(len(sample.data) for sample in self.samples)


def media_segment(sequence_number: int, fragments: Sequence[TrackFragment]) -> bytes:
    """styp + moof + mdat; ``sequence_number`` (mfhd) must grow from one segment to the next."""
    if not fragments:
        raise Fmp4Error("media segment: needs at least one track fragment")
    if not 0 <= sequence_number <= 0xFFFFFFFF:
        raise Fmp4Error(f"media segment: sequence number {sequence_number} out of range")
    styp = box(b"styp", STYP_MAJOR_BRAND, struct.pack(">I", 0), *STYP_COMPATIBLE_BRANDS)
    mfhd = full_box(b"mfhd", 0, 0, struct.pack(">I", sequence_number))
    # The offsets do not change the moof's size, so one pass with zeros measures it.
    moof_size = len(box(b"moof", mfhd, *(f.traf(0) for f in fragments)))
    offset = moof_size + HEADER_SIZE
    trafs = []
    for fragment in fragments:
        trafs.append(fragment.traf(offset))
        offset += fragment.data_size
    moof = box(b"moof", mfhd, *trafs)
    mdat = box(b"mdat", *(sample.data for f in fragments for sample in f.samples))
    return styp + moof + mdat
