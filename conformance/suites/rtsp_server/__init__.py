"""Suite ``rtsp-server``: a camera (any RTSP server that plays live media) judged against
RFC 2326/7826, RFC 3550/3551, the H.264/H.265/AAC payload formats and SDP, by pulling from it
over every transport it offers, at once.

    camsim conform --suite rtsp-server --target rtsp://[user:pass@]127.0.0.1:8554/cam1

``--duration S`` (default 10) is how long each session plays; ``--set
transports=udp,tcp,http,multicast`` the transports to try; ``--set session-wait=S`` (default
20) the longest declared session timeout whose expiry is watched; ``--set mtu=BYTES`` (default
1500) the path MTU packets must fit; ``--ca``/``--insecure`` for rtsps://.
"""

from conformance.registry import Suite, register

SUITE = register(
    Suite(
        "rtsp-server",
        __name__,
        "An RTSP camera: methods, authentication, SDP, transports, RTP, RTCP and the media",
        target="rtsp[s]://[user:pass@]host[:port]/path",
        groups=(
            "RTSP-MSG",
            "RTSP-AUTH",
            "RTSP-SDP",
            "RTSP-TRANS",
            "RTSP-RTP",
            "RTSP-RTCP",
            "RTSP-SES",
            "RTSP-MEDIA",
        ),
    )
)
