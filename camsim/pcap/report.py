"""``inspect --report DIR``: the project's HTML report (:mod:`reports`) of one capture.

Each finding is a case (an error fails the run, a warning is recommended, an info is shown
but never judged); each RTP and RTMP stream is an informational case carrying its figures; the
charts are each stream's bitrate and jitter over time and where its sequence numbers had gaps.
``DIR`` gets ``index.html`` (self-contained) and ``report.json`` (re-rendered by
``camsim report``).
"""

from __future__ import annotations

from pathlib import Path

from camsim.pcap.findings import Severity
from camsim.pcap.inspect import InspectResult
from camsim.pcap.output import Secrets
from camsim.pcap.rtp import RtpStreamReport
from reports import (
    CaseResult,
    Chart,
    ChartKind,
    Detail,
    Level,
    Measurement,
    Report,
    Series,
    Verdict,
    now_iso,
    write_html,
    write_json,
)

_LEVELS = {
    Severity.ERROR: Level.REQUIRED,
    Severity.WARNING: Level.RECOMMENDED,
    Severity.INFO: Level.INFO,
}


def build_report(result: InspectResult, *, show_secrets: bool = False) -> Report:
    secrets = Secrets(show_secrets)
    report = Report(
        title=f"camsim pcap inspect {result.path.name}",
        kind="pcap",
        created=now_iso(),
        environment={
            "capture": str(result.path),
            "format": result.format,
            "link_types": result.link_types,
        },
        duration=result.seconds,
    )
    report.measurements += [
        Measurement("packets", result.packets),
        Measurement("duration", round(result.duration, 3), "s"),
        Measurement("RTSP dialogs", len(result.dialogs)),
        Measurement("RTP streams", len(result.rtp_streams)),
        Measurement("RTMP sessions", len(result.rtmp)),
    ]
    for number, finding in enumerate(result.findings, start=1):
        level = _LEVELS[finding.severity]
        report.cases.append(
            CaseResult(
                id=f"PCAP-{number:03d}",
                title=finding.code,
                level=level,
                verdict=Verdict.PASS if level is Level.INFO else Verdict.FAIL,
                suite="findings",
                message=secrets.url(finding.message) or "",
                details=[Detail(f"packet {p}") for p in finding.packets[:25]],
            )
        )
    for index, stream in enumerate(result.rtp_streams, start=1):
        case_id = f"RTP-{index:02d}"
        report.cases.append(_stream_case(case_id, stream))
        report.charts += _stream_charts(case_id, stream)
    for session in result.rtmp:
        names = secrets.name(", ".join(session.stream_names))
        for media in session.media_streams:
            report.cases.append(
                CaseResult(
                    id=f"RTMP-{session.connection}-{media.stream_id}",
                    title=f"RTMP {session.role or 'session'} {session.client} -> {session.server}",
                    level=Level.INFO,
                    verdict=Verdict.PASS,
                    suite="streams",
                    message=f"app {secrets.url(session.app)}, stream {names}",
                    measurements=[
                        Measurement("video frames", media.video_frames),
                        Measurement("keyframes", media.keyframes),
                        Measurement("audio frames", media.audio_frames),
                        Measurement("bitrate", round(media.bitrate / 1000), "kbit/s"),
                    ],
                )
            )
    return report


def _stream_case(case_id: str, stream: RtpStreamReport) -> CaseResult:
    media = stream.media
    return CaseResult(
        id=case_id,
        title=f"{media.media} {media.codec} SSRC {stream.ssrc:08X} ({stream.flow})",
        level=Level.INFO,
        verdict=Verdict.PASS,
        suite="streams",
        message=stream.setup or "no SETUP announced it",
        measurements=[
            Measurement("packets", stream.packets),
            Measurement("lost", stream.lost),
            Measurement("missing", stream.missing),
            Measurement("duplicated", stream.duplicated),
            Measurement("reordered", stream.reordered),
            Measurement("jitter", round(stream.jitter_ms, 3), "ms"),
            Measurement("max jitter", round(stream.max_jitter_ms, 3), "ms"),
            Measurement("bitrate", round(stream.bitrate / 1000), "kbit/s"),
            Measurement("frames", stream.frames),
            Measurement("keyframes", stream.keyframes),
        ],
    )


def _stream_charts(case_id: str, stream: RtpStreamReport) -> list[Chart]:
    name = f"SSRC {stream.ssrc:08X}"
    charts = [
        Chart(
            f"{case_id}-bitrate",
            f"Bitrate, {name}",
            ChartKind.LINE,
            (
                Series(
                    name,
                    tuple(b / 1000 for _, b in stream.bitrate_series),
                    tuple(t for t, _ in stream.bitrate_series),
                ),
            ),
            x_label="s",
            y_label="kbit/s",
            case=case_id,
        ),
        Chart(
            f"{case_id}-jitter",
            f"Jitter (RFC 3550 A.8), {name}",
            ChartKind.LINE,
            (
                Series(
                    name,
                    tuple(j for _, j in stream.jitter_series),
                    tuple(t for t, _ in stream.jitter_series),
                ),
            ),
            x_label="s",
            y_label="ms",
            case=case_id,
        ),
    ]
    if stream.loss_runs:
        charts.append(
            Chart(
                f"{case_id}-gaps",
                f"Sequence gaps, {name}",
                ChartKind.SCATTER,
                (
                    Series(
                        "packets missing",
                        tuple(float(run.count) for run in stream.loss_runs),
                        tuple(run.seconds for run in stream.loss_runs),
                    ),
                ),
                x_label="s",
                y_label="packets",
                case=case_id,
            )
        )
    return charts


def write_report(result: InspectResult, folder: Path, *, show_secrets: bool = False) -> Path:
    """``folder/index.html`` and ``folder/report.json``; the HTML page's path."""
    report = build_report(result, show_secrets=show_secrets)
    write_json(report, folder / "report.json")
    return write_html(report, folder)
