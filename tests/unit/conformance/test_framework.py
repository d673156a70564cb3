"""The framework: case declarations, verdicts from outcomes, selection, allowed deviations,
the catalogue without a target, and the camsim conform command line."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conformance import runner
from conformance.case import CaseInfo, case
from conformance.cli import conform
from conformance.registry import SUITES, Suite, register
from conformance.session import ConformOptions
from conformance.spec import rfc8216
from reports.model import Level, Verdict

FAKE_SUITE = """
from conformance.registry import Suite, register

SUITE = register(Suite("fake", __name__, "a suite for the framework's tests",
                       groups=("FAKE-B", "FAKE-A")))
"""

FAKE_CONFTEST = """
import pytest

@pytest.fixture(scope="session")
def observed(conform_options, conform_session):
    conform_session.environment["fake target"] = conform_options.target
    conform_session.environment["hls"] = conform_options.setting("hls", "none")
    conform_session.notes.append("observed once")
    return {"target": conform_options.target}
"""

FAKE_CASES = """
from conformance.case import INFO, RECOMMENDED, REQUIRED, case, fail, not_applicable
from conformance.spec import rfc8216
from reports.model import Detail, ChartKind, Series


@case("FAKE-A-001", "passes", level=REQUIRED, spec=[rfc8216("4")])
def test_pass(observed):
    assert observed["target"] == "http://127.0.0.1:9/x.m3u8"


@case("FAKE-A-002", "fails with details", level=REQUIRED, spec=[rfc8216("6.2.2")],
      rules=["some-rule"])
def test_fail(observed):
    fail("expected 200, saw 404", [Detail("answered HTTP 404", "segment 7 (s7.ts)")])


@case("FAKE-A-003", "does not apply", level=REQUIRED, spec=[rfc8216("3.3")])
def test_not_applicable(observed):
    not_applicable("no fMP4 segment")


@case("FAKE-A-004", "plain assert", level=RECOMMENDED, spec=[rfc8216("4.1")])
def test_assert(observed):
    assert 1 == 2, "one is not two"


@case("FAKE-B-001", "measures", level=INFO, spec=[rfc8216("3")])
def test_measure(observed, case_record):
    case_record.measure("p50", 1.25, "s")
    case_record.summary = "p50 1.25 s"
    case_record.chart("latency", ChartKind.HISTOGRAM, [Series("frames", (1.0, 1.5))])


@case("FAKE-B-002", "breaks", level=REQUIRED, spec=[rfc8216("4")])
def test_error(observed):
    raise RuntimeError("the case itself is broken")
