"""Transports: the SETUP answers' Transport headers, and where the packets actually arrive."""

from __future__ import annotations

import re

from conformance.case import REQUIRED, case, fail, not_applicable
from conformance.rtsp.observe import HTTP, TCP, UDP, Track, TransportRun
from conformance.rtsp.spec import rfc2326, rfc7826
from conformance.rtsp.view import CameraView
from reports.model import Detail
from wire.rtp import RtpError, RtpPacket

SSRC_RE = re.compile(r"ssrc=([^;,]*)", re.IGNORECASE)
SSRC_SYNTAX = re.compile(r"[0-9A-Fa-f]{8}")


def _run(camera: CameraView, name: str) -> TransportRun:
    run = camera.observation.runs.get(name)
    if run is None:
        not_applicable(f"{name} was not asked for (--set transports)")
    return run


def _answered(run: TransportRun) -> list[Track]:
    tracks = [t for t in run.tracks if t.setup is not None and t.setup.status == 200]
    if not tracks:
        reason = run.error or "no SETUP answered 200"
        not_applicable(f"{run.name} not offered: {reason}")
    return tracks


def _where(run: TransportRun, track: Track) -> str:
    return f"{run.name} SETUP of track {track.index}"


def _raw_transport(track: Track) -> str:
    assert track.setup is not None
    return track.setup.header("Transport") or ""


@case(
    "RTSP-TRANS-001",
    "UDP unicast: the SETUP answer echoes client_port and gives server_port",
    level=REQUIRED,
    spec=[rfc2326("12.39"), rfc7826("18.54")],
)
def test_udp_ports(camera: CameraView) -> None:
    run = _run(camera, UDP)
    problems = []
    for track in _answered(run):
        answer = track.setup.answer if track.setup else None
        spec = answer.transport.first if answer is not None and answer.transport else None
        requested = track.requested
        raw = _raw_transport(track)
        if spec is None:
            problems.append(Detail(f"no readable Transport ({raw!r})", _where(run, track)))
            continue
        if requested is not None and spec.client_port != requested.client_port:
            problems.append(Detail(f"client_port changed: {raw}", _where(run, track)))
        if spec.server_port is None:
            problems.append(Detail(f"no server_port: {raw}", _where(run, track)))
    if problems:
        fail("UDP SETUP answers that do not say where RTP and RTCP come from", problems)


@case(
    "RTSP-TRANS-002",
    "UDP unicast: RTP arrives at the client_port, from the server_port when one is given",
    level=REQUIRED,
    spec=[rfc2326("12.39"), rfc7826("18.54")],
)
def test_udp_delivery(camera: CameraView) -> None:
    run = _run(camera, UDP)
    tracks = _answered(run)
    if run.play is None or run.play.status != 200:
        not_applicable(f"UDP PLAY: {run.play.describe() if run.play else run.error}")
    problems = []
    for track in tracks:
        if not track.rtp:
            problems.append(Detail("no RTP arrived", _where(run, track)))
            continue
        answer = track.setup.answer if track.setup else None
        spec = answer.transport.first if answer is not None and answer.transport else None
        if spec is not None and spec.server_port is not None:
            ports = {port for _, port in track.rtp_sources}
            if ports != {spec.server_port.first}:
                problems.append(
                    Detail(
                        f"RTP from ports {sorted(ports)}, server_port={spec.server_port.first}",
                        _where(run, track),
                    )
                )
    if problems:
        fail("UDP media not where the SETUP answer said", problems)


