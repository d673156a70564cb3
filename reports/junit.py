"""JUnit XML from a :class:`~reports.model.Report`, as CI systems read it.

One ``<testsuite>`` per suite; each case is a ``<testcase>`` whose name starts with its ID.
A failed case is a ``<failure>`` only when it gates the run (a required case): failed
recommended cases and known deviations are reported in ``<system-out>`` and as properties, so
a CI that marks any ``<failure>`` red agrees with the exit code. Cases that do not apply are
``<skipped>`` with the reason.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from reports.model import CaseResult, Level, Report, Verdict


def _testcase(parent: ET.Element, case: CaseResult, classname: str) -> None:
    element = ET.SubElement(
        parent,
        "testcase",
        classname=classname,
        name=f"{case.id} {case.title}",
        time=f"{case.duration:.3f}",
    )
    properties = ET.SubElement(element, "properties")
    for name, value in (
        ("id", case.id),
        ("level", case.level.value),
        ("verdict", case.verdict.value),
        ("spec", "; ".join(str(s) for s in case.spec)),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    for measurement in case.measurements:
        value = "" if measurement.value is None else f"{measurement.value} {measurement.unit}"
        ET.SubElement(properties, "property", name=measurement.name, value=value.strip())
    text = "\n".join([case.message, *(str(d) for d in case.details)]).strip()
    if case.gating:
        tag = "error" if case.verdict is Verdict.ERROR else "failure"
        child = ET.SubElement(element, tag, message=case.message, type=case.level.value)
        child.text = text
    elif case.verdict in (Verdict.NOT_APPLICABLE, Verdict.SKIPPED):
        ET.SubElement(element, "skipped", message=case.message or case.verdict.value)
    elif case.verdict is not Verdict.PASS and text:
        out = ET.SubElement(element, "system-out")
        out.text = f"{case.verdict.value} ({case.level.value}): {text}"
    elif case.level is Level.INFO and text:
        out = ET.SubElement(element, "system-out")
        out.text = text


def render_junit(report: Report) -> str:
    suites = ET.Element("testsuites", name=report.title)
    names = sorted({case.suite for case in report.cases}) or [report.kind]
    for name in names:
        cases = [c for c in report.cases if c.suite == name or not report.cases]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=name,
            tests=str(len(cases)),
            failures=str(sum(c.gating and c.verdict is Verdict.FAIL for c in cases)),
            errors=str(sum(c.gating and c.verdict is Verdict.ERROR for c in cases)),
            skipped=str(sum(c.verdict in (Verdict.NOT_APPLICABLE, Verdict.SKIPPED) for c in cases)),
            time=f"{sum(c.duration for c in cases):.3f}",
            timestamp=report.created,
        )
        properties = ET.SubElement(suite, "properties")
        for key in ("target", "camsim_version"):
            if key in report.environment:
                ET.SubElement(properties, "property", name=key, value=str(report.environment[key]))
        for case in cases:
            _testcase(suite, case, f"conformance.{name}" if name else report.kind)
    if report.error:
        # The run never judged anything: one error case so CI shows why.
        suite = ET.SubElement(suites, "testsuite", name="run", tests="1", errors="1")
        case_element = ET.SubElement(suite, "testcase", classname="run", name="target")
        error = ET.SubElement(case_element, "error", message=report.error)
        error.text = report.error
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")


def write_junit(report: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_junit(report) + "\n", encoding="utf-8")
    return path
