"""``camsim report RESULTS.json --out DIR``: render saved results again."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reports.html import write_html
from reports.junit import write_junit
from reports.model import Report
from reports.schema import ReportSchemaError, validate


def load_report(path: Path) -> Report:
    """A report from a JSON results file, checked against the schema."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportSchemaError(f"{path}: {exc}") from None
    try:
        validate(data)
    except ReportSchemaError as exc:
        raise ReportSchemaError(f"{path}: not a camsim report: {exc}") from None
    return Report.from_json(data)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for index.html (created when missing).",
)
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="JUnit XML too.")
def report(results: Path, out: Path, junit: Path | None) -> None:
    """Render RESULTS.json (from camsim conform --json, or any camsim report) as one
    self-contained HTML page in --out."""
    try:
        loaded = load_report(results)
    except ReportSchemaError as exc:
        raise click.UsageError(str(exc)) from None
    page = write_html(loaded, out)
    click.echo(f"report: {page}")
    if junit is not None:
        click.echo(f"junit: {write_junit(loaded, junit)}")
