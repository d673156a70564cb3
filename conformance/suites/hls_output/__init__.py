"""Suite ``hls-output``: a live HLS stream judged against RFC 8216, rfc8216bis (LL-HLS) and
Apple's HLS Authoring Specification, across reloads, segment by segment."""

from conformance.registry import Suite, register

SUITE = register(
    Suite(
        "hls-output",
        __name__,
        "HLS output of a live stream",
        target="an HLS playlist URL (media or multivariant); --feed rtmp[s]://... to feed it",
        groups=("HLS-PL", "HLS-RL", "HLS-HTTP", "HLS-SEG", "HLS-PDT", "HLS-MV", "HLS-LL", "HLS-M"),
    )
)
