"""The built-in suites; importing this package registers them."""

from conformance.suites import (  # noqa: F401
    hls_output,
    resilience,
    rtmp_ingest,
    rtsp_client,
    rtsp_server,
)
