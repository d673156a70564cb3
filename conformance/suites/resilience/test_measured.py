"""Measured, never judged: how long the scenarios took, and how soon the client came back."""

from __future__ import annotations

from conformance.case import INFO, CaseRecord, case, not_applicable
from conformance.suites.resilience.conftest import FaultRuns
from conformance.suites.resilience.verdict import judge
from reports.model import ChartKind, Series, SpecRef

RFC_3550_6_4 = SpecRef("RFC 3550", "6.4", "https://www.rfc-editor.org/rfc/rfc3550#section-6.4")


@case(
    "RESIL-TIME-001",
    "Wall time of the scenario runs, and the first frame after each fault, per scenario",
    level=INFO,
    spec=[RFC_3550_6_4],
)
def test_recovery(fault_runs: FaultRuns, case_record: CaseRecord) -> None:
    if not fault_runs.runs:
        not_applicable("no scenario was run")
    case_record.measure("wall time of the runs", round(fault_runs.wall_seconds, 1), "s")
    names: list[str | float] = []
    values: list[float] = []
    for case_id, run in sorted(fault_runs.runs.items()):
        stamps = [stamp for segment in run.segments for stamp in segment.media.stamps]
        verdict = judge(run.scenario, stamps, run.started_us, run.result.frame_count)
        back = [v for name, (v, _) in verdict.measured.items() if name.startswith("window")]
        if back:
            names.append(case_id.removeprefix("RESIL-"))
            values.append(max(back))
    if values:
        case_record.chart(
            "After each fault window ended: when the next frame in the output was sent",
            ChartKind.BAR,
            [Series("seconds after the window's end", tuple(values), tuple(names))],
            y_label="s",
        )
    case_record.summary = f"{len(fault_runs.runs)} scenarios in {fault_runs.wall_seconds:.0f} s"
