"""Unit tests import suite modules directly, outside a conformance run: declare the case
marker here as the plugin does (the project runs pytest with --strict-markers)."""

from __future__ import annotations

import pytest

from conformance.case import MARKER


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(info): a camsim conformance case")
