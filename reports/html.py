"""One self-contained HTML page from a :class:`~reports.model.Report`.

Everything the page shows is inside the file: the stylesheet inline, the charts as inline SVG,
no script, no font, no image fetched from anywhere, so it opens offline and can be attached to
a ticket or archived by CI as it is.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from reports.charts import render_svg
from reports.model import SCHEMA_ID, SCHEMA_VERSION, Chart, Level, Report, RunVerdict, Verdict

HTML_NAME = "index.html"
MAX_DETAILS = 25
"""Failure details shown per case; every one of them stays in the JSON."""

_ENVIRONMENT_ORDER = ("target", "suites", "camsim_version", "python", "platform", "peers")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _fmt(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:.4g}"
    return str(value)


def _env_value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _verdict_line(report: Report) -> str:
    summary = report.summary()
    required = summary[Level.REQUIRED.value]
    judged = required["pass"] + required["fail"] + required["error"] + required["allowed"]
    if report.verdict is RunVerdict.ERROR:
        return "ERROR: the target could not be judged"
    passed = required["pass"] + required["allowed"]
    text = f"{report.verdict.value.upper()}: {passed} of {judged} required cases pass"
    if required["allowed"]:
        text += f" ({required['allowed']} known deviation{'s' * (required['allowed'] > 1)})"
    failed_recommended = summary[Level.RECOMMENDED.value]["fail"]
    if failed_recommended:
        text += f"; {failed_recommended} recommended case{'s' * (failed_recommended > 1)} fail"
    return text


def render_html(report: Report) -> str:
    """The page as a string."""
    charts: Sequence[Chart] = report.charts
    case_charts: dict[str, list[Chart]] = {}
    for chart in charts:
        if chart.case:
            case_charts.setdefault(chart.case, []).append(chart)
    env = report.environment
    env_rows = [(key, _env_value(env[key])) for key in _ENVIRONMENT_ORDER if key in env]
    env_rows += [
        (key, _env_value(value))
        for key, value in sorted(env.items())
        if key not in _ENVIRONMENT_ORDER
    ]
    template = _environment().get_template("report.html.j2")
    css = resources.files("reports").joinpath("templates/report.css").read_text("utf-8")
    return template.render(
        report=report,
        env=env,
        env_rows=env_rows,
        css=css,
        verdict_line=_verdict_line(report),
        verdicts=list(Verdict),
        summary=list(report.summary().items()),
        gating=[case for case in report.cases if case.gating],
        measured=[c for c in report.cases if c.level is Level.INFO and c.verdict is Verdict.PASS],
        groups=report.by_level(),
        case_charts=case_charts,
        svgs={chart.id: render_svg(chart) for chart in charts},
        fmt=_fmt,
        max_details=MAX_DETAILS,
        schema_id=SCHEMA_ID,
        schema_version=SCHEMA_VERSION,
    )


def write_html(report: Report, out_dir: Path) -> Path:
    """Write ``out_dir/index.html`` (atomically) and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / HTML_NAME
    partial = out_dir / f".{HTML_NAME}.{os.getpid()}.partial"
    partial.write_text(render_html(report), encoding="utf-8")
    partial.replace(path)
    return path
