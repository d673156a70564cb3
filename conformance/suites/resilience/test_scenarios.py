"""One case per named fault scenario: the client's output held against the scenario's rule.

The cases are made from :func:`camsim.fault.scenarios.scenarios`, so a scenario added to the
catalogue is judged without an edit here. Each case's page shows the run's timeline: latency of
every output frame (send time to the first read of its segment), frames output and lost per
second and the output's bitrate, by send time, with the faults' windows drawn as a band; every
change of the proxy, reboot and client exit, and each of the client's connections through the
proxy with the transport its media got (its reconnects and fallbacks), listed in order.
"""

from __future__ import annotations

from collections.abc import Callable

from camsim.fault.scenarios import DeviceFault, FaultScenario, Role, scenarios
from conformance.case import REQUIRED, CaseRecord, case, fail, not_applicable
from conformance.suites.resilience.conftest import FaultRuns, case_id, kernel_case_id
from conformance.suites.resilience.run import FaultRun, Mark
from conformance.suites.resilience.verdict import (
    judge,
    judge_segments,
    lost_per_second,
    output_bits,
)
from conformance.suites.rtsp_client.judge import US_PER_S
from reports.model import ChartKind, Detail, Series, SpecRef

CHART_POINTS = 400


def _spec(scenario: FaultScenario) -> list[SpecRef]:
    refs = []
    for text in scenario.references:
        document, _, section = text.partition(" §")
        number = document.removeprefix("RFC ").strip()
        url = f"https://www.rfc-editor.org/rfc/rfc{number}" if number.isdigit() else ""
        if section and url:
            url += f"#section-{section.split()[0]}"
        refs.append(SpecRef(document.split(" REQ")[0], section or document.partition(" ")[2], url))
    return refs


