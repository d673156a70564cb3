"""Suite ``rtmp-ingest``: an RTMP/RTMPS ingest judged against Adobe's RTMP 1.0 specification,
Enhanced RTMP and the FLV format, by publishing to it as encoders do and, with ``--hls``,
following every pushed frame into its HLS output.

    camsim conform --suite rtmp-ingest --target rtmp://127.0.0.1:1935/live \\
        --hls 'http://127.0.0.1:8080/live/{name}/index.m3u8'

``--key KEY`` publishes ``NAME?key=KEY`` (``--set key-param=NAME`` for another parameter),
``--ca``/``--insecure`` for an rtmps:// target, ``--feed-media FILE`` to publish another
sample, ``--set hevc-media=FILE`` for the Enhanced RTMP HEVC stream, ``--duration S`` for the
main stream's length.
"""

from conformance.registry import Suite, register

SUITE = register(
    Suite(
        "rtmp-ingest",
        __name__,
        "RTMP/RTMPS ingest, followed into its HLS output",
        target="rtmp[s]://host[:port]/app; --hls 'http://host/live/{name}/index.m3u8' to follow",
        groups=(
            "RTMP-HS",
            "RTMP-CMD",
            "RTMP-CHUNK",
            "RTMP-ACK",
            "RTMP-PING",
            "RTMP-TS",
            "RTMP-PUB",
            "RTMP-KEY",
            "RTMP-MEDIA",
            "RTMP-E2E",
            "RTMP-TLS",
        ),
    )
)
