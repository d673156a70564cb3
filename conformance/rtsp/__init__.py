"""What the RTSP suites share: a client link to a camera over RTSP, RTSPS or an HTTP tunnel
(:mod:`~conformance.rtsp.link`), and judges of RTP streams and SDP that work on recordings
(:mod:`~conformance.rtsp.rtp`, :mod:`~conformance.rtsp.sdp`), with no I/O of their own.
"""
