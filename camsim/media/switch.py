"""A sample whose picture size changes mid-loop: the encoder of its second size.

Cameras whose resolution is changed from their web page while they stream do this: the next
keyframe comes with a new SPS and PPS in band, and the SDP's ``sprop-parameter-sets`` still
holds the first ones (RFC 6184 §8.4 lets in-band parameter sets replace them). The second half of
the sample is encoded by a fresh x264 with the settings of the first and ``repeat-headers``, so
every keyframe carries its own SPS and PPS; the packets go into the same MP4 track, whose
decoder configuration keeps the first half's.
"""

from __future__ import annotations

import av

from camsim.media.pattern import TestPattern
from camsim.media.spec import SampleSpec


def switched_encoder(
    spec: SampleSpec, first: av.VideoStream, options: dict[str, str]
) -> tuple[av.VideoCodecContext, TestPattern]:
    """The encoder of the pictures from :attr:`SampleSpec.switch_frame` on (``options`` as the
    first's), and their pattern."""
    assert spec.switch_size is not None
    width, height = spec.switch_size
    context = av.CodecContext.create("libx264", "w")
    assert isinstance(context, av.VideoCodecContext)
    context.width = width
    context.height = height
    context.pix_fmt = "yuv420p"
    context.time_base = first.codec_context.time_base
    context.framerate = first.codec_context.framerate
    context.bit_rate = spec.bitrate
    context.options = options
    return context, TestPattern(width, height, spec.fps)
