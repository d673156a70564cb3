"""The camera interop tests use the camera integration fixtures (small samples)."""

from tests.integration.camera.conftest import config, h265_sample, sample, short_sample

__all__ = ["config", "h265_sample", "sample", "short_sample"]
