"""``camsim conform``: run conformance suites against a target, as a CI gate.

Exit status: 0 when every required case passes, 1 when one fails, 2 for a usage error or a
target that cannot be observed (said in one line).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

import click

from conformance import runner
from conformance.case import CaseInfo
from conformance.plugin import read_allow
from conformance.registry import UnknownSuite, get_suite
from conformance.session import ConformOptions
from reports import write_html, write_json, write_junit
from reports.model import CaseResult, Level, Report, Verdict

EXIT_USAGE = 2

_MARKS = {
    Verdict.PASS: "pass",
    Verdict.FAIL: "FAIL",
    Verdict.ALLOWED: "allowed",
    Verdict.NOT_APPLICABLE: "n/a",
    Verdict.ERROR: "ERROR",
    Verdict.SKIPPED: "skipped",
}


class Progress:
    """Live progress on a terminal: a status line while observing, a line per case."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.status_shown = False
        self.count = 0

    def __call__(self, kind: str, value: Any) -> None:
        if kind == "status":
            self.stream.write(f"\r\x1b[K{value}")
            self.status_shown = True
        elif kind == "case":
            self._case(value)
        self.stream.flush()

    def _case(self, result: CaseResult) -> None:
        if self.status_shown:
            self.stream.write("\r\x1b[K")
            self.status_shown = False
        self.count += 1
        message = f"  {result.message}" if result.verdict is not Verdict.PASS else ""
        self.stream.write(
            f"{_MARKS[result.verdict]:>8} {result.level.value:<11} {result.id:<12} "
            f"{result.title}{message[:160]}\n"
        )


def format_catalogue(cases: list[CaseInfo]) -> str:
    lines = [f"{'ID':<12} {'level':<11} {'spec':<40} title"]
    for info in cases:
        spec = "; ".join(str(s) for s in info.spec)
        lines.append(f"{info.id:<12} {info.level.value:<11} {spec[:40]:<40} {info.title}")
    lines.append(f"{len(cases)} cases")
    return "\n".join(lines)


def format_summary(report: Report) -> str:
    summary = report.summary()
    lines = []
    for case in report.cases:
        if case.verdict in (Verdict.FAIL, Verdict.ERROR, Verdict.ALLOWED):
            lines.append(f"{_MARKS[case.verdict]} {case.level.value} {case.id}: {case.message}")
    for level in Level:
        counts = summary[level.value]
        shown = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in counts.items() if n)
        if shown:
            lines.append(f"{level.value}: {shown}")
    lines.append(
        f"verdict: {report.verdict.value.upper()} ({len(report.cases)} cases, "
        f"{report.duration:.1f} s)"
    )
    return "\n".join(lines)


