"""Measured, never judged: how soon the client's output starts, how fast it reconnects."""

from __future__ import annotations

from conformance.case import INFO, CaseRecord, case, not_applicable
from conformance.suites.rtsp_client.conftest import ClientRuns
from conformance.suites.rtsp_client.scenarios import rfc
from conformance.suites.rtsp_client.verdict import judge_result
from reports.model import ChartKind, Series

RESTART_CASE = "RTSPC-RESTART-001"


@case(
    "RTSPC-TIME-001",
    "When the first frame in the output was sent, per case (seconds after the camera started)",
    level=INFO,
    spec=[rfc(2326, "10.5")],
)
def test_first_frame(client_runs: ClientRuns, case_record: CaseRecord) -> None:
    names: list[str] = []
    values: list[float] = []
    for case_id, result in sorted(client_runs.results.items()):
        first = judge_result(result).first_frame_s
        if first is not None:
            names.append(case_id.removeprefix("RTSPC-"))
            values.append(round(first, 2))
    if not values:
        not_applicable("no case has output")
    values_sorted = sorted(values)
    case_record.measure("median", values_sorted[len(values_sorted) // 2], "s")
    case_record.measure("largest", values_sorted[-1], "s")
    case_record.chart(
        "First frame in the output: when the camera sent it",
        ChartKind.BAR,
        [Series("seconds after the camera started", tuple(values), tuple(names))],
        y_label="s",
    )
    case_record.summary = f"median {values_sorted[len(values_sorted) // 2]:.2f} s"


@case(
    "RTSPC-TIME-002",
    "Reconnect time after a camera restart: send time of the last frame before the break to "
    "the first after it",
    level=INFO,
    spec=[rfc(3550, "6.6")],
)
def test_reconnect_time(client_runs: ClientRuns, case_record: CaseRecord) -> None:
    result = client_runs.results.get(RESTART_CASE)
    if result is None:
        not_applicable(f"{RESTART_CASE} was not run")
    verdict = judge_result(result)
    if not verdict.resumed_after_s:
        not_applicable("the output has no break to measure (the client did not come back)")
    gap = verdict.resumed_after_s[0]
    down = result.scenario.restart_down
    case_record.measure("break", round(gap, 2), "s")
    case_record.measure("of which the camera was away", down, "s")
    case_record.summary = f"{gap:.2f} s (the camera was away {down:g} s)"
