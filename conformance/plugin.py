"""The pytest plugin behind every conformance suite.

Load it with ``-p conformance.plugin`` (``camsim conform`` does)::

    pytest -p conformance.plugin --pyargs conformance.suites.hls_output \\
        --conform-target http://127.0.0.1:8080/live/test/index.m3u8 --conform-json out.json

It adds the ``--conform-*`` options, reads each case's ``conformance_case`` marker at
collection (so ``--collect-only`` lists the catalogue without a target), selects cases by ID
(``--conform-case HLS-PL-*``; ``-k`` also matches IDs), turns each outcome into a verdict
(pass, fail, not applicable, error, allowed) and sets pytest's exit status to the gate: 0 when
every required case passes, 1 when one fails, 2 when the target could not be observed.
Fixtures: ``conform_options``, ``conform_session`` and ``case_record`` (per case).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Generator
from pathlib import Path

import pytest

from conformance.case import MARKER, NOT_APPLICABLE_PREFIX, CaseFailure, CaseInfo, CaseRecord
from conformance.registry import SUITES, suite_of_module
from conformance.session import (
    ConformanceSession,
    ConformOptions,
    TargetUnreachable,
    camsim_version,
)
from reports import write_html, write_json, write_junit
from reports.model import CaseResult, Detail, Level, Verdict

SESSION_KEY = pytest.StashKey[ConformanceSession]()
INFO_KEY = pytest.StashKey[CaseInfo]()
RECORD_KEY = pytest.StashKey[CaseRecord]()

EXIT_TARGET_ERROR = 2

_LIVE_SESSIONS: list[ConformanceSession] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "camsim conformance suites")
    group.addoption("--conform-target", metavar="URL", help="What the suite judges.")
    group.addoption(
        "--conform-duration",
        type=float,
        metavar="S",
        help="Seconds to observe the target (each suite has a default and a minimum).",
    )
    group.addoption(
        "--conform-feed",
        metavar="URL",
        help="rtmp[s]:// URL the suite publishes the sample to, to feed the target itself.",
    )
    group.addoption("--conform-feed-media", metavar="FILE", help="Sample to feed.")
    group.addoption("--conform-feed-ca", metavar="FILE", help="CA bundle for an rtmps:// feed.")
    group.addoption(
        "--conform-feed-insecure",
        action="store_true",
        help="Do not verify an rtmps:// feed's certificate.",
    )
    group.addoption(
        "--conform-case",
        action="append",
        default=[],
        metavar="ID",
        help="Run only these cases (glob patterns such as HLS-PL-*; repeatable).",
    )
    group.addoption(
        "--conform-allow",
        action="append",
        default=[],
        metavar="ID|FILE",
        help="A known deviation: shown, but not failing the gate. A file lists one per line.",
    )
    group.addoption(
        "--conform-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="A suite-specific setting (repeatable).",
    )
    group.addoption(
        "--conform-hls",
        metavar="URL",
        help="Where an ingest target serves each stream's HLS; {name} is the stream name.",
    )
    group.addoption("--conform-key", metavar="KEY", help="Stream key the ingest target wants.")
    group.addoption("--conform-pull-api", metavar="REQUEST", help="rtsp-client: pull request.")
    group.addoption(
        "--conform-pull-api-remove", metavar="REQUEST", help="rtsp-client: removal request."
    )
    group.addoption("--conform-ca", metavar="FILE", help="CA bundle for a TLS target.")
    group.addoption(
        "--conform-insecure",
        action="store_true",
        help="Do not verify a TLS target's certificate.",
    )
    group.addoption("--conform-json", metavar="FILE", help="Write the JSON results.")
    group.addoption("--conform-junit", metavar="FILE", help="Write JUnit XML.")
    group.addoption("--conform-report", metavar="DIR", help="Write the HTML report there.")


def read_allow(values: list[str]) -> frozenset[str]:
    """IDs from ``--conform-allow`` values: an ID, or a file of IDs (``#`` comments)."""
    ids: set[str] = set()
    for value in values:
        path = Path(value)
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                text = line.split("#", 1)[0].strip()
                if text:
                    ids.add(text.upper())
        else:
            ids.add(value.strip().upper())
    return frozenset(ids)


def options_from(config: pytest.Config) -> ConformOptions:
    def path(name: str) -> Path | None:
        value = config.getoption(name)
        return Path(value) if value else None

    return ConformOptions(
        target=config.getoption("conform_target"),
        duration=config.getoption("conform_duration"),
        feed=config.getoption("conform_feed"),
        feed_media=path("conform_feed_media"),
        feed_ca=path("conform_feed_ca"),
        feed_insecure=bool(config.getoption("conform_feed_insecure")),
        cases=tuple(config.getoption("conform_case")),
        allow=read_allow(config.getoption("conform_allow")),
        settings=parse_settings(config.getoption("conform_set")),
        hls=config.getoption("conform_hls"),
        key=config.getoption("conform_key"),
        pull_api=config.getoption("conform_pull_api"),
        pull_api_remove=config.getoption("conform_pull_api_remove"),
        ca=path("conform_ca"),
        insecure=bool(config.getoption("conform_insecure")),
    )


def parse_settings(values: list[str]) -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE`` strings as pairs; anything else is a usage error."""
    pairs = []
    for value in values:
        key, equals, setting = value.partition("=")
        if not equals or not key.strip():
            raise pytest.UsageError(f"--conform-set {value!r}: expected KEY=VALUE")
        pairs.append((key.strip(), setting))
    return tuple(pairs)


def session_of(config: pytest.Config) -> ConformanceSession:
    return config.stash[SESSION_KEY]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(info): a camsim conformance case (conformance.case.case)"
    )
    from reports import now_iso

    session = ConformanceSession(options_from(config), created=now_iso())
    config.stash[SESSION_KEY] = session
    _LIVE_SESSIONS.append(session)


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None and session in _LIVE_SESSIONS:
        _LIVE_SESSIONS.remove(session)


def _selected(info: CaseInfo, patterns: tuple[str, ...]) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(info.id, p.upper()) for p in patterns)


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    conform = session_of(config)
    selected: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    seen: dict[str, str] = {}
    for item in items:
        marker = item.get_closest_marker(MARKER)
        if marker is None:
            selected.append(item)
            continue
        info: CaseInfo = marker.args[0]
        module = getattr(item, "module", None)
        suite = suite_of_module(module.__name__) if module is not None else None
        if suite is not None:
            info = CaseInfo(info.id, info.title, info.level, info.spec, info.rules, suite.name)
            if suite.name not in conform.suites:
                conform.suites.append(suite.name)
        if info.id in seen and seen[info.id] != item.nodeid:
            raise pytest.UsageError(f"case ID {info.id} is used by {seen[info.id]} too")
        seen[info.id] = item.nodeid
        item.stash[INFO_KEY] = info
        item.extra_keyword_matches.add(info.id)
        if _selected(info, conform.options.cases):
            selected.append(item)
            conform.catalogue.append(info)
        else:
            deselected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    selected.sort(key=_order)
    items[:] = selected
    conform.catalogue.sort(key=lambda info: _suite_order(info.suite, info.id))


def _suite_order(suite_name: str, case_id: str) -> tuple[str, int, str]:
    suite = SUITES.get(suite_name)
    position, identifier = suite.order(case_id) if suite is not None else (0, case_id)
    return suite_name, position, identifier


def _order(item: pytest.Item) -> tuple[str, int, str]:
    info = item.stash.get(INFO_KEY, None)
    if info is None:
        return "", -1, item.nodeid
    return _suite_order(info.suite, info.id)


@pytest.fixture(scope="session")
def conform_options(pytestconfig: pytest.Config) -> ConformOptions:
    """The ``--conform-*`` options."""
    return session_of(pytestconfig).options


@pytest.fixture(scope="session")
def conform_session(pytestconfig: pytest.Config) -> ConformanceSession:
    """The run: ``environment`` and ``notes`` for the report, ``progress()`` for status."""
    return session_of(pytestconfig)


@pytest.fixture
def case_record(request: pytest.FixtureRequest) -> CaseRecord:
    """Where the running case puts its measurements and charts."""
    info = request.node.stash.get(INFO_KEY, None)
    record = CaseRecord(info.id if info is not None else request.node.name)
    request.node.stash[RECORD_KEY] = record
    return record


def _verdict(
    report: pytest.TestReport, call: pytest.CallInfo[None]
) -> tuple[Verdict, str, list[Detail]]:
    if report.passed:
        return Verdict.PASS, "", []
    if report.skipped:
        reason = _skip_reason(report)
        if reason.startswith(NOT_APPLICABLE_PREFIX):
            return Verdict.NOT_APPLICABLE, reason.removeprefix(NOT_APPLICABLE_PREFIX), []
        return Verdict.SKIPPED, reason, []
    error = call.excinfo.value if call.excinfo is not None else None
    if isinstance(error, CaseFailure):
        return Verdict.FAIL, error.message, list(error.details)
    if report.when == "call" and isinstance(error, AssertionError):
        return Verdict.FAIL, _first_line(str(error)) or "assertion failed", []
    if isinstance(error, TargetUnreachable):
        return Verdict.ERROR, f"target unreachable: {error}", []
    text = f"{type(error).__name__}: {error}" if error is not None else report.longreprtext
    return Verdict.ERROR, _first_line(text), []


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    info = item.stash.get(INFO_KEY, None)
    if info is None:
        return
    if report.when == "setup" and report.passed:
        return
    if report.when == "teardown" and report.passed:
        return
    conform = session_of(item.config)
    verdict, message, details = _verdict(report, call)
    if isinstance(call.excinfo.value if call.excinfo else None, TargetUnreachable):
        conform.target_error = message
    if verdict is Verdict.FAIL and info.id in conform.options.allow:
        verdict = Verdict.ALLOWED
        message = f"known deviation: {message}"
    record = item.stash.get(RECORD_KEY, None)
    if report.when == "teardown":
        # A teardown error after a verdict was given: keep the verdict, say so.
        previous = next((r for r in conform.results if r.id == info.id), None)
        if previous is not None:
            previous.message += f" (teardown: {message})"
            return
    if verdict is Verdict.PASS and record is not None and record.summary:
        message = record.summary
    conform.add_result(
        CaseResult(
            id=info.id,
            title=info.title,
            level=info.level,
            verdict=verdict,
            suite=info.suite,
            spec=info.spec,
            rules=info.rules,
            message=message,
            details=details,
            measurements=list(record.measurements) if record is not None else [],
            duration=report.duration,
        )
    )
    if record is not None:
        conform.charts.extend(record.charts)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    conform = session_of(session.config)
    if session.config.option.collectonly or not conform.results:
        return
    report = conform.report()
    options = session.config.option
    if options.conform_json:
        write_json(report, Path(options.conform_json))
    if options.conform_junit:
        write_junit(report, Path(options.conform_junit))
    if options.conform_report:
        write_html(report, Path(options.conform_report))
    # Only test outcomes are re-judged; interrupts and usage errors keep pytest's status.
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        session.exitstatus = report.exit_code


def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    # No config here: mark every live session (there is one per pytest run).
    for session in _LIVE_SESSIONS:
        session.interrupted = True


def pytest_report_header(config: pytest.Config) -> str:
    options = session_of(config).options
    return f"camsim {camsim_version()} conformance; target: {options.target or '(none)'}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    conform = session_of(terminalreporter.config)
    if not conform.results:
        return
    report = conform.report()
    terminalreporter.section("conformance")
    for result in report.cases:
        if result.verdict in (Verdict.FAIL, Verdict.ERROR, Verdict.ALLOWED):
            terminalreporter.write_line(
                f"{result.verdict.value:<8} {result.level.value:<11} {result.id} {result.message}"
            )
    required = report.summary()[Level.REQUIRED.value]
    terminalreporter.write_line(
        f"gate: {report.verdict.value} (required: {required['pass']} pass, "
        f"{required['fail']} fail, {required['error']} error, {required['allowed']} allowed, "
        f"{required['not_applicable']} not applicable)"
    )
