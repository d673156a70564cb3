"""RTCP sender reports, and the session timeout against receiver reports."""

from __future__ import annotations

from conformance.case import INFO, REQUIRED, CaseRecord, case, fail, not_applicable
from conformance.rtsp.observe import SessionProbe, Track
from conformance.rtsp.spec import rfc2326, rfc3550, rfc7826
from conformance.rtsp.streams import Stream
from conformance.rtsp.view import CameraView
from reports.model import Detail
from wire.rtp import RtcpSenderReport, RtpError, parse_compound, unix_from_ntp

MIN_SECONDS_FOR_REPORTS = 7.5
"""RFC 3550 §6.3.1: 5 s minimum interval, randomised by up to 1.5."""
MAX_MAPPING_ERROR = 0.25
"""Seconds a sender report's RTP time may differ from the media's at the same instant."""
MAX_NTP_DRIFT = 0.02
"""Between two reports, RTP time may run 2 % off NTP time (plus the mapping error)."""
STILL_FLOWING = 2.0


def _reports(track: Track) -> list[tuple[float, RtcpSenderReport]]:
    found = []
    for arrival, data in track.rtcp:
        try:
            packets = parse_compound(data)
        except (RtpError, ValueError):
            continue
        found += [(arrival, p) for p in packets if isinstance(p, RtcpSenderReport)]
    return found


def _pairs(camera: CameraView) -> list[tuple[Stream, Track]]:
    pairs = []
    for run in camera.played:
        streams = {s.track: s for s in camera.streams if s.transport == run.name}
        for track in run.tracks:
            stream = streams.get(track.index)
            if stream is not None and stream.packets:
                pairs.append((stream, track))
    if not pairs:
        not_applicable("no session received RTP")
    return pairs


@case(
    "RTSP-RTCP-001",
    "Sender reports arrive for every stream, with the stream's SSRC",
    level=REQUIRED,
    spec=[rfc3550("6.4.1"), rfc3550("6.2")],
)
def test_sender_reports(camera: CameraView) -> None:
    if camera.observation.duration < MIN_SECONDS_FOR_REPORTS:
        not_applicable(f"sessions shorter than {MIN_SECONDS_FOR_REPORTS} s (--duration)")
    missing = []
    for stream, track in _pairs(camera):
        ssrcs = {r.packet.ssrc for r in stream.packets}
        reports = [sr for _, sr in _reports(track) if sr.ssrc in ssrcs]
        if not reports:
            other = {sr.ssrc for _, sr in _reports(track)}
            seen = f" (reports for SSRC {', '.join(f'{s:08X}' for s in other)})" if other else ""
            missing.append(
                Detail(f"no sender report in {camera.observation.duration:g} s{seen}", stream.name)
            )
    if missing:
        fail("streams without RTCP sender reports", missing)


@case(
    "RTSP-RTCP-002",
    "Sender reports map NTP to RTP time as the media paces: against the packets and each other",
    level=REQUIRED,
    spec=[rfc3550("6.4.1")],
)
def test_report_mapping(camera: CameraView) -> None:
    details = []
    judged = 0
    for stream, track in _pairs(camera):
        clock = stream.format.clock_rate
        ssrcs = {r.packet.ssrc for r in stream.packets}
        reports = [(a, sr) for a, sr in _reports(track) if sr.ssrc in ssrcs]
        media = [(r.arrival, r.packet.timestamp) for r in stream.packets]
        previous: tuple[float, int] | None = None
        for arrival, report in reports:
            before = [m for m in media if m[0] <= arrival]
            if before:
                judged += 1
                last_arrival, last_ts = before[-1]
                # The newest packet's timestamp plus the time since it arrived, which the
                # report should agree with to within a frame or so.
                step = timestamp_step(last_ts, report.rtp_timestamp) / clock
                off = step - (arrival - last_arrival)
                if abs(off) > MAX_MAPPING_ERROR:
                    where = f"{stream.name}, report at +{arrival - media[0][0]:.1f} s"
                    details.append(Detail(f"report RTP time {off:+.3f} s from the media's", where))
            ntp = unix_from_ntp(report.ntp_timestamp)
            if previous is not None:
                rtp_seconds = timestamp_step(previous[1], report.rtp_timestamp) / clock
                ntp_seconds = ntp - previous[0]
                allowed = MAX_MAPPING_ERROR + MAX_NTP_DRIFT * ntp_seconds
                if ntp_seconds > 0 and abs(rtp_seconds - ntp_seconds) > allowed:
                    details.append(
                        Detail(
                            f"{rtp_seconds:.3f} s of RTP time in {ntp_seconds:.3f} s of NTP time",
                            f"{stream.name}, consecutive reports",
                        )
                    )
            previous = (ntp, report.rtp_timestamp)
    if not judged:
        not_applicable("no sender report arrived after media (RTSP-RTCP-001 judges their absence)")
    if details:
        fail("sender reports disagree with the media clock", details)


def timestamp_step(before: int, after: int) -> int:
    """Forward distance between two 32-bit timestamps, signed (wrap-aware)."""
    delta = (after - before) & 0xFFFFFFFF
    return delta - (1 << 32) if delta >= 1 << 31 else delta


def _probe(camera: CameraView, probe: SessionProbe | None) -> SessionProbe:
    if probe is None:
        not_applicable(camera.observation.probes_skipped or "the session probes did not run")
    if probe.error:
        not_applicable(f"session probe: {probe.error}")
    if not probe.waited:
        not_applicable(
            f"session timeout {probe.timeout:g} s is longer than --set session-wait allows"
        )
    return probe


@case(
    "RTSP-SES-001",
    "A session kept alive by RTCP receiver reports alone outlives its timeout",
    level=REQUIRED,
    spec=[rfc2326("12.37"), rfc7826("10.5"), rfc3550("6.4.2")],
)
def test_receiver_reports_keep_alive(camera: CameraView) -> None:
    probe = _probe(camera, camera.observation.kept_alive)
    if not probe.reports_sent:
        not_applicable("no server_port to send receiver reports to")
    teardown = probe.teardown
    where = f"UDP session, timeout {probe.timeout:g} s, {probe.reports_sent} receiver reports"
    flowing = probe.last_rtp is not None and probe.last_rtp >= probe.waited - STILL_FLOWING
    if not flowing:
        last = "none" if probe.last_rtp is None else f"{probe.last_rtp:.1f} s"
        fail(f"RTP stopped before {probe.waited:g} s (last at {last})", [Detail("RTP", where)])
    if teardown is None or teardown.status != 200:
        answer = teardown.describe() if teardown is not None else "not sent"
        fail(f"the session was gone after {probe.waited:g} s: {answer}", [Detail(answer, where)])


@case(
    "RTSP-SES-002",
    "What happens to a session left idle (no request, no receiver report) past its timeout",
    level=INFO,
    spec=[rfc2326("12.37")],
)
def test_idle_session(camera: CameraView, case_record: CaseRecord) -> None:
    probe = _probe(camera, camera.observation.idle)
    case_record.measure("declared timeout", probe.timeout, "s")
    last = probe.last_rtp
    case_record.measure("last RTP after PLAY", round(last, 2) if last is not None else None, "s")
    status = probe.teardown.status if probe.teardown is not None else None
    case_record.measure("TEARDOWN after the wait", status)
    expired = last is not None and last < probe.waited - STILL_FLOWING
    case_record.summary = (
        f"expired after {last:.1f} s (timeout {probe.timeout:g} s); TEARDOWN then {status}"
        if expired and last is not None
        else f"still playing after {probe.waited:g} s (timeout {probe.timeout:g} s)"
    )
