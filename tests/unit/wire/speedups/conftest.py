"""Differential tests of the compiled hot paths against their pure-Python reference.

Each test module here feeds the same inputs (well-formed, malformed, split at arbitrary points) to
both implementations and compares what they return and what they raise. :func:`compiled` imports
an extension directly, whatever ``CAMSIM_NO_EXTENSIONS`` says, so these tests compare the two even
in the pure pass of the suite; an extension that is not built skips them, except under ``CI=true``,
where CI builds every extension and a missing one is a broken build.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from tests.conftest import in_ci


def compiled(name: str) -> ModuleType:
    """The extension module ``name`` (``wire.ts._muxer``), or a skip (a failure in CI)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        reason = f"{name} is not built ({exc}); pip install -e . with a C compiler builds it"
        if in_ci():
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
