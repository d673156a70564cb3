"""The HLS packager: frames from any source in, MPEG-TS or fMP4 segments and live playlists out."""

from refserver.hls.media import AudioConfig, Frame, FrameKind, VideoConfig
from refserver.hls.segmenter import HlsOptions, HlsSegmenter
from refserver.hls.stats import HlsStats
from refserver.hls.storage import DirectoryStorage, MemoryStorage, Storage

__all__ = [
    "AudioConfig",
    "DirectoryStorage",
    "Frame",
    "FrameKind",
    "HlsOptions",
    "HlsSegmenter",
    "HlsStats",
    "MemoryStorage",
    "Storage",
    "VideoConfig",
]
