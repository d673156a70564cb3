"""Per-stream packager counters, read by the HTTP status API."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class HlsStats:
    """Counters of one stream's packager; only the packager writes them.

    ``last_stamp_latency`` is the wallclock now minus the capture time in the camsim SEI stamp
    of the latest stamped picture, in seconds: the latency from camera to packager.
    """

    segments_written: int = 0
    bytes_written: int = 0
    segments_deleted: int = 0
    playlists_written: int = 0
    discontinuities: int = 0
    frames_dropped: int = 0
    target_duration_overruns: int = 0
    last_stamp_latency: float | None = None
    last_segment_at: float | None = None
