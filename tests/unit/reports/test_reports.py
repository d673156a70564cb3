"""The report model, its JSON schema, and the HTML and JUnit renderers."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from reports import write_html, write_json
from reports.charts import render_svg
from reports.cli import report as report_command
from reports.html import render_html
from reports.junit import render_junit
from reports.model import (
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
from reports.schema import ReportSchemaError, schema, validate


def _report(*cases: CaseResult, error: str = "") -> Report:
    return Report(
        title="Conformance: hls-output",
        kind="conformance",
        created="2026-01-01T00:00:00.000Z",
        cases=list(cases),
        environment={"target": "http://127.0.0.1:8080/live/a/index.m3u8", "suites": ["x"]},
        charts=[
            Chart(
                "HLS-M-001-1",
                "Latency",
                ChartKind.HISTOGRAM,
                (Series("frames", (1.0, 1.2, 1.1, 1.3)),),
                "s",
                "frames",
                "HLS-M-001",
            )
        ],
        error=error,
    )


def _case(case_id: str, level: Level, verdict: Verdict, **more: object) -> CaseResult:
    return CaseResult(case_id, f"title of {case_id}", level, verdict, "hls-output", **more)  # type: ignore[arg-type]


FAILED = _case(
    "HLS-RL-009",
    Level.REQUIRED,
    Verdict.FAIL,
    spec=(SpecRef("RFC 8216", "6.2.2", "https://www.rfc-editor.org/rfc/rfc8216#section-6.2.2"),),
    message="a removed segment vanished too early",
    details=[Detail("answered HTTP 404 <at most> 3.1 s after", "segment 7 (s7.ts)")],
)


def test_verdict_and_exit_code_follow_required_cases_only() -> None:
    assert _report(_case("A-B-1", Level.REQUIRED, Verdict.PASS)).exit_code == 0
    assert _report(_case("A-B-1", Level.RECOMMENDED, Verdict.FAIL)).exit_code == 0
    assert _report(_case("A-B-1", Level.REQUIRED, Verdict.ALLOWED)).exit_code == 0
    assert _report(_case("A-B-1", Level.REQUIRED, Verdict.NOT_APPLICABLE)).exit_code == 0
    assert _report(FAILED).verdict is RunVerdict.FAIL
    assert _report(FAILED).exit_code == 1
    assert _report(_case("A-B-1", Level.REQUIRED, Verdict.ERROR)).exit_code == 1
    assert _report(error="target unreachable").exit_code == 2


def test_json_round_trip_follows_the_schema() -> None:
    original = _report(
        FAILED,
        _case("HLS-M-001", Level.INFO, Verdict.PASS, measurements=[Measurement("p50", 1.2, "s")]),
    )
    data = json.loads(json.dumps(original.to_json()))
    validate(data)
    assert data["schema_version"] == 1
    assert data["summary"]["required"]["fail"] == 1
    again = Report.from_json(data)
    assert again.to_json() == original.to_json()


def test_schema_rejects_what_is_not_a_report() -> None:
    data = _report(FAILED).to_json()
    data["cases"][0]["level"] = "mandatory"
    with pytest.raises(ReportSchemaError, match=r"cases/0/level: 'mandatory' is not one of"):
        validate(data)
    data = _report().to_json()
    data["schema_version"] = 2
    with pytest.raises(ReportSchemaError, match="schema_version"):
        validate(data)


def test_schema_file_is_draft_2020_12() -> None:
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_html_is_self_contained_and_leads_with_the_verdict() -> None:
    page = render_html(_report(FAILED, _case("HLS-PL-001", Level.REQUIRED, Verdict.PASS)))
    # Nothing is fetched: no script, stylesheet, image or font from anywhere.
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert not re.search(r"url\((?!#)|@import|src=", page)  # url(#clip) stays in the page
    assert page.index("FAIL: 1 of 2 required cases pass") < page.index("Summary")
    assert page.index("Failing required cases") < page.index("HLS-PL-001")
    # Failure details escaped, spec linked.
    assert "answered HTTP 404 &lt;at most&gt; 3.1 s after" in page
    assert 'href="https://www.rfc-editor.org/rfc/rfc8216#section-6.2.2"' in page
    assert '<details id="HLS-RL-009" class="case v-fail" open>' in page
    assert "<svg" in page


def test_chart_svg_has_no_external_reference() -> None:
    svg = render_svg(_report().charts[0])
    assert svg.startswith("<svg")
    assert "<metadata>" not in svg
    assert not re.search(r'(href|src)="(?!#)', svg)


def test_junit_failures_are_the_gating_cases() -> None:
    report = _report(
        FAILED,
        _case("HLS-PL-010", Level.RECOMMENDED, Verdict.FAIL, message="five segments"),
        _case("HLS-LL-001", Level.REQUIRED, Verdict.NOT_APPLICABLE, message="not LL-HLS"),
        _case("HLS-RL-004", Level.REQUIRED, Verdict.ALLOWED, message="known deviation: x"),
    )
    root = ET.fromstring(render_junit(report))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    cases = {c.get("name", "").split()[0]: c for c in suite.iter("testcase")}
    failure = cases["HLS-RL-009"].find("failure")
    assert failure is not None
    assert failure.get("message") == "a removed segment vanished too early"
    assert "segment 7 (s7.ts): answered HTTP 404" in (failure.text or "")
    assert cases["HLS-PL-010"].find("failure") is None
    assert "five segments" in (cases["HLS-PL-010"].findtext("system-out") or "")
    assert cases["HLS-LL-001"].find("skipped") is not None
    assert cases["HLS-RL-004"].find("failure") is None


def test_junit_of_a_run_that_could_not_judge() -> None:
    root = ET.fromstring(render_junit(_report(error="target unreachable: refused")))
    errors = list(root.iter("error"))
    assert [e.get("message") for e in errors] == ["target unreachable: refused"]


def test_camsim_report_renders_saved_results(tmp_path: Path) -> None:
    results = write_json(_report(FAILED), tmp_path / "results.json")
    runner = CliRunner()
    outcome = runner.invoke(
        report_command,
        [str(results), "--out", str(tmp_path / "html"), "--junit", str(tmp_path / "j.xml")],
    )
    assert outcome.exit_code == 0, outcome.output
    assert "HLS-RL-009" in (tmp_path / "html" / "index.html").read_text()
    assert (tmp_path / "j.xml").exists()


def test_camsim_report_refuses_what_is_not_a_report(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"title": "x"}')
    outcome = CliRunner().invoke(report_command, [str(bad), "--out", str(tmp_path / "html")])
    assert outcome.exit_code == 2
    assert "not a camsim report" in outcome.output
    assert not (tmp_path / "html").exists()


def test_write_html_replaces_atomically(tmp_path: Path) -> None:
    write_html(_report(FAILED), tmp_path)
    write_html(_report(), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]
    assert "PASS" in (tmp_path / "index.html").read_text()
