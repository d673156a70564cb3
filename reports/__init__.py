"""Reports: the result model, its JSON Schema, and the HTML and JUnit renderers.

Every report in camsim goes through this package::

    from reports import Report, CaseResult, Level, Verdict, SpecRef, Chart, Series, ChartKind
    report = Report(title="...", kind="conformance", created=now_iso())
    report.cases.append(CaseResult("HLS-PL-001", "...", Level.REQUIRED, Verdict.PASS))
    write_json(report, path)          # the documented results (reports/schema/report.schema.json)
    write_html(report, out_dir)       # out_dir/index.html, self-contained, opens offline
    write_junit(report, path)         # JUnit XML: failures are exactly the gating cases

``camsim report RESULTS.json --out DIR`` renders saved results again.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from reports.html import render_html, write_html
from reports.junit import render_junit, write_junit
from reports.model import (
    SCHEMA_VERSION,
    CaseResult,
    Chart,
    ChartKind,
    Detail,
    Level,
    Measurement,
    Report,
    RunVerdict,
    Series,
    SpecRef,
    Verdict,
)

__all__ = [
    "SCHEMA_VERSION",
    "CaseResult",
    "Chart",
    "ChartKind",
    "Detail",
    "Level",
    "Measurement",
    "Report",
    "RunVerdict",
    "Series",
    "SpecRef",
    "Verdict",
    "now_iso",
    "render_html",
    "render_junit",
    "write_html",
    "write_json",
    "write_junit",
]


def now_iso() -> str:
    """The current time as RFC 3339 UTC with milliseconds, as reports record it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_json(report: Report, path: Path) -> Path:
    """The report's JSON form, written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    return path
