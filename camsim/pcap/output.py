"""``inspect`` results for people (text) and for machines (JSON).

Secrets stay hidden unless asked for: RTMP stream names (they are the stream keys of most
platforms), passwords and query strings in URLs, user names. The capture itself is not changed;
:mod:`~camsim.pcap.redact` does that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from camsim.pcap.findings import Finding
from camsim.pcap.inspect import InspectResult
from camsim.pcap.rtmp import RtmpMediaStream, RtmpSession
from camsim.pcap.rtp import RtpStreamReport
from camsim.pcap.rtsp import RtspDialog, RtspExchange
from camsim.pcap.tls import TlsSession, version_name

HIDDEN = "<hidden>"
_USERINFO_RE = re.compile(r"(?<=://)([^/@\s]*)@")
_QUERY_RE = re.compile(r"\?[^\s]*")


class Secrets:
    """Masks what could give a capture's reader access to the customer's streams."""

    def __init__(self, show: bool) -> None:
        self.show = show

    def name(self, value: str | None) -> str | None:
        if value is None or self.show:
            return value
        return HIDDEN

    def url(self, value: str | None) -> str | None:
        if value is None or self.show:
            return value
        value = _USERINFO_RE.sub(lambda m: "***:***@" if ":" in m[1] else "***@", value)
        return _QUERY_RE.sub("?" + HIDDEN, value)


# JSON.


def to_json(result: InspectResult, *, show_secrets: bool = False) -> dict[str, Any]:
    secrets = Secrets(show_secrets)
    return {
        "capture": {
            "path": str(result.path),
            "format": result.format,
            "link_types": result.link_types,
            "packets": result.packets,
            "start": result.start,
            "duration": round(result.duration, 6),
            "truncated": result.truncated,
            "analysis_seconds": round(result.seconds, 3),
            "not_decoded": {
                "not_ip": result.decode.not_ip,
                "truncated": result.decode.truncated,
                "other_transport": result.decode.other_transport,
                "unknown_link_types": sorted(result.decode.link_types),
            },
            "ip_fragments": result.decode.fragments,
            "reassembled_datagrams": result.decode.reassembled,
        },
        "rtsp": [_dialog_json(d, secrets) for d in result.dialogs],
        "rtp_streams": [_stream_json(s) for s in result.rtp_streams],
        "rtmp": [_rtmp_json(s, secrets) for s in result.rtmp],
        "tls": [_tls_json(s) for s in result.tls],
        "http": [
            {
                "connection": e.connection,
                "method": e.method,
                "url": secrets.url(e.url),
                "status": e.status,
                "kind": e.kind,
                "content_type": e.content_type,
                "size": e.size,
                "request_packet": e.request_packet,
                "response_packet": e.response_packet,
                "playlist": e.playlist,
            }
            for e in result.http
        ],
        "tcp": [
            {
                "index": c.index,
                "client": str(c.client),
                "server": str(c.server),
                "protocol": c.protocol.value,
                "packets": [c.first_packet, c.last_packet],
                "bytes_from_client": c.bytes_from_client,
                "bytes_from_server": c.bytes_from_server,
                "retransmissions": c.retransmissions,
                "out_of_order": c.out_of_order,
                "holes": [
                    {
                        "side": side,
                        "offset": h.offset,
                        "size": h.size,
                        "after_packet": h.after_packet,
                        "before_packet": h.before_packet,
                    }
                    for side, h in c.holes
                ],
            }
            for c in result.connections
        ],
        "udp": [
            {
                "source": str(f.source),
                "destination": str(f.destination),
                "packets": f.packets,
                "octets": f.octets,
                "rtp": f.rtp.count if f.rtp else 0,
                "rtcp": f.rtcp.packets if f.rtcp else 0,
                "other": f.other,
            }
            for f in result.udp_flows
        ],
        "findings": [_finding_json(f) for f in result.findings],
    }


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "severity": finding.severity.value,
        "code": finding.code,
        "message": finding.message,
        "packets": list(finding.packets),
    }


def _exchange_json(e: RtspExchange, secrets: Secrets) -> dict[str, Any]:
    return {
        "method": e.method,
        "url": secrets.url(e.url),
        "cseq": e.cseq,
        "request_packet": e.request_packet or None,
        "status": e.status,
        "reason": e.reason,
        "response_packet": e.response_packet or None,
        "latency_ms": round(e.latency * 1000, 3) if e.latency is not None else None,
        "authorization": e.authorization,
        "username": secrets.name(e.username),
        "challenges": e.challenges,
        "transport_requested": e.transport_requested,
        "transport": e.transport,
        "session": e.session,
        "session_timeout": e.session_timeout,
        "rtp_info": secrets.url(e.rtp_info),
        "notes": e.notes,
    }


def _dialog_json(dialog: RtspDialog, secrets: Secrets) -> dict[str, Any]:
    return {
        "index": dialog.index,
        "transport": dialog.transport,
        "client": str(dialog.client),
        "server": str(dialog.server),
        "user_agent": dialog.user_agent,
        "server_agent": dialog.server_agent,
        "exchanges": [_exchange_json(e, secrets) for e in dialog.exchanges],
        "sdp": dialog.sdp.serialize() if dialog.sdp is not None else None,
        "holes": [
            {"from_client": c, "size": h.size, "after_packet": h.after_packet}
            for c, h in dialog.holes
        ],
    }


def _stream_json(s: RtpStreamReport) -> dict[str, Any]:
    media = s.media
    return {
        "flow": str(s.flow),
        "transport": s.flow.transport,
        "source": str(s.flow.source),
        "destination": str(s.flow.destination),
        "channel": s.flow.channel,
        "ssrc": f"{s.ssrc:08X}",
        "media": media.media,
        "codec": media.codec,
        "codec_source": media.source,
        "clock_rate": media.clock_rate,
        "payload_types": s.payload_types,
        "setup": s.setup,
        "packets": s.packets,
        "first_packet": s.first_packet,
        "last_packet": s.last_packet,
        "start": s.start,
        "duration": round(s.duration, 6),
        "payload_octets": s.payload_octets,
        "bitrate": round(s.bitrate),
        "expected": s.expected,
        "lost": s.lost,
        "missing": s.missing,
        "duplicated": s.duplicated,
        "reordered": s.reordered,
        "loss_runs": [
            {"first_sequence": r.first_sequence, "count": r.count, "before_packet": r.before_packet}
            for r in s.loss_runs[:100]
        ],
        "sequence_jumps": [
            {"packet": j.packet, "from": j.previous, "to": j.value} for j in s.sequence_jumps
        ],
        "timestamp_jumps": [
            {"packet": j.packet, "from": j.previous, "to": j.value, "seconds": round(j.seconds, 6)}
            for j in s.timestamp_jumps[:100]
        ],
        "jitter_ms": round(s.jitter_ms, 3),
        "max_jitter_ms": round(s.max_jitter_ms, 3),
        "mean_jitter_ms": round(s.mean_jitter_ms, 3),
        "marker_packets": s.marker_packets,
        "frames": s.frames,
        "keyframes": s.keyframes,
        "keyframe_interval": _round(s.keyframe_interval),
        "max_keyframe_interval": _round(s.max_keyframe_interval),
        "keyframe_packets": [p for p, _ in s.keyframe_times[:100]],
        "parameter_sets_in_band": s.parameter_sets,
        "sprop_problems": s.sprop_problems,
        "video": (
            {
                "width": s.video_format.width,
                "height": s.video_format.height,
                "profile": s.video_format.profile,
                "level": s.video_format.level,
                "fps": s.video_format.fps,
            }
            if s.video_format is not None
            else None
        ),
        "clock_drift_sr": _round(s.clock_drift_sr, 6),
        "clock_drift_arrival": _round(s.clock_drift_arrival, 6),
        "sender_reports": s.sender_reports,
        "receiver_reports": len(s.receiver_reports),
        "malformed": s.malformed,
        "series": {
            "bitrate": [[t, round(b)] for t, b in s.bitrate_series],
            "jitter_ms": [[t, round(j, 3)] for t, j in s.jitter_series],
            "loss": [[r.before_packet, r.count] for r in s.loss_runs[:1000]],
        },
    }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _rtmp_json(session: RtmpSession, secrets: Secrets) -> dict[str, Any]:
    return {
        "connection": session.connection,
        "client": str(session.client),
        "server": str(session.server),
        "handshake": session.handshake,
        "app": secrets.url(session.app),
        "tc_url": secrets.url(session.tc_url),
        "flash_version": session.flash_version,
        "role": session.role,
        "stream_names": [secrets.name(name) for name in session.stream_names],
        "commands": [
            {
                "from": "client" if c.from_client else "server",
                "packet": c.packet,
                "name": c.name,
                "transaction_id": c.transaction_id,
                "stream_id": c.stream_id,
                "details": _command_details(c.details, secrets),
            }
            for c in session.commands
        ],
        "statuses": [
            {"packet": p, "code": code, "description": d} for p, code, d in session.statuses
        ],
        "chunk_sizes": [
            {"from": "client" if c else "server", "packet": p, "size": size}
            for c, p, size in session.chunk_sizes
        ],
        "streams": [_rtmp_stream_json(s) for s in session.media_streams],
        "malformed": [{"packet": p, "problem": m} for p, m in session.malformed],
    }


def _command_details(details: dict[str, str], secrets: Secrets) -> dict[str, str | None]:
    shown: dict[str, str | None] = {}
    for key, value in details.items():
        if key == "stream":
            shown[key] = secrets.name(value)
        elif key in ("app", "tcUrl", "swfUrl", "pageUrl"):
            shown[key] = secrets.url(value)
        elif key == "description" and not secrets.show:
            shown[key] = value  # servers rarely echo keys here; redact does the capture itself
        else:
            shown[key] = value
    return shown


def _rtmp_stream_json(s: RtmpMediaStream) -> dict[str, Any]:
    return {
        "stream_id": s.stream_id,
        "from": "client" if s.from_client else "server",
        "video_codec": s.video_codec,
        "audio_codec": s.audio_codec,
        "video": (
            {
                "width": s.video_format.width,
                "height": s.video_format.height,
                "profile": s.video_format.profile,
                "level": s.video_format.level,
            }
            if s.video_format
            else None
        ),
        "audio_sample_rate": s.audio_sample_rate,
        "audio_channels": s.audio_channels,
        "video_frames": s.video_frames,
        "keyframes": s.keyframes,
        "keyframe_interval": _round(s.keyframe_interval),
        "audio_frames": s.audio_frames,
        "first_timestamp": s.first_timestamp,
        "last_timestamp": s.last_timestamp,
        "duration": round(s.duration, 3),
        "bitrate": round(s.bitrate),
        "timestamp_gaps": [
            {"packet": e.packet, "from": e.previous, "to": e.timestamp} for e in s.gaps
        ],
        "timestamps_back": [
            {"packet": e.packet, "from": e.previous, "to": e.timestamp} for e in s.backwards
        ],
        "extended_timestamps": s.extended_timestamps,
        "metadata": {
            k: v for k, v in s.metadata.items() if isinstance(v, str | int | float | bool)
        },
        "series": {"bitrate": sorted(s.bitrate_series.items())},
    }


def _tls_json(s: TlsSession) -> dict[str, Any]:
    return {
        "connection": s.connection,
        "client": str(s.client),
        "server": str(s.server),
        "server_name": s.server_name,
        "offered_versions": [version_name(v) for v in s.offered_versions],
        "version": version_name(s.version) if s.version is not None else None,
        "alpn": s.alpn,
        "cipher_suite": f"0x{s.cipher_suite:04x}" if s.cipher_suite is not None else None,
        "hello_rtt_ms": _round(s.hello_rtt * 1000 if s.hello_rtt is not None else None),
        "handshake_ms": _round(s.handshake_time * 1000 if s.handshake_time is not None else None),
        "alerts": len(s.alerts),
    }


# Text.


def format_text(result: InspectResult, *, show_secrets: bool = False) -> str:
    secrets = Secrets(show_secrets)
    lines = [
        f"{result.path}: {result.format}, {result.packets} packets, "
        f"{result.duration:.3f} s (read in {result.seconds:.2f} s)",
    ]
    if result.truncated:
        lines.append(f"  truncated: {result.truncated}")
    for dialog in result.dialogs:
        lines += ["", *_dialog_text(dialog, secrets)]
    for session in result.rtmp:
        lines += ["", *_rtmp_text(session, secrets)]
    if result.rtp_streams:
        lines += ["", "RTP streams"]
        for stream in result.rtp_streams:
            lines += _stream_text(stream)
    if result.tls:
        lines += ["", "TLS"]
        lines += [_tls_text(s) for s in result.tls]
    if result.http:
        lines += ["", "HTTP"]
        for e in result.http:
            extra = f" {e.playlist}" if e.playlist else ""
            lines.append(
                f"  #{e.request_packet} {e.method} {secrets.url(e.url)} -> {e.status} "
                f"{e.kind} {e.size} bytes{extra}"
            )
    others = [f for f in result.udp_flows if f.other and not f.rtp and not f.rtcp]
    if others:
        lines += ["", "Other UDP"]
        lines += [f"  {f.source} -> {f.destination}: {f.packets} datagrams" for f in others[:20]]
    lines += ["", f"Findings ({len(result.findings)})"]
    lines += [f"  {f.severity.value}: {f.message}" for f in result.findings] or ["  none"]
    return "\n".join(lines)


def _dialog_text(dialog: RtspDialog, secrets: Secrets) -> list[str]:
    via = "over HTTP tunnel" if dialog.transport == "http" else "over TCP"
    lines = [f"RTSP dialog {dialog.index}: {dialog.client} -> {dialog.server} {via}"]
    agents = [a for a in (dialog.user_agent, dialog.server_agent) if a]
    if agents:
        lines.append(f"  client {dialog.user_agent or '?'}, server {dialog.server_agent or '?'}")
    for e in dialog.exchanges:
        answer = f"{e.status} {e.reason}" if e.status is not None else "(no answer)"
        latency = f" {e.latency * 1000:.1f} ms" if e.latency is not None else ""
        packets = f"#{e.request_packet or '?'}/#{e.response_packet or '?'}"
        auth = f" [{e.authorization}]" if e.authorization else ""
        lines.append(f"  {packets} {e.method} {secrets.url(e.url)}{auth} -> {answer}{latency}")
        if e.challenges:
            lines.append(f"      offers {', '.join(e.challenges)}")
        if e.transport:
            lines.append(f"      transport {e.transport}")
        elif e.transport_requested and e.status is not None and e.status >= 400:
            lines.append(f"      asked for {e.transport_requested}")
        if e.session and e.method.upper() == "SETUP":
            timeout = f" timeout {e.session_timeout} s" if e.session_timeout is not None else ""
            lines.append(f"      session {e.session}{timeout}")
        if e.rtp_info:
            lines.append(f"      RTP-Info {secrets.url(e.rtp_info)}")
        lines += [f"      {note}" for note in e.notes]
    return lines


def _stream_text(s: RtpStreamReport) -> list[str]:
    media = s.media
    guessed = " (guessed)" if media.source != "sdp" else ""
    video = ""
    if s.video_format is not None:
        v = s.video_format
        video = f" {v.width}x{v.height} {v.profile} {v.level}"
    lines = [
        f"  {s.flow} SSRC {s.ssrc:08X}: {media.media} {media.codec}/{media.clock_rate}{guessed}"
        f" PT {','.join(map(str, s.payload_types))}{video}",
        f"      {s.packets} packets #{s.first_packet}-#{s.last_packet} in {s.duration:.3f} s, "
        f"{s.bitrate / 1000:.0f} kbit/s; expected {s.expected}, lost {s.lost}, "
        f"missing {s.missing}, duplicated {s.duplicated}, reordered {s.reordered}",
        f"      jitter {s.jitter_ms:.2f} ms (max {s.max_jitter_ms:.2f}, "
        f"mean {s.mean_jitter_ms:.2f}); "
        f"{s.frames} frames, {s.keyframes} keyframes"
        + (f" every {s.keyframe_interval:.2f} s" if s.keyframe_interval else "")
        + f", marker on {s.marker_packets} packets",
    ]
    if s.parameter_sets or s.sprop_problems:
        in_band = ", ".join(f"{k} x{v}" for k, v in s.parameter_sets.items()) or "none"
        lines.append(f"      parameter sets in band: {in_band}")
    if s.clock_drift_sr is not None:
        lines.append(
            f"      RTP clock vs RTCP SR: {s.clock_drift_sr * 100:+.3f}% ({s.sender_reports} SR)"
        )
    if s.setup:
        lines.append(f"      negotiated by {s.setup}")
    return lines


def _rtmp_text(session: RtmpSession, secrets: Secrets) -> list[str]:
    lines = [
        f"RTMP {session.role or 'session'} {session.client} -> {session.server}: "
        f"{session.handshake or '?'} handshake, app {secrets.url(session.app)!r}, "
        f"tcUrl {secrets.url(session.tc_url)!r}"
    ]
    for c in session.commands:
        side = "C" if c.from_client else "S"
        details = _command_details(c.details, secrets)
        shown = " ".join(f"{k}={v}" for k, v in details.items())
        lines.append(f"  #{c.packet} {side} {c.name} {shown}".rstrip())
    for from_client, packet, size in session.chunk_sizes:
        lines.append(f"  #{packet} {'client' if from_client else 'server'} chunk size {size}")
    for s in session.media_streams:
        video = f" {s.video_format.width}x{s.video_format.height}" if s.video_format else ""
        lines.append(
            f"  stream {s.stream_id} ({'client' if s.from_client else 'server'}): "
            f"{s.video_codec or '-'}{video} {s.video_frames} frames, {s.keyframes} keyframes; "
            f"{s.audio_codec or '-'} {s.audio_frames} frames; {s.bitrate / 1000:.0f} kbit/s, "
            f"timestamps {s.first_timestamp}-{s.last_timestamp} ms"
        )
    return lines


def _tls_text(s: TlsSession) -> str:
    version = version_name(s.version) if s.version is not None else "?"
    rtt = f", hello RTT {s.hello_rtt * 1000:.1f} ms" if s.hello_rtt is not None else ""
    handshake = (
        f", handshake {s.handshake_time * 1000:.1f} ms" if s.handshake_time is not None else ""
    )
    return f"  {s.client} -> {s.server}: {version}, SNI {s.server_name or '-'}{rtt}{handshake}"


def _all(values: Iterable[str]) -> str:
    return ", ".join(values)
