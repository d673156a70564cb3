"""Findings: what ``inspect`` saw, said as problems a person can act on, with packet numbers.

Each rule is a small function over the whole :class:`~camsim.pcap.inspect.InspectResult`,
registered by name with :func:`rule`; :func:`find_problems` runs them all. A rule speaks in the
terms of the field ("keyframe every 12.0 s", "SSRC changes at packet 1234 without a new SETUP")
and names the packets to open in Wireshark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from camsim.pcap.rtp import RtpStreamReport
from wire.rtsp import RemoteProtocolError, RtpInfo

if TYPE_CHECKING:
    from camsim.pcap.inspect import InspectResult


class Severity(StrEnum):
    ERROR = "error"
    """Media or a session fails, or was lost."""
    WARNING = "warning"
    """Works here, breaks some clients or servers, or shows a fault upstream."""
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    message: str
    packets: tuple[int, ...] = field(default=())


Rule = Callable[["InspectResult"], list[Finding]]
RULES: dict[str, Rule] = {}

KEYFRAME_INTERVAL_LIMIT = 5.0
"""Seconds between keyframes beyond which a viewer waits too long to start."""
CLOCK_DRIFT_LIMIT = 0.001
ARRIVAL_DRIFT_LIMIT = 0.005
"""The capture clock sees network jitter too: a wider margin than against RTCP SR."""
SLOW_TLS_HANDSHAKE = 1.0
UNANSWERED_GRACE = 1.0
"""A request sent this close to the end of the capture may simply have been answered later."""


def rule(name: str) -> Callable[[Rule], Rule]:
    def register(function: Rule) -> Rule:
        RULES[name] = function
        return function

    return register


def find_problems(result: InspectResult) -> list[Finding]:
    """Every rule's findings, errors first, then in packet order."""
    findings = [finding for check in RULES.values() for finding in check(result)]
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return sorted(findings, key=lambda f: (order[f.severity], f.packets[:1] or (0,)))


def _stream_name(stream: RtpStreamReport) -> str:
    return f"{stream.media.media} {stream.media.codec} SSRC {stream.ssrc:08X} ({stream.flow})"


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "0%"


# The capture itself.


@rule("capture-truncated")
def _truncated(result: InspectResult) -> list[Finding]:
    if result.truncated is None:
        return []
    return [
        Finding(
            Severity.WARNING, "capture-truncated", f"the capture is cut short: {result.truncated}"
        )
    ]


@rule("tcp-holes")
def _tcp_holes(result: InspectResult) -> list[Finding]:
    findings = []
    for connection in result.connections:
        for side, hole in connection.holes:
            where = f"after packet {hole.after_packet}" if hole.after_packet else "at the start"
            before = f", before packet {hole.before_packet}" if hole.before_packet else ""
            findings.append(
                Finding(
                    Severity.WARNING,
                    "tcp-hole",
                    f"the capture misses {hole.size} bytes the {side} sent on TCP connection "
                    f"{connection.index} ({connection.client} -> {connection.server}) {where}"
                    f"{before}; parsing resumed at the next message it could find",
                    tuple(p for p in (hole.after_packet, hole.before_packet) if p),
                )
            )
    return findings


@rule("ip-fragments")
def _fragments(result: InspectResult) -> list[Finding]:
    if not result.fragmented:
        return []
    first = result.fragmented[0]
    return [
        Finding(
            Severity.INFO,
            "ip-fragments",
            f"{len(result.fragmented)} datagrams arrived in IP fragments, the first in packets "
            f"{first[0]}-{first[1]}: a sender putting more than an MTU in one datagram (a lost "
            "fragment loses the whole datagram)",
            first,
        )
    ]


# RTSP.