def _settings(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        key, equals, setting = value.partition("=")
        if not equals or not key.strip():
            raise click.UsageError(f"--set {value!r}: expected KEY=VALUE")
        pairs.append((key.strip(), setting))
    return tuple(pairs)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--suite", "suites", multiple=True, metavar="NAME", help="Suite to run (repeatable).")
@click.option("--target", metavar="URL", help="What to judge (hls-output: a playlist URL).")
@click.option("--list", "list_only", is_flag=True, help="Print the catalogue of cases and exit.")
@click.option(
    "--case", "cases", multiple=True, metavar="ID", help="Only these cases (HLS-PL-*; repeatable)."
)
@click.option("-k", "keyword", metavar="EXPR", help="pytest -k expression over IDs and names.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), help="Seconds to observe.")
@click.option("--feed", metavar="URL", help="Publish the sample to this rtmp[s]:// URL meanwhile.")
@click.option(
    "--feed-media",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Sample to feed (the default sample otherwise).",
)
@click.option(
    "--feed-ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CA bundle that signs the rtmps:// feed's certificate.",
)
@click.option("--feed-insecure", is_flag=True, help="Do not verify the rtmps:// certificate.")
@click.option(
    "--hls",
    metavar="URL",
    help="rtmp-ingest, rtsp-client, resilience: where the target serves each stream's HLS, "
    "{name} for the stream name.",
)
@click.option("--key", metavar="KEY", help="rtmp-ingest: the stream key the target wants.")
@click.option(
    "--pull-api",
    metavar="'METHOD URL [BODY]'",
    help="rtsp-client, resilience: the request that tells a running server to pull {url} as "
    "{name} (instead of --target); its HLS is at --hls.",
)
@click.option(
    "--pull-api-remove",
    metavar="'METHOD URL'",
    help="rtsp-client, resilience: the request that tells the server to stop pulling {name} "
    "after a case.",
)
@click.option(
    "--ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CA bundle that signs an rtmps:// target's certificate.",
)
@click.option("--insecure", is_flag=True, help="Do not verify an rtmps:// target's certificate.")
@click.option(
    "--allow", "allow", multiple=True, metavar="ID|FILE", help="Known deviation (repeatable)."
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="A suite-specific setting (repeatable); see the suite's documentation.",
)
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="JUnit XML.")
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="JSON results."
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the self-contained HTML report (index.html).",
)
def conform(
    suites: tuple[str, ...],
    target: str | None,
    list_only: bool,
    cases: tuple[str, ...],
    keyword: str | None,
    duration: float | None,
    feed: str | None,
    feed_media: Path | None,
    feed_ca: Path | None,
    feed_insecure: bool,
    hls: str | None,
    key: str | None,
    pull_api: str | None,
    pull_api_remove: str | None,
    ca: Path | None,
    insecure: bool,
    allow: tuple[str, ...],
    settings: tuple[str, ...],
    junit: Path | None,
    json_path: Path | None,
    report_dir: Path | None,
) -> None:
    """Judge a target with conformance suites; exit 0 when every required case passes.

    \b
    camsim conform --list --suite hls-output
    camsim conform --suite hls-output --target http://127.0.0.1:8080/live/cam/index.m3u8 \\
        --feed rtmp://127.0.0.1:1935/live/cam --junit junit.xml --report report/
    """
    if not suites:
        raise click.UsageError("name a suite with --suite (e.g. --suite hls-output)")
    try:
        for name in suites:
            get_suite(name)
    except UnknownSuite as exc:
        raise click.UsageError(str(exc)) from None
    if list_only:
        try:
            click.echo(format_catalogue(runner.catalogue(suites, cases, keyword)))
        except runner.RunError as exc:
            raise click.UsageError(str(exc)) from None
        return
    if pull_api is not None and not hls:
        raise click.UsageError(
            "--pull-api needs --hls, where the server serves each stream "
            "(e.g. 'http://127.0.0.1:8080/live/{name}/index.m3u8')"
        )
    if pull_api_remove is not None and pull_api is None:
        raise click.UsageError("--pull-api-remove goes with --pull-api")
    if not target and not pull_api:
        raise click.UsageError("--target is required (e.g. an HLS playlist URL)")
    if feed is not None and not feed.lower().startswith(("rtmp://", "rtmps://")):
        raise click.UsageError(f"--feed {feed}: the scheme must be rtmp:// or rtmps://")
    options = ConformOptions(
        target=target,
        duration=duration,
        feed=feed,
        feed_media=feed_media,
        feed_ca=feed_ca,
        feed_insecure=feed_insecure,
        cases=cases,
        allow=read_allow(list(allow)),
        settings=_settings(settings),
        hls=hls,
        key=key,
        pull_api=pull_api,
        pull_api_remove=pull_api_remove,
        ca=ca,
        insecure=insecure,
    )
    show = Progress(sys.stderr) if sys.stderr.isatty() else None
    try:
        report = runner.run(suites, options, keyword=keyword, show=show)
    except runner.RunError as exc:
        click.echo(f"camsim conform: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    if json_path is not None:
        write_json(report, json_path)
    if junit is not None:
        write_junit(report, junit)
    if report_dir is not None:
        write_html(report, report_dir)
    if report.error:
        click.echo(f"camsim conform: {report.error}", err=True)
    else:
        click.echo(format_summary(report))
    sys.exit(report.exit_code)