"""


@pytest.fixture
def fake_suite(tmp_path: Path) -> Iterator[str]:
    package = tmp_path / "fakesuite_pkg"
    package.mkdir()
    (package / "__init__.py").write_text(FAKE_SUITE)
    (package / "conftest.py").write_text(FAKE_CONFTEST)
    (package / "test_cases.py").write_text(textwrap.dedent(FAKE_CASES))
    sys.path.insert(0, str(tmp_path))
    try:
        __import__("fakesuite_pkg")
        yield "fake"
    finally:
        sys.path.remove(str(tmp_path))
        SUITES.pop("fake", None)
        for name in [m for m in sys.modules if m.startswith("fakesuite_pkg")]:
            del sys.modules[name]


def _options(**changes: object) -> ConformOptions:
    return ConformOptions(target="http://127.0.0.1:9/x.m3u8", **changes)  # type: ignore[arg-type]


def test_outcomes_become_verdicts(fake_suite: str) -> None:
    report = runner.run([fake_suite], _options())
    verdicts = {c.id: c.verdict for c in report.cases}
    assert verdicts == {
        "FAKE-B-001": Verdict.PASS,
        "FAKE-B-002": Verdict.ERROR,
        "FAKE-A-001": Verdict.PASS,
        "FAKE-A-002": Verdict.FAIL,
        "FAKE-A-003": Verdict.NOT_APPLICABLE,
        "FAKE-A-004": Verdict.FAIL,
    }
    # The suite's group order, then IDs.
    assert [c.id for c in report.cases][:2] == ["FAKE-B-001", "FAKE-B-002"]
    failed = next(c for c in report.cases if c.id == "FAKE-A-002")
    assert failed.message == "expected 200, saw 404"
    assert [(d.where, d.message) for d in failed.details] == [
        ("segment 7 (s7.ts)", "answered HTTP 404")
    ]
    assert failed.rules == ("some-rule",)
    assert failed.spec[0].section == "6.2.2"
    assert next(c for c in report.cases if c.id == "FAKE-A-003").message == "no fMP4 segment"
    plain = next(c for c in report.cases if c.id == "FAKE-A-004")
    assert plain.message.startswith("one is not two")
    error = next(c for c in report.cases if c.id == "FAKE-B-002")
    assert error.message == "RuntimeError: the case itself is broken"
    measured = next(c for c in report.cases if c.id == "FAKE-B-001")
    assert measured.message == "p50 1.25 s"
    assert [(m.name, m.value, m.unit) for m in measured.measurements] == [("p50", 1.25, "s")]
    assert [chart.case for chart in report.charts] == ["FAKE-B-001"]
    assert report.environment["fake target"] == "http://127.0.0.1:9/x.m3u8"
    assert report.notes == ["observed once"]
    assert report.exit_code == 1


def test_allowed_deviation_does_not_gate(fake_suite: str) -> None:
    report = runner.run(
        [fake_suite], _options(allow=frozenset({"FAKE-A-002"}), cases=("FAKE-A-00[12]",))
    )
    assert {c.id: c.verdict for c in report.cases} == {
        "FAKE-A-001": Verdict.PASS,
        "FAKE-A-002": Verdict.ALLOWED,
    }
    assert report.cases[1].message.startswith("known deviation: expected 200")
    assert report.exit_code == 0


def test_suite_settings_reach_the_suite(fake_suite: str) -> None:
    settings = (("hls", "http://a/1.m3u8"), ("hls", "http://a/2.m3u8"))
    report = runner.run([fake_suite], _options(settings=settings, cases=("FAKE-A-001",)))
    assert report.environment["hls"] == "http://a/2.m3u8"
    result = CliRunner().invoke(
        conform, ["--suite", "hls-output", "--target", "http://127.0.0.1:9/x", "--set", "oops"]
    )
    assert result.exit_code == 2
    assert "expected KEY=VALUE" in result.output


def test_selection_by_keyword_matches_ids(fake_suite: str) -> None:
    report = runner.run([fake_suite], _options(), keyword="FAKE-A-001 or FAKE-A-003")
    assert [c.id for c in report.cases] == ["FAKE-A-001", "FAKE-A-003"]


def test_nothing_selected_is_an_error(fake_suite: str) -> None:
    with pytest.raises(runner.RunError, match="no case matches"):
        runner.run([fake_suite], _options(cases=("NOPE-*",)))


def test_catalogue_needs_no_target(fake_suite: str) -> None:
    infos = runner.catalogue([fake_suite])
    assert [i.id for i in infos] == [
        "FAKE-B-001",
        "FAKE-B-002",
        "FAKE-A-001",
        "FAKE-A-002",
        "FAKE-A-003",
        "FAKE-A-004",
    ]
    assert all(i.suite == "fake" for i in infos)


def test_hls_output_catalogue() -> None:
    infos = runner.catalogue(["hls-output"])
    ids = [i.id for i in infos]
    assert len(ids) == len(set(ids)) == 53
    assert all(i.spec for i in infos)
    assert {i.level for i in infos} == set(Level)
    # Every validator rule the cases name exists.
    from wire.hls.validate import PARSE_RULE, RULES

    named = {rule for i in infos for rule in i.rules}
    assert named <= set(RULES) | {PARSE_RULE}


def test_case_ids_and_spec_are_checked() -> None:
    with pytest.raises(ValueError, match="not of the form"):
        case("hls-1", "x", level=Level.REQUIRED, spec=[rfc8216("4")])
    with pytest.raises(ValueError, match="names no spec"):
        case("HLS-X-001", "x", level=Level.REQUIRED, spec=[])


def test_suites_register_once() -> None:
    suite = Suite("twice", "somewhere", "t")
    register(suite)
    try:
        with pytest.raises(ValueError, match="registered twice"):
            register(Suite("twice", "elsewhere", "t"))
    finally:
        SUITES.pop("twice")


def test_cli_list_prints_the_catalogue() -> None:
    result = CliRunner().invoke(conform, ["--list", "--suite", "hls-output", "--case", "HLS-RL-*"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "level", "spec", "title"]
    assert lines[1].startswith("HLS-RL-001   required    RFC 8216 §6.2.1")
    assert lines[-1] == "9 cases"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "name a suite with --suite"),
        (["--suite", "nope"], "no conformance suite named 'nope'"),
        (["--suite", "hls-output"], "--target is required"),
        (
            ["--suite", "hls-output", "--target", "http://127.0.0.1:9/x.m3u8", "--feed", "srt://x"],
            "the scheme must be rtmp:// or rtmps://",
        ),
    ],
)
def test_cli_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(conform, args)
    assert result.exit_code == 2
    assert message in result.output


def test_case_info_is_plain_data() -> None:
    info = CaseInfo("HLS-PL-001", "t", Level.REQUIRED, (rfc8216("4.3.1.1"),))
    assert str(info.spec[0]) == "RFC 8216 §4.3.1.1"