@rule("rtsp-status")
def _rtsp_status(result: InspectResult) -> list[Finding]:
    findings = []
    for dialog in result.dialogs:
        exchanges = dialog.exchanges
        for position, exchange in enumerate(exchanges):
            status = exchange.status
            if status is None or status < 400:
                continue
            later = exchanges[position + 1 :]
            accepted = next(
                (
                    e
                    for e in later
                    if e.method == exchange.method and e.status is not None and e.status < 400
                ),
                None,
            )
            if status == 401 and exchange.authorization is None and accepted is not None:
                continue  # the usual challenge before credentials are sent
            if status == 401 and accepted is not None:
                if not exchange.username:
                    why = "the rejected ones had an empty user name"
                elif exchange.username != accepted.username:
                    why = "the rejected ones named another user"
                else:
                    why = "same user: a wrong password, a stale nonce or a digest over another URL"
                findings.append(
                    Finding(
                        Severity.WARNING,
                        "rtsp-credentials-retried",
                        f"dialog {dialog.index}: {exchange.method} with {exchange.authorization} "
                        f"credentials answered 401 (packet {exchange.response_packet}), accepted "
                        f"later (packet {accepted.response_packet}); {why}",
                        (exchange.response_packet, accepted.response_packet),
                    )
                )
                continue
            what = f"{exchange.method} {exchange.url}".strip()
            message = f"{what} answered {status} {exchange.reason}".rstrip()
            severity = Severity.ERROR
            if status == 401 and exchange.authorization is not None:
                message += f": the {exchange.authorization} credentials were rejected"
            elif status == 461:
                message += f": the server refuses transport {exchange.transport_requested!r}"
            elif status == 454 and exchange.method in ("GET_PARAMETER", "OPTIONS", "SET_PARAMETER"):
                message += " on a keepalive while the session plays"
                severity = Severity.WARNING
            elif exchange.method in ("GET_PARAMETER", "SET_PARAMETER"):
                severity = Severity.WARNING
            findings.append(
                Finding(
                    severity,
                    "rtsp-status",
                    f"dialog {dialog.index}: {message}",
                    (exchange.response_packet,),
                )
            )
    return findings


@rule("rtsp-unanswered")
def _rtsp_unanswered(result: InspectResult) -> list[Finding]:
    findings = []
    for dialog in result.dialogs:
        for exchange in dialog.exchanges:
            if exchange.status is not None or not exchange.request_packet:
                continue
            if result.end - exchange.request_time < UNANSWERED_GRACE:
                continue
            findings.append(
                Finding(
                    Severity.WARNING,
                    "rtsp-unanswered",
                    f"dialog {dialog.index}: {exchange.method} (CSeq {exchange.cseq}) "
                    "got no answer",
                    (exchange.request_packet,),
                )
            )
        for packet, cseq, status in dialog.unmatched_responses:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "rtsp-unmatched-answer",
                    f"dialog {dialog.index}: a {status} answer with CSeq {cseq} matches no request",
                    (packet,),
                )
            )
        for packet, problem in dialog.malformed:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "rtsp-malformed",
                    f"dialog {dialog.index}: {problem}",
                    (packet,),
                )
            )
    return findings


@rule("setup-without-media")
def _setup_without_media(result: InspectResult) -> list[Finding]:
    findings = []
    bound = {stream.setup for stream in result.rtp_streams if stream.setup}
    for dialog in result.dialogs:
        if not dialog.play_answers:
            continue
        play_packet, play_time = dialog.play_answers[0]
        if result.end - play_time < UNANSWERED_GRACE:
            continue
        for binding in dialog.bindings:
            if binding.describe() in bound:
                continue
            spec = binding.transport
            how = (
                f"interleaved channel {spec.interleaved.serialize()}"
                if spec.interleaved is not None
                else f"UDP client_port {spec.client_port.serialize() if spec.client_port else '?'}"
            )
            findings.append(
                Finding(
                    Severity.ERROR,
                    "setup-without-media",
                    f"dialog {dialog.index}: {binding.url} was set up over {how} and PLAY was "
                    f"answered (packet {play_packet}), but no RTP of it is in the capture",
                    (binding.packet, play_packet),
                )
            )
    return findings