def timeline(run: FaultRun, case_record: CaseRecord, lost: list[int]) -> None:
    """The run's timeline: per-frame latency and output rate over send time, faults as a band."""
    segments = run.segments
    points: list[tuple[float, float]] = []
    for segment, arrived in zip(segments, run.arrivals, strict=False):
        for stamp in segment.media.stamps:
            sent = (stamp.wallclock_us - run.started_us) / US_PER_S
            points.append((sent, arrived - sent))
    step = max(1, len(points) // CHART_POINTS)
    shown = points[::step]
    top = max((latency for _, latency in shown), default=1.0)
    spans = run.scenario.fault_spans()
    ticks = [t / 10 for t in range(int(run.scenario.seconds * 10) + 1)]

    def band(height: float) -> Series:
        """The fault windows, drawn ``height`` high."""
        heights = tuple(height if any(a <= t < b for a, b in spans) else 0.0 for t in ticks)
        return Series("fault in force", heights, tuple(ticks))

    case_record.chart(
        f"{run.scenario.name}: latency of each output frame (send to first read of its segment)",
        ChartKind.LINE,
        [
            Series("latency", tuple(round(y, 3) for _, y in shown), tuple(x for x, _ in shown)),
            band(top),
        ],
        x_label="seconds after the run started (send time)",
        y_label="s",
    )
    per_second = [0] * (int(run.scenario.seconds) + 1)
    for sent, _ in points:
        if 0 <= sent < len(per_second):
            per_second[int(sent)] += 1
    seconds = tuple(float(s) for s in range(len(per_second)))
    bits = output_bits(segments, run.started_us, len(per_second))
    case_record.chart(
        f"{run.scenario.name}: output bitrate, by the second its frames were sent",
        ChartKind.LINE,
        [
            Series("output", tuple(round(b / 1000, 1) for b in bits), seconds),
            band(max(bits, default=0.0) / 1000 or 1.0),
        ],
        x_label="seconds after the run started (send time)",
        y_label="kbit/s",
    )
    case_record.chart(
        f"{run.scenario.name}: frames output and lost, by the second they were sent",
        ChartKind.LINE,
        [
            Series("frames output", tuple(float(n) for n in per_second), seconds),
            Series("frames lost", tuple(float(n) for n in lost[: len(seconds)]), seconds),
        ],
        x_label="seconds after the run started (send time)",
        y_label="frames",
    )


def client_marks(run: FaultRun) -> list[Mark]:
    """The client's connections through the proxy, their transports and their ends, on the
    run's clock: its reconnects and fallbacks (the proxy path only)."""
    events = run.proxy_state.get("events")
    if not isinstance(events, list):
        return []
    started = run.started_us / US_PER_S
    return [Mark(round(float(e["at"]) - started, 3), str(e["what"])) for e in events]


def _make_case(
    scenario: FaultScenario, kernel: bool = False
) -> Callable[[FaultRuns, CaseRecord], None]:
    ident = kernel_case_id(scenario) if kernel else case_id(scenario)
    title = scenario.title + (" (kernel faults, network namespaces)" if kernel else "")

    @case(ident, title, level=REQUIRED, spec=_spec(scenario))
    def test(fault_runs: FaultRuns, case_record: CaseRecord) -> None:
        if ident in fault_runs.not_run:
            not_applicable(fault_runs.not_run[ident])
        if scenario.role is not fault_runs.role:
            not_applicable(
                f"a {scenario.role.value} scenario, and the target is judged as "
                f"{'a puller (a command)' if fault_runs.role is Role.PULL else 'an ingest (rtmp://)'}"
            )
        if scenario.device is DeviceFault.SERVER_RESTART and not fault_runs.managed_server:
            not_applicable(
                "the server must be started and killed by the suite: give --target as its "
                "command with {rtmp_port} and {http_port}, not an rtmp:// URL"
            )
        run = fault_runs.run(ident)
        if run.result.error:
            fail(run.result.error)
        stamps = [stamp for segment in run.segments for stamp in segment.media.stamps]
        fresh = [
            (
                arrived,
                (max(s.wallclock_us for s in segment.media.stamps) - run.started_us) / US_PER_S,
            )
            for segment, arrived in zip(run.segments, run.arrivals, strict=False)
            if segment.media.stamps
        ]
        verdict = judge(scenario, stamps, run.started_us, run.result.frame_count, run.memory, fresh)
        for name, (value, unit) in verdict.measured.items():
            case_record.measure(name, value, unit)
        marks = sorted(run.marks + client_marks(run), key=lambda mark: mark.at)
        for mark in marks:  # the timeline's events, on a pass too
            case_record.measure(f"at {mark.at:.1f} s", mark.what)
        problems = verdict.problems + judge_segments(run.segments, run.result.frame_count)
        details = [Detail(sentence, "expected") for sentence in verdict.expected]
        details += [Detail(mark.what, f"{mark.at:.1f} s") for mark in marks]
        details += [
            Detail(
                f"{item.missing} frames lost between {item.after_s:.2f} s and "
                f"{item.resumed_s:.2f} s" + ("" if item.inside else ", outside the fault windows"),
                "break",
            )
            for item in verdict.breaks[:10]
        ]
        timeline(run, case_record, lost_per_second(verdict.breaks, scenario.seconds))
        if problems:
            if run.result.log_tail:
                status = "killed" if run.result.killed else f"exit status {run.result.exit_code}"
                tail = " | ".join(run.result.log_tail[-4:])
                details.append(Detail(tail, f"client log ({status})"))
            fail("; ".join(problems), details)
        frames = len(stamps)
        lost = sum(b.missing for b in verdict.breaks)
        case_record.summary = f"{frames} frames output, {lost} lost inside the fault windows"

    test.__name__ = "test_" + scenario.name.replace("-", "_") + ("_kernel" if kernel else "")
    test.__qualname__ = test.__name__
    return test


for _scenario in scenarios():
    _test = _make_case(_scenario)
    globals()[_test.__name__] = _test
# Each pull scenario's kernel-path case follows the proxy ones (--set path=kernel or both).
for _scenario in scenarios(Role.PULL):
    _test = _make_case(_scenario, kernel=True)
    globals()[_test.__name__] = _test
del _scenario, _test
