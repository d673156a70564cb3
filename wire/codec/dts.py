"""Decode timestamps for video that comes with presentation times only, as over RTP.

RTP stamps each picture with its presentation time; an MPEG-TS or MP4 packager also needs the
decode time, and with B-frames the two differ. The SPS says how deep the reordering goes: at most
``depth`` pictures follow a picture in decode order yet precede it in output (H.264
``max_num_reorder_frames``, H.265 ``sps_max_num_reorder_pics``). Then every picture of output
rank ``k`` has come by the time the picture of decode rank ``k + depth`` does, so the DTS of the
``n``-th picture can be the ``(n - depth)``-th smallest PTS: known the moment the picture comes,
never above its own PTS, and increasing. The first ``depth`` pictures, before there is such a
PTS, step towards it one frame interval at a time.

Without B-frames (``depth`` 0) the DTS is the PTS. A stream that reorders deeper than its SPS says
shows itself by a PTS below the DTS already given: that picture gets its PTS as DTS (time goes
back, which a packager shows as a discontinuity), the depth grows by one (up to ``MAX_DEPTH``)
and stays so.
"""

from __future__ import annotations

import heapq
from fractions import Fraction

from wire.codec.errors import CodecError
from wire.codec.h264 import H264Sps
from wire.codec.h265 import H265Sps
from wire.codec.nal import VideoCodec

DEFAULT_FPS = Fraction(30)
"""The frame rate assumed for the first pictures when the SPS carries no timing."""
H264_PROFILES_WITHOUT_B = frozenset({66})
"""Baseline: no B slices (H.264 §A.2.1)."""
MAX_DEPTH = 16
"""No decoded picture buffer holds more (H.264 §A.3.1, H.265 §A.4.2)."""


def reorder_depth(codec: VideoCodec, sps: bytes) -> tuple[int, Fraction | None]:
    """How many pictures the stream of this SPS may reorder, and its frame rate if it says.

    An H.264 SPS without a bitstream restriction gives no depth: none for Baseline or
    ``pic_order_cnt_type`` 2 (output order is decode order, §8.2.1.3), else ``max_num_ref_frames``
    (B-frames reorder no deeper than the references they sit between, in every encoder seen).
    A depth past ``MAX_DEPTH`` (out of range for any level) is taken as ``MAX_DEPTH``. Raises
    :class:`CodecError` for an SPS that does not parse.
    """
    if codec is VideoCodec.H265:
        h265 = H265Sps.parse(sps)
        return min(h265.max_num_reorder_pics, MAX_DEPTH), h265.fps
    h264 = H264Sps.parse(sps)
    if h264.max_num_reorder_frames is not None:
        depth = h264.max_num_reorder_frames
    elif h264.profile_idc in H264_PROFILES_WITHOUT_B or h264.pic_order_cnt_type == 2:
        depth = 0
    else:
        depth = min(h264.max_num_ref_frames, MAX_DEPTH)
    return depth, h264.fps


class DtsEstimator:
    """Turns the PTS of each picture, in decode order, into its DTS (same clock, integers)."""

    def __init__(self, depth: int, frame_ticks: int) -> None:
        if depth < 0 or frame_ticks <= 0:
            raise ValueError(f"reorder depth {depth}, frame interval {frame_ticks} ticks")
        self.depth = depth
        self.frame_ticks = frame_ticks
        self.deeper_than_declared = 0
        """Pictures that came later than the depth allows (each one grew the depth)."""
        self._pending: list[int] = []  # a heap of the PTS not yet given out as a DTS
        self._last: int | None = None

    @classmethod
    def for_sps(cls, codec: VideoCodec, sps: bytes, clock_rate: int) -> DtsEstimator:
        """For the stream of ``sps``, on a clock of ``clock_rate`` ticks per second."""
        try:
            depth, fps = reorder_depth(codec, sps)
        except CodecError:
            depth, fps = 0, None
        ticks = round(clock_rate / (fps or DEFAULT_FPS))
        return cls(depth, max(ticks, 1))

    def dts(self, pts: int) -> int:
        """The DTS of the next picture in decode order, whose PTS is ``pts``."""
        last = self._last
        if last is not None and pts < last:
            self.depth = min(self.depth + 1, MAX_DEPTH)
            self.deeper_than_declared += 1
            self._last = pts
            return pts
        pending = self._pending
        heapq.heappush(pending, pts)
        if len(pending) > self.depth:
            dts = heapq.heappop(pending)
        elif last is None:
            dts = pts - self.depth * self.frame_ticks
        else:
            # Still filling up: step towards the smallest PTS to come, never past it.
            dts = min(pending[0], last + self.frame_ticks)
        self._last = dts
        return dts
