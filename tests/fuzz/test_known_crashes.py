"""The minimal input of each crash in :data:`KNOWN_CRASHES`, a strict xfail until it is fixed."""

from __future__ import annotations

import pytest

from tests.fuzz.known_crashes import KNOWN_CRASHES, KnownCrash
from tests.fuzz.targets import check


@pytest.mark.parametrize(
    "crash",
    [
        pytest.param(
            crash,
            marks=pytest.mark.xfail(strict=True, reason=crash.reason),
            id=f"{crash.target}-{index}",
        )
        for index, crash in enumerate(KNOWN_CRASHES)
    ]
    or [pytest.param(None, marks=pytest.mark.skip(reason="no known crash"), id="none")],
)
def test_known_crash_reproducer(crash: KnownCrash):
    check(crash.target, crash.data)
