"""The built-in suites; importing this package registers them."""

from conformance.suites import hls_output, rtmp_ingest  # noqa: F401
from conformance.suites import rtsp_client  # noqa: F401
