"""Fragmented MP4 (CMAF) for HLS: ISO BMFF boxes, init segments and media segments."""

from wire.fmp4.box import Box, box, full_box, walk
from wire.fmp4.errors import Fmp4Error
from wire.fmp4.fragment import Sample, TrackFragment, media_segment
from wire.fmp4.init import AudioTrack, Track, VideoTrack, init_segment, timescale
from wire.fmp4.parse import Tfdt, Trun, TrunEntry

__all__ = [
    "AudioTrack",
    "Box",
    "Fmp4Error",
    "Sample",
    "Tfdt",
    "Track",
    "TrackFragment",
    "Trun",
    "TrunEntry",
    "VideoTrack",
    "box",
    "full_box",
    "init_segment",
    "media_segment",
    "timescale",
    "walk",
]
