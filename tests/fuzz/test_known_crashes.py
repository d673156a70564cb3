"""The minimal input of each crash in :data:`KNOWN_CRASHES`, a strict xfail until it is fixed;
the inputs of crashes since fixed, replayed on every run."""

from __future__ import annotations

import pytest

from tests.fuzz.known_crashes import FIXED_CRASHES, KNOWN_CRASHES, KnownCrash
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


@pytest.mark.parametrize(
    ("name", "data"),
    FIXED_CRASHES,
    ids=[f"{name}-{index}" for index, (name, _) in enumerate(FIXED_CRASHES)],
)
def test_a_fixed_crash_stays_fixed(name: str, data: bytes):
    check(name, data)
