"""How a suite declares a case and how a case says what it found.

A case is a pytest test function decorated with :func:`case`: a stable ID, a title, a level and
the spec references it enforces. The decorator only attaches a ``conformance_case`` marker, so
the plugin reads the catalogue at collection time (``camsim conform --list`` needs no target)::

    @case("HLS-PL-001", "The playlist starts with #EXTM3U", level=REQUIRED,
          spec=[rfc8216("4.3.1.1")], rules=["extm3u-first"])
    def test_extm3u_first(hls: HlsObservation) -> None:
        check_rules(hls, "extm3u-first")

Inside a case: :func:`fail` with what was expected, what was seen and where (one
:class:`~reports.model.Detail` per observation); :func:`not_applicable` when the target does
not use what the case checks; the ``case_record`` fixture's :meth:`CaseRecord.measure` and
:meth:`CaseRecord.chart` for measured figures. A plain ``assert`` also fails the case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NoReturn, TypeVar

import pytest

from reports.model import Chart, ChartKind, Detail, Level, Measurement, Series, SpecRef

REQUIRED = Level.REQUIRED
RECOMMENDED = Level.RECOMMENDED
INFO = Level.INFO

MARKER = "conformance_case"
NOT_APPLICABLE_PREFIX = "not applicable: "
CASE_ID = re.compile(r"[A-Z][A-Z0-9]*(-[A-Z0-9]+)+")

F = TypeVar("F", bound=Callable[..., object])


@dataclass(frozen=True, slots=True)
class CaseInfo:
    """What the catalogue says about a case."""

    id: str
    title: str
    level: Level
    spec: tuple[SpecRef, ...]
    rules: tuple[str, ...] = ()
    suite: str = ""


def case(
    case_id: str,
    title: str,
    *,
    level: Level,
    spec: Sequence[SpecRef],
    rules: Iterable[str] = (),
) -> Callable[[F], F]:
    """Declare a test function as the conformance case ``case_id``."""
    if not CASE_ID.fullmatch(case_id):
        raise ValueError(f"case ID {case_id!r} is not of the form AREA-GROUP-NNN")
    if not spec:
        raise ValueError(f"case {case_id} names no spec reference")
    info = CaseInfo(case_id, title, level, tuple(spec), tuple(rules))

    def decorate(function: F) -> F:
        marked: F = getattr(pytest.mark, MARKER)(info)(function)
        return marked

    return decorate


class CaseFailure(AssertionError):
    """A case that found the target breaking its rule; ``details`` say where."""

    def __init__(self, message: str, details: Sequence[Detail] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)

    def __str__(self) -> str:
        lines = [self.message, *(f"  - {detail}" for detail in self.details[:20])]
        if len(self.details) > 20:
            lines.append(f"  ... and {len(self.details) - 20} more")
        return "\n".join(lines)


def fail(message: str, details: Sequence[Detail] = ()) -> NoReturn:
    """Fail the running case: ``message`` says what was expected and what was seen."""
    raise CaseFailure(message, details)


def not_applicable(reason: str) -> NoReturn:
    """The target does not use what the case checks (an LL-HLS rule on a plain playlist):
    reported as "not applicable", never as passed."""
    pytest.skip(NOT_APPLICABLE_PREFIX + reason)


@dataclass
class CaseRecord:
    """What a case measured; the ``case_record`` fixture gives each case its own."""

    case_id: str
    summary: str = ""
    measurements: list[Measurement] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)

    def measure(self, name: str, value: float | int | str | None, unit: str = "") -> None:
        self.measurements.append(Measurement(name, value, unit))

    def chart(
        self,
        title: str,
        kind: ChartKind,
        series: Sequence[Series],
        *,
        x_label: str = "",
        y_label: str = "",
    ) -> None:
        chart_id = f"{self.case_id}-{len(self.charts) + 1}"
        self.charts.append(
            Chart(chart_id, title, kind, tuple(series), x_label, y_label, self.case_id)
        )
