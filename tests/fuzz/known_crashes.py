"""Crashes the fuzzers found in modules whose fix is pending, each with its minimal input.

Every entry makes two tests strict xfails: the entry's own reproducer test in
``test_known_crashes.py``, and the property test of its target (which runs the reproducers of its
target first, so it fails every time, not only when the search finds the input again). Once the
module is fixed both xpass, and strict xfail turns that into a failure: delete the entry then.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis.strategies import DataObject

from tests.fuzz.strategies import fuzz_inputs
from tests.fuzz.targets import check


@dataclass(frozen=True)
class KnownCrash:
    """``data`` fed to fuzz target ``target`` raises ``error`` from ``where``."""

    target: str
    data: bytes
    error: str
    where: str

    @property
    def reason(self) -> str:
        return f"{self.error} from {self.where} (fix pending)"


KNOWN_CRASHES: tuple[KnownCrash, ...] = ()


def crashes_of(name: str) -> list[KnownCrash]:
    return [crash for crash in KNOWN_CRASHES if crash.target == name]


def params(names: list[str]) -> list[object]:
    """``names`` for ``parametrize``, those with a known crash marked as strict xfails."""
    result: list[object] = []
    for name in names:
        reasons = "; ".join(crash.reason for crash in crashes_of(name))
        marks = [pytest.mark.xfail(strict=True, reason=reasons)] if reasons else []
        result.append(pytest.param(name, marks=marks, id=name))
    return result


def run_property(name: str, data: DataObject, *, text: bool = False, max_size: int = 2048) -> None:
    """One example of a target's property: its known crashes first, then a drawn input."""
    for crash in crashes_of(name):
        check(name, crash.data)
    check(name, data.draw(fuzz_inputs(name, text=text, max_size=max_size), label="input"))