@case(
    "RTSP-TRANS-003",
    "TCP: the SETUP answer is RTP/AVP/TCP with interleaved channels, and RTP comes on them",
    level=REQUIRED,
    spec=[rfc2326("10.12"), rfc2326("12.39"), rfc7826("18.54")],
)
def test_interleaved(camera: CameraView) -> None:
    run = _run(camera, TCP)
    problems = []
    for track in _answered(run):
        raw = _raw_transport(track)
        answer = track.setup.answer if track.setup else None
        spec = answer.transport.first if answer is not None and answer.transport else None
        if spec is None or spec.interleaved is None:
            problems.append(Detail(f"no interleaved channels: {raw!r}", _where(run, track)))
            continue
        if (spec.lower_transport or "UDP").upper() != "TCP":
            problems.append(Detail(f"lower transport is not TCP: {raw}", _where(run, track)))
        if run.play is not None and run.play.status == 200 and not track.rtp:
            problems.append(
                Detail(f"no RTP on channel {spec.interleaved.first}", _where(run, track))
            )
    strays = run.tracks[0].stray_channels if run.tracks else {}
    if strays:
        problems.append(Detail(f"frames on channels no SETUP answered: {strays}", "TCP"))
    if problems:
        fail("TCP interleaving not as RFC 2326 §10.12 and §12.39 say", problems)


@case(
    "RTSP-TRANS-004",
    "RTSP over HTTP (the QuickTime tunnel), when offered, carries a whole session",
    level=REQUIRED,
    spec=[rfc2326("10.12")],
)
def test_http_tunnel(camera: CameraView) -> None:
    run = _run(camera, HTTP)
    if not run.connected:
        not_applicable(f"no HTTP tunnel: {run.error}")
    # The GET leg was answered 200: the tunnel is offered, so it must carry the session.
    tracks = [t for t in run.tracks if t.setup is not None and t.setup.status == 200]
    problems = []
    if run.play is None or run.play.status != 200:
        problems.append(Detail(f"PLAY: {run.play.describe() if run.play else run.error}", HTTP))
    else:
        problems += [Detail("no RTP", _where(run, t)) for t in tracks if not t.rtp]
    if problems:
        fail("the tunnelled session did not play", problems)


@case(
    "RTSP-TRANS-005",
    "Multicast, when offered: the SETUP answer names a multicast destination and its ports",
    level=REQUIRED,
    spec=[rfc2326("12.39"), rfc7826("18.54")],
)
def test_multicast(camera: CameraView) -> None:
    exchange = camera.observation.multicast
    if exchange is None or exchange.status != 200 or exchange.answer is None:
        answer = exchange.describe() if exchange is not None else "not asked"
        not_applicable(f"multicast not offered ({answer})")
    transport = exchange.answer.transport
    spec = transport.first if transport is not None else None
    raw = exchange.header("Transport") or ""
    if spec is None or not spec.is_multicast:
        fail(f"a multicast SETUP answered with {raw!r}", [Detail(raw, "multicast SETUP")])
    if spec.destination is None or (spec.port is None and spec.client_port is None):
        fail(
            f"multicast Transport without destination or port: {raw}",
            [Detail(raw, "multicast SETUP")],
        )


@case(
    "RTSP-TRANS-006",
    "Transport ssrc, when given, is eight hex digits and the SSRC of the RTP that follows",
    level=REQUIRED,
    spec=[rfc2326("12.39"), rfc7826("18.54")],
)
def test_transport_ssrc(camera: CameraView) -> None:
    problems = []
    given = 0
    for run in camera.played:
        for track in run.tracks:
            if track.setup is None:
                continue
            match = SSRC_RE.search(_raw_transport(track))
            if match is None:
                continue
            given += 1
            text = match[1]
            where = _where(run, track)
            if not SSRC_SYNTAX.fullmatch(text):
                problems.append(Detail(f"ssrc={text!r} is not eight hex digits", where))
                continue
            ssrc = int(text, 16)
            first = _first_ssrc(track)
            if first is not None and first != ssrc:
                problems.append(Detail(f"ssrc={text} but RTP SSRC {first:08X}", where))
    if not given:
        not_applicable("no SETUP answer gives ssrc")
    if problems:
        fail("Transport ssrc does not identify the stream", problems)


def _first_ssrc(track: Track) -> int | None:
    for _, data in track.rtp:
        try:
            return RtpPacket.parse(data).ssrc
        except RtpError:
            continue
    return None
