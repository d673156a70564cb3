"""The built-in suites; importing this package registers them."""

from conformance.suites import hls_output  # noqa: F401