@rule("rtp-info")
def _rtp_info(result: InspectResult) -> list[Finding]:
    findings = []
    for dialog in result.dialogs:
        for exchange in dialog.exchanges:
            if exchange.rtp_info is None:
                continue
            try:
                info = RtpInfo.parse(exchange.rtp_info)
            except RemoteProtocolError:
                continue
            for binding in dialog.bindings:
                entry = info.for_url(binding.url)
                stream = next(
                    (s for s in result.rtp_streams if s.setup == binding.describe()), None
                )
                if entry is None or stream is None:
                    continue
                if entry.seq is not None and entry.seq != stream.first_sequence:
                    findings.append(
                        Finding(
                            Severity.WARNING,
                            "rtp-info-mismatch",
                            f"dialog {dialog.index}: RTP-Info says seq={entry.seq} for "
                            f"{binding.url}, the first packet has {stream.first_sequence}",
                            (exchange.response_packet, stream.first_packet),
                        )
                    )
                if entry.rtptime is not None and entry.rtptime != stream.first_timestamp:
                    delta = (stream.first_timestamp - entry.rtptime + 2**31) % 2**32 - 2**31
                    seconds = delta / stream.media.clock_rate
                    if abs(seconds) > 0.5:
                        findings.append(
                            Finding(
                                Severity.WARNING,
                                "rtp-info-mismatch",
                                f"dialog {dialog.index}: RTP-Info rtptime={entry.rtptime} for "
                                f"{binding.url} is {seconds:+.3f} s from the first packet's "
                                "timestamp",
                                (exchange.response_packet, stream.first_packet),
                            )
                        )
    return findings


@rule("ssrc-change")
def _ssrc_change(result: InspectResult) -> list[Finding]:
    findings = []
    setups = sorted(
        time for dialog in result.dialogs for _, time in dialog.setup_answers + dialog.play_answers
    )
    reported: set[tuple[object, int]] = set()
    for change in result.ssrc_changes:
        if (change.flow, change.ssrc) in reported:
            continue
        reported.add((change.flow, change.ssrc))
        # A SETUP or PLAY answered just before explains a new source; nothing else does.
        if any(change.time - 5.0 <= time <= change.time for time in setups):
            continue
        findings.append(
            Finding(
                Severity.WARNING,
                "ssrc-change",
                f"SSRC changes from {change.previous:08X} to {change.ssrc:08X} at packet "
                f"{change.packet} on {change.flow} without a new SETUP",
                (change.packet,),
            )
        )
    return findings


# RTP streams.


@rule("rtp-loss")
def _rtp_loss(result: InspectResult) -> list[Finding]:
    findings = []
    for stream in result.rtp_streams:
        if stream.missing > 0:
            first = stream.loss_runs[0]
            findings.append(
                Finding(
                    Severity.ERROR,
                    "rtp-loss",
                    f"{_stream_name(stream)}: {stream.missing} packets lost "
                    f"({_percent(stream.missing, stream.missing + stream.packets)}) in "
                    f"{len(stream.loss_runs)} gaps, the first of {first.count} before packet "
                    f"{first.before_packet}",
                    tuple(run.before_packet for run in stream.loss_runs[:20]),
                )
            )
        if stream.duplicated:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "rtp-duplicates",
                    f"{_stream_name(stream)}: {stream.duplicated} packets arrived twice",
                )
            )
        if stream.reordered:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "rtp-reordered",
                    f"{_stream_name(stream)}: {stream.reordered} packets arrived out of order",
                )
            )
    return findings


@rule("rtp-jumps")
def _rtp_jumps(result: InspectResult) -> list[Finding]:
    findings = []
    for stream in result.rtp_streams:
        for jump in stream.sequence_jumps[:5]:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "sequence-jump",
                    f"{_stream_name(stream)}: sequence number jumps from {jump.previous} to "
                    f"{jump.value} at packet {jump.packet}",
                    (jump.packet,),
                )
            )
        for jump in stream.timestamp_jumps[:5]:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "timestamp-jump",
                    f"{_stream_name(stream)}: RTP timestamp jumps {_duration(jump.seconds)} "
                    f"at packet {jump.packet} ({jump.previous} -> {jump.value})",
                    (jump.packet,),
                )
            )
    return findings


def _duration(seconds: float) -> str:
    sign = "+" if seconds >= 0 else "-"
    magnitude = abs(seconds)
    if magnitude >= 3600:
        return f"{sign}{magnitude / 3600:.2f} h"
    if magnitude >= 60:
        return f"{sign}{magnitude / 60:.1f} min"
    return f"{sign}{magnitude:.3f} s"


