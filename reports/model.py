"""The result model every camsim report is made from, and its JSON form.

A :class:`Report` is what a run found: a verdict, the cases with their outcome, the
environment it ran in, measurements and chart data. It is written as JSON (the schema is
``reports/schema/report.schema.json``, versioned by :data:`SCHEMA_VERSION`) and rendered from
that JSON into HTML and JUnit XML, so a report can be re-rendered later (``camsim report``)
without running anything again.

Producers other than the conformance suites (pcap analysis, fault scenarios, benchmarks) build
the same objects: cases they judge, measurements they take, charts they want drawn.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SCHEMA_ID = "urn:camsim:report:1"
SCHEMA_VERSION = 1


class Level(StrEnum):
    """How much a case matters to the verdict."""

    REQUIRED = "required"  # a MUST of the specification: a failure fails the run
    RECOMMENDED = "recommended"  # a SHOULD, or a platform's authoring requirement
    INFO = "info"  # measured and reported, never judged


class Verdict(StrEnum):
    """The outcome of one case."""

    PASS = "pass"
    FAIL = "fail"
    ALLOWED = "allowed"  # failed, but listed as a known deviation: shown, not gating
    NOT_APPLICABLE = "not_applicable"  # the target does not use what the case checks
    ERROR = "error"  # the case could not be judged (the target vanished, a bug)
    SKIPPED = "skipped"  # not run (deselected, or a prerequisite is missing)


class RunVerdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class SpecRef:
    """A requirement's source: ``document`` (e.g. ``RFC 8216``), ``section`` (``6.2.2``)
    and, when there is one, a ``url`` to read it."""

    document: str
    section: str = ""
    url: str = ""

    def __str__(self) -> str:
        if not self.section:
            return self.document
        # Numbered sections read "RFC 8216 §6.2.2"; named items "Apple ...: live playlists".
        joiner = " §" if self.section[0].isdigit() else ": "
        return f"{self.document}{joiner}{self.section}"

    def to_json(self) -> dict[str, str]:
        return {"document": self.document, "section": self.section, "url": self.url}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SpecRef:
        return cls(data["document"], data.get("section", ""), data.get("url", ""))


@dataclass(frozen=True, slots=True)
class Detail:
    """One observation behind a failure: what was seen and where (``reload 4``, a URI...)."""

    message: str
    where: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def to_json(self) -> dict[str, str]:
        return {"message": self.message, "where": self.where}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Detail:
        return cls(data["message"], data.get("where", ""))


@dataclass(frozen=True, slots=True)
class Measurement:
    """A measured figure; ``value`` None when there was nothing to measure."""

    name: str
    value: float | int | str | None
    unit: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "unit": self.unit}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Measurement:
        return cls(data["name"], data.get("value"), data.get("unit", ""))


class ChartKind(StrEnum):
    HISTOGRAM = "histogram"  # each series' ``y`` values binned
    LINE = "line"  # ``y`` against ``x``
    SCATTER = "scatter"
    BAR = "bar"  # one bar per ``x`` label


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    y: tuple[float, ...]
    x: tuple[float | str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Series:
        return cls(data["name"], tuple(data["y"]), tuple(data.get("x", ())))


@dataclass(frozen=True, slots=True)
class Chart:
    """Data for a chart; the renderer draws it. ``case`` ties it to a case when it belongs to
    one (it is then shown with that case as well as in the charts section)."""

    id: str
    title: str
    kind: ChartKind
    series: tuple[Series, ...]
    x_label: str = ""
    y_label: str = ""
    case: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind.value,
            "x_label": self.x_label,
            "y_label": self.y_label,
            "case": self.case,
            "series": [s.to_json() for s in self.series],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Chart:
        return cls(
            data["id"],
            data["title"],
            ChartKind(data["kind"]),
            tuple(Series.from_json(s) for s in data["series"]),
            data.get("x_label", ""),
            data.get("y_label", ""),
            data.get("case", ""),
        )


@dataclass(slots=True)
class CaseResult:
    """One judged case."""

    id: str
    title: str
    level: Level
    verdict: Verdict
    suite: str = ""
    spec: tuple[SpecRef, ...] = ()
    rules: tuple[str, ...] = ()
    message: str = ""
    details: list[Detail] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    duration: float = 0.0

    @property
    def gating(self) -> bool:
        """A required case that failed or could not be judged: the run fails."""
        return self.level is Level.REQUIRED and self.verdict in (Verdict.FAIL, Verdict.ERROR)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "level": self.level.value,
            "verdict": self.verdict.value,
            "suite": self.suite,
            "spec": [s.to_json() for s in self.spec],
            "rules": list(self.rules),
            "message": self.message,
            "details": [d.to_json() for d in self.details],
            "measurements": [m.to_json() for m in self.measurements],
            "duration_s": round(self.duration, 6),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaseResult:
        return cls(
            id=data["id"],
            title=data["title"],
            level=Level(data["level"]),
            verdict=Verdict(data["verdict"]),
            suite=data.get("suite", ""),
            spec=tuple(SpecRef.from_json(s) for s in data.get("spec", ())),
            rules=tuple(data.get("rules", ())),
            message=data.get("message", ""),
            details=[Detail.from_json(d) for d in data.get("details", ())],
            measurements=[Measurement.from_json(m) for m in data.get("measurements", ())],
            duration=float(data.get("duration_s", 0.0)),
        )


@dataclass(slots=True)
class Report:
    """A whole run: what was judged, where, when, and with which outcome.

    ``error`` is set when the run could not judge at all (a target that cannot be reached);
    the verdict is then :attr:`RunVerdict.ERROR` whatever the cases say.
    """

    title: str
    kind: str
    created: str
    cases: list[CaseResult] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""
    duration: float = 0.0

    @property
    def verdict(self) -> RunVerdict:
        if self.error:
            return RunVerdict.ERROR
        return RunVerdict.FAIL if any(case.gating for case in self.cases) else RunVerdict.PASS

    @property
    def exit_code(self) -> int:
        """0 pass, 1 a required case failed, 2 the run could not judge."""
        return {RunVerdict.PASS: 0, RunVerdict.FAIL: 1, RunVerdict.ERROR: 2}[self.verdict]

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts of verdicts per level, every level and verdict present (zero or not)."""
        counts = Counter((case.level, case.verdict) for case in self.cases)
        return {
            level.value: {verdict.value: counts[level, verdict] for verdict in Verdict}
            for level in Level
        }

    def by_level(self) -> list[tuple[Level, list[CaseResult]]]:
        return [(level, [c for c in self.cases if c.level is level]) for level in Level]

    def failures(self, levels: Iterable[Level] = (Level.REQUIRED,)) -> list[CaseResult]:
        wanted = set(levels)
        return [
            c
            for c in self.cases
            if c.level in wanted and c.verdict in (Verdict.FAIL, Verdict.ERROR)
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_ID,
            "schema_version": SCHEMA_VERSION,
            "kind": self.kind,
            "title": self.title,
            "created": self.created,
            "duration_s": round(self.duration, 3),
            "verdict": self.verdict.value,
            "exit_code": self.exit_code,
            "error": self.error,
            "summary": self.summary(),
            "environment": self.environment,
            "cases": [c.to_json() for c in self.cases],
            "measurements": [m.to_json() for m in self.measurements],
            "charts": [c.to_json() for c in self.charts],
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Report:
        """A report from its JSON form; call :func:`reports.schema.validate` first on input
        that did not come from :meth:`to_json`."""
        return cls(
            title=data["title"],
            kind=data["kind"],
            created=data["created"],
            cases=[CaseResult.from_json(c) for c in data.get("cases", ())],
            environment=dict(data.get("environment", {})),
            measurements=[Measurement.from_json(m) for m in data.get("measurements", ())],
            charts=[Chart.from_json(c) for c in data.get("charts", ())],
            notes=list(data.get("notes", ())),
            error=data.get("error", ""),
            duration=float(data.get("duration_s", 0.0)),
        )


def count(cases: Sequence[CaseResult], verdict: Verdict) -> int:
    return sum(case.verdict is verdict for case in cases)
