"""One required case per scenario of the catalogue: the client's output of that camera.

The cases are made from :func:`~conformance.suites.rtsp_client.scenarios.catalogue`, so every
quirk profile of camsim's camera is a case (``RTSPC-QUIRK-<PROFILE>``) without an edit here.
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.case import REQUIRED, CaseRecord, case, fail
from conformance.suites.rtsp_client.conftest import ClientRuns
from conformance.suites.rtsp_client.judge import US_PER_S
from conformance.suites.rtsp_client.scenarios import Scenario, catalogue
from conformance.suites.rtsp_client.verdict import judge_result
from reports.model import ChartKind, Series

CHART_POINTS = 400


def _make_case(scenario: Scenario) -> Callable[[ClientRuns, CaseRecord], None]:
    @case(scenario.case_id, scenario.title, level=REQUIRED, spec=scenario.spec)
    def test(client_runs: ClientRuns, case_record: CaseRecord) -> None:
        result = client_runs.result(scenario.case_id)
        verdict = judge_result(result)
        judgement = verdict.judgement
        case_record.measure("frames output", judgement.frames)
        if verdict.first_frame_s is not None:
            case_record.measure("first frame output was sent at", verdict.first_frame_s, "s")
        for number, gap in enumerate(verdict.resumed_after_s[:3], start=1):
            case_record.measure(f"break {number}", round(gap, 2), "s")
        if verdict.stamps and (judgement.breaks or verdict.problems):
            step = max(1, len(verdict.stamps) // CHART_POINTS)
            points = verdict.stamps[::step]
            case_record.chart(
                f"{scenario.case_id}: when each output frame was sent",
                ChartKind.LINE,
                [
                    Series(
                        "send time",
                        tuple((s.wallclock_us - result.started_us) / US_PER_S for s in points),
                        tuple(float(i * step) for i in range(len(points))),
                    )
                ],
                x_label="output frame",
                y_label="seconds after the camera started",
            )
        if verdict.problems:
            fail("; ".join(verdict.problems), verdict.details)
        if verdict.audio_s is not None:
            case_record.measure("audio output", round(verdict.audio_s, 2), "s")
            case_record.summary = f"{verdict.audio_s:.1f} s of audio"
            return
        case_record.summary = (
            f"{judgement.frames} frames in order over {judgement.span_s:.1f} s"
            + (f", {len(judgement.breaks)} allowed break(s)" if judgement.breaks else "")
        )

    test.__name__ = "test_" + scenario.slug.replace("-", "_")
    test.__qualname__ = test.__name__
    return test


for _scenario in catalogue():
    _test = _make_case(_scenario)
    globals()[_test.__name__] = _test
del _scenario, _test