@rule("video-structure")
def _video_structure(result: InspectResult) -> list[Finding]:
    findings = []
    for stream in result.rtp_streams:
        if stream.media.video_codec is None or stream.frames < 10:
            continue
        name = _stream_name(stream)
        if stream.marker_packets == 0:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "marker-never-set",
                    f"{name}: the marker bit is never set in {stream.packets} packets; clients "
                    "must end each frame at the next timestamp, one frame late",
                    (stream.first_packet,),
                )
            )
        elif stream.marker_packets > stream.frames * 1.5:
            findings.append(
                Finding(
                    Severity.INFO,
                    "marker-on-non-frames",
                    f"{name}: {stream.marker_packets} marker bits for {stream.frames} frames: "
                    "the marker is set on parameter sets or SEI as well",
                )
            )
        longest = stream.max_keyframe_interval
        if stream.keyframes == 0 and stream.duration > KEYFRAME_INTERVAL_LIMIT:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "no-keyframe",
                    f"{name}: no keyframe in {stream.duration:.1f} s of video: a viewer joining "
                    "cannot start decoding",
                    (stream.first_packet,),
                )
            )
        elif longest is not None and longest > KEYFRAME_INTERVAL_LIMIT:
            times = stream.keyframe_times
            worst = max(range(1, len(times)), key=lambda i: times[i][1] - times[i - 1][1])
            findings.append(
                Finding(
                    Severity.WARNING,
                    "keyframe-interval",
                    f"{name}: keyframe every {stream.keyframe_interval:.1f} s (up to "
                    f"{longest:.1f} s between packets {times[worst - 1][0]} and "
                    f"{times[worst][0]}): viewers wait that long to start",
                    (times[worst - 1][0], times[worst][0]),
                )
            )
        in_band = stream.parameter_sets
        needed = ("SPS", "PPS") if stream.media.codec == "H264" else ("VPS", "SPS", "PPS")
        missing_in_band = [name_ for name_ in needed if name_ not in in_band]
        if stream.sprop_problems and missing_in_band:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "no-parameter-sets",
                    f"{name}: {', '.join(missing_in_band)} neither in band nor usable in the SDP "
                    f"({'; '.join(stream.sprop_problems)}): a decoder cannot start",
                    (stream.first_packet,),
                )
            )
        elif stream.sprop_problems and stream.media.source == "sdp":
            findings.append(
                Finding(
                    Severity.INFO,
                    "sprop-unusable",
                    f"{name}: the SDP's parameter sets are incomplete or unusable "
                    f"({'; '.join(stream.sprop_problems)}); the stream carries them in band",
                )
            )
    return findings


@rule("clock-drift")
def _clock_drift(result: InspectResult) -> list[Finding]:
    findings = []
    for stream in result.rtp_streams:
        drift = stream.clock_drift_sr
        if drift is not None and abs(drift) > CLOCK_DRIFT_LIMIT:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "clock-drift-sr",
                    f"{_stream_name(stream)}: RTP timestamps run {abs(drift) * 100:.2f}% "
                    f"{'fast' if drift > 0 else 'slow'} against RTCP SR "
                    f"({stream.sender_reports} reports)",
                    (stream.first_packet,),
                )
            )
        drift = stream.clock_drift_arrival
        if drift is not None and abs(drift) > ARRIVAL_DRIFT_LIMIT:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "clock-drift-arrival",
                    f"{_stream_name(stream)}: RTP timestamps run {abs(drift) * 100:.2f}% "
                    f"{'fast' if drift > 0 else 'slow'} against the capture clock over "
                    f"{stream.duration:.0f} s: buffers drain or grow",
                    (stream.first_packet, stream.last_packet),
                )
            )
    return findings


@rule("rtcp")
def _rtcp(result: InspectResult) -> list[Finding]:
    findings = []
    recorders = [flow.rtcp for flow in result.udp_flows if flow.rtcp is not None]
    recorders += [r for dialog in result.dialogs for r in dialog.rtcp.values()]
    for recorder in recorders:
        for packet, problem in recorder.malformed[:5]:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "rtcp-malformed",
                    f"malformed RTCP on {recorder.flow}: {problem}",
                    (packet,),
                )
            )
    return findings


# RTMP, TLS, HTTP.

_RTMP_FAILURES = ("BadName", "Denied", "Failed", "Rejected", "NotFound", "InvalidApp", "error")


