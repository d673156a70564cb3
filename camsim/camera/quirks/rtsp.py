"""Quirks of the RTSP dialogue: odd headers in SETUP, PLAY and DESCRIBE answers, keepalives
refused or ignored, sessions that time out early."""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit

from camsim.camera.quirks.base import QuirkProfile, register, register_fault
from wire.rtsp import Headers, Method, PortRange, Request, Response, RtpInfoEntry, TransportSpec
from wire.rtsp.status import StatusCode

SHORT_SESSION_TIMEOUT = 5
RTP_INFO_SEQ_SKEW = 1000
RTP_INFO_RTPTIME_SKEW = 90_000

_SSRC_RE = re.compile(r"ssrc=([0-9A-Fa-f]{8})")


def _with_headers(response: Response, headers: Headers) -> Response:
    return replace(response, headers=headers)


@register
class RtpInfoMismatch(QuirkProfile):
    name = "rtp-info-mismatch"
    summary = (
        f"RTP-Info seq is {RTP_INFO_SEQ_SKEW} and rtptime {RTP_INFO_RTPTIME_SKEW} ahead of the "
        "first packets"
    )
    devices = "Hikvision and TP-Link Tapo cameras (retina, mediamtx)"
    client_must = "trust the first RTP packet over RTP-Info when they disagree"

    def edit_rtp_info(self, entry: RtpInfoEntry) -> RtpInfoEntry:
        seq = None if entry.seq is None else (entry.seq + RTP_INFO_SEQ_SKEW) & 0xFFFF
        rtptime = None
        if entry.rtptime is not None:
            rtptime = (entry.rtptime + RTP_INFO_RTPTIME_SKEW) & 0xFFFFFFFF
        return replace(entry, seq=seq, rtptime=rtptime)


@register
class ShortSessionTimeout(QuirkProfile):
    name = "short-session-timeout"
    summary = f"sessions time out after {SHORT_SESSION_TIMEOUT} s without a keepalive or RTCP RR"
    devices = "cameras that drop sessions unless kept alive every 5 s or less (mediamtx#1403)"
    client_must = "honour Session timeout= and keep alive well within it"
    session_timeout = SHORT_SESSION_TIMEOUT


@register
class GetParameter454(QuirkProfile):
    name = "get-parameter-454"
    summary = "GET_PARAMETER keepalives answered 454 Session Not Found while the session plays"
    devices = "cameras reported in retina#133"
    client_must = "not tear the stream down on a failed keepalive; try OPTIONS instead"

    def edit_response(self, request: Request, response: Response) -> Response | None:
        if request.method != Method.GET_PARAMETER:
            return response
        return Response(StatusCode.SESSION_NOT_FOUND, headers=response.headers.copy())


@register
class SetParameterWrongCseq(QuirkProfile):
    name = "set-parameter-wrong-cseq"
    summary = "SET_PARAMETER answered 400 with a CSeq one above the request's"
    devices = "cameras reported in retina#133"
    client_must = "survive an answer that matches no request, and a failed SET_PARAMETER"

    def edit_response(self, request: Request, response: Response) -> Response | None:
        if request.method != Method.SET_PARAMETER or request.cseq is None:
            return response
        headers = response.headers.copy()
        headers.set("CSeq", str(request.cseq + 1))
        return Response(StatusCode.BAD_REQUEST, headers=headers)


@register
class KeepaliveUnanswered(QuirkProfile):
    name = "keepalive-unanswered"
    summary = "OPTIONS and GET_PARAMETER within a session are never answered"
    devices = "cameras reported in mediamtx#2302"
    client_must = "send keepalives without waiting for (or timing out on) their answers"

    def edit_response(self, request: Request, response: Response) -> Response | None:
        keepalive = request.method in (Method.OPTIONS, Method.GET_PARAMETER)
        return None if keepalive and "Session" in request.headers else response


@register
class OddSsrc(QuirkProfile):
    name = "odd-ssrc"
    summary = "Transport ssrc= with a leading space, lower case and fewer than 8 hex digits"
    devices = "cameras reported in gortsplib#121"
    client_must = "parse ssrc leniently (strip spaces, left-pad to 8 digits)"

    def edit_transport(self, reply: TransportSpec, requested: TransportSpec) -> TransportSpec:
        if reply.ssrc is None:
            return reply
        return replace(reply, ssrc=(reply.ssrc & 0xFFFFFF) | 0x100000)  # six hex digits

    def format_transport(self, text: str) -> str:
        return _SSRC_RE.sub(lambda m: f"ssrc= {int(m[1], 16):x}", text)


@register
class NoServerPort(QuirkProfile):
    name = "no-server-port"
    summary = "the SETUP answer of a UDP transport has no server_port"
    devices = "cameras reported in mediamtx#407 and #691"
    client_must = "accept RTP from wherever it comes, and send RTCP to the RTSP host"

    def edit_transport(self, reply: TransportSpec, requested: TransportSpec) -> TransportSpec:
        return replace(reply, server_port=None)


@register
class ChangedInterleaved(QuirkProfile):
    name = "changed-interleaved"
    summary = "interleaved channels two above those requested, and used"
    devices = "cameras reported in gortsplib#72"
    client_must = "use the channels of the SETUP answer, not those it asked for"

    def edit_transport(self, reply: TransportSpec, requested: TransportSpec) -> TransportSpec:
        channels = reply.interleaved
        if channels is None or channels.last is None or channels.last + 2 > 0xFF:
            return reply
        return replace(reply, interleaved=PortRange(channels.first + 2, channels.last + 2))


@register
class InterleavedWithoutTcp(QuirkProfile):
    name = "interleaved-without-tcp"
    summary = "the SETUP answer says RTP/AVP;interleaved=... without /TCP"
    devices = "cameras reported in gortsplib#72"
    client_must = "take interleaved= as TCP whatever the lower transport says"

    def edit_transport(self, reply: TransportSpec, requested: TransportSpec) -> TransportSpec:
        if reply.interleaved is None:
            return reply
        return replace(reply, lower_transport=None)


@register
class SchemelessContentBase(QuirkProfile):
    name = "schemeless-content-base"
    summary = "Content-Base without its rtsp:// scheme, e.g. 127.0.0.1:8554/cam1/"
    devices = "cameras reported in moonfire-nvr#356 and gortsplib#636"
    client_must = "resolve a scheme-less base against the request URL"

    def edit_response(self, request: Request, response: Response) -> Response | None:
        base = response.headers.get("Content-Base")
        if request.method != Method.DESCRIBE or base is None:
            return response
        parts = urlsplit(base)
        headers = response.headers.copy()
        headers.set("Content-Base", f"{parts.netloc}{parts.path}")
        return _with_headers(response, headers)


@register_fault
class TcpOnly(QuirkProfile):
    name = "tcp-only"
    summary = "a SETUP answered with any transport but RTP interleaved on TCP gets 461 instead"
    devices = "cameras and NVRs set to stream over TCP only (mediamtx rtspTransports: [tcp])"
    client_must = "ask again with RTP/AVP/TCP;interleaved= after 461 Unsupported Transport"

    def edit_response(self, request: Request, response: Response) -> Response | None:
        if request.method != Method.SETUP or response.status_code != StatusCode.OK:
            return response
        if "interleaved=" in response.headers.get("Transport", ""):
            return response
        headers = response.headers.copy()
        headers.remove("Transport")
        headers.remove("Session")
        return Response(StatusCode.UNSUPPORTED_TRANSPORT, headers=headers)
