"""The built-in suites; importing this package registers them."""

from conformance.suites import hls_output, rtmp_ingest, rtsp_client, rtsp_server  # noqa: F401