@rule("rtmp")
def _rtmp(result: InspectResult) -> list[Finding]:
    findings = []
    for session in result.rtmp:
        name = f"RTMP connection {session.connection} ({session.client} -> {session.server})"
        for packet, code, description in session.statuses:
            if any(word in code for word in _RTMP_FAILURES):
                findings.append(
                    Finding(
                        Severity.ERROR,
                        "rtmp-status",
                        f"{name}: {code} {description}".rstrip(),
                        (packet,),
                    )
                )
        for packet, problem in session.malformed[:5]:
            findings.append(
                Finding(Severity.WARNING, "rtmp-malformed", f"{name}: {problem}", (packet,))
            )
        for from_client, hole in session.holes:
            side = "client" if from_client else "server"
            findings.append(
                Finding(
                    Severity.WARNING,
                    "rtmp-hole",
                    f"{name}: the capture misses {hole.size} bytes from the {side}; a chunk stream "
                    "cannot be read past a hole",
                    (hole.after_packet,),
                )
            )
        for stream in session.media_streams:
            label = f"{name} stream {stream.stream_id}"
            for event in stream.backwards[:3]:
                findings.append(
                    Finding(
                        Severity.WARNING,
                        "rtmp-timestamp-back",
                        f"{label}: timestamp steps back from {event.previous} to "
                        f"{event.timestamp} ms at packet {event.packet}",
                        (event.packet,),
                    )
                )
            for event in stream.gaps[:3]:
                findings.append(
                    Finding(
                        Severity.WARNING,
                        "rtmp-timestamp-gap",
                        f"{label}: timestamps jump {event.timestamp - event.previous} ms at "
                        f"packet {event.packet}",
                        (event.packet,),
                    )
                )
            if stream.extended_timestamps:
                findings.append(
                    Finding(
                        Severity.INFO,
                        "rtmp-extended-timestamps",
                        f"{label}: {stream.extended_timestamps} messages have timestamps of "
                        f"2^24 ms or more (extended timestamps), from packet "
                        f"{stream.first_extended_packet}",
                        (stream.first_extended_packet,),
                    )
                )
            longest = stream.max_keyframe_interval
            if stream.video_frames >= 10 and stream.keyframes == 0:
                findings.append(
                    Finding(
                        Severity.ERROR,
                        "no-keyframe",
                        f"{label}: no keyframe in {stream.video_frames} video frames",
                        (stream.first_packet,),
                    )
                )
            elif longest is not None and longest > KEYFRAME_INTERVAL_LIMIT:
                findings.append(
                    Finding(
                        Severity.WARNING,
                        "keyframe-interval",
                        f"{label}: keyframe every {stream.keyframe_interval:.1f} s (up to "
                        f"{longest:.1f} s)",
                    )
                )
    return findings


@rule("tls")
def _tls(result: InspectResult) -> list[Finding]:
    findings = []
    for session in result.tls:
        name = f"TLS connection {session.connection} ({session.client} -> {session.server})"
        if session.version is not None and session.version < 0x0303:
            from camsim.pcap.tls import version_name

            findings.append(
                Finding(
                    Severity.WARNING,
                    "tls-old-version",
                    f"{name}: negotiated {version_name(session.version)}, which current "
                    "clients and servers refuse",
                    (session.first_packet,),
                )
            )
        handshake = session.handshake_time
        if handshake is not None and handshake > SLOW_TLS_HANDSHAKE:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "tls-slow-handshake",
                    f"{name}: the handshake took {handshake:.2f} s",
                    (session.first_packet,),
                )
            )
        for from_client, packet in session.alerts[:3]:
            side = "client" if from_client else "server"
            findings.append(
                Finding(
                    Severity.WARNING, "tls-alert", f"{name}: the {side} sent a TLS alert", (packet,)
                )
            )
    return findings


@rule("http")
def _http(result: InspectResult) -> list[Finding]:
    findings = []
    for exchange in result.http:
        if exchange.status is not None and exchange.status >= 400:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "http-status",
                    f"HTTP {exchange.method} {exchange.url} answered {exchange.status} "
                    f"{exchange.reason}".rstrip(),
                    (exchange.response_packet,),
                )
            )
    return findings
