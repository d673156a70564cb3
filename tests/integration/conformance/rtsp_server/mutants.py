"""Test-only mutant cameras for the rtsp-server suite: each breaks exactly one rule.

A mutant is a camsim camera with one change, made without forking the camera:

- a :class:`~camsim.camera.quirks.QuirkProfile` that is never registered (so ``camsim run``
  never offers it), handed to the fleet by :func:`mutants_installed`, for what the profile
  hooks reach: the SDP, the ``Transport`` header as written, the answers;
- a subclass of :class:`~wire.rtsp.authenticator.Authenticator` put in the server's settings,
  for the challenges and the credential check;
- for what no hook reaches (sender reports, receiver reports, the tunnel's POST leg), the camera
  method wrapped while :func:`mutants_installed` is in force, acting only for cameras that
  carry the mutant's profile and delegating to the real method for every other camera.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

import camsim.camera.fleet as fleet_module
from camsim.camera.connection import CameraConnection
from camsim.camera.control import RtspControl
from camsim.camera.fleet import REALM, AuthScheme, CameraFleet
from camsim.camera.plan import VideoPacketizer
from camsim.camera.quirks import QuirkProfile, Quirks
from camsim.camera.quirks import assign as quirks_assign
from camsim.camera.session import MediaSession
from wire.codec.nal import VideoCodec
from wire.payload import PayloadPacket
from wire.rtp import ntp_from_unix
from wire.rtsp import Headers, Request, Response, StatusCode
from wire.rtsp.auth import ALGORITHM_MD5, Challenge
from wire.rtsp.authenticator import AuthCheck, Authenticator
from wire.sdp import Attribute, SessionDescription

USERS = (("admin", "secret"),)
SECURED_URL = "rtsp://admin:secret@127.0.0.1:{port}/cam1"
OPEN_URL = "rtsp://127.0.0.1:{port}/cam1"


class MutantProfile(QuirkProfile):
    """A profile that only names its mutant; hooks elsewhere look for it on the camera."""

    summary = devices = client_must = "test-only mutant"


def _carries(quirks: Quirks, profile: type[MutantProfile]) -> bool:
    return profile.name in quirks.names


# -- RTSP-TRANS-002: RTP from a port other than server_port ----------------------------------------


class ServerPortElsewhere(MutantProfile):
    """The SETUP answer's server_port names ports two above those the RTP leaves from."""

    name = "mutant-server-port-elsewhere"

    def format_transport(self, text: str) -> str:
        def shifted(match: re.Match[str]) -> str:
            first, last = int(match[1]) + 2, int(match[2]) + 2
            return f"server_port={first}-{last}"

        return re.sub(r"server_port=(\d+)-(\d+)", shifted, text)


# -- RTSP-TRANS-004: a tunnel that answers its GET and relays nothing ------------------------------


class DeafTunnel(MutantProfile):
    """The HTTP tunnel's GET leg is answered 200, but what its POST legs carry is dropped."""

    name = "mutant-deaf-tunnel"


def _feed(original: Callable[[CameraConnection, bytes, float], None]) -> Any:
    def feed(self: CameraConnection, data: bytes, now: float) -> None:
        cameras = getattr(self.server, "cameras", {}).values()
        if any(_carries(camera.quirks, DeafTunnel) for camera in cameras):
            return
        original(self, data, now)

    return feed


# -- RTSP-TRANS-005: a multicast SETUP answered with a unicast destination -------------------------


class MulticastAnsweredUnicast(MutantProfile):
    """A multicast SETUP is answered 200 with a unicast transport to the client's address."""

    name = "mutant-multicast-answered-unicast"

    def edit_response(self, request: Request, response: Response) -> Response | None:
        transport = request.headers.get("Transport") or ""
        if request.method != "SETUP" or "multicast" not in transport:
            return response
        headers = Headers(
            [
                ("Session", "4D5554414E54;timeout=60"),
                ("Transport", "RTP/AVP;unicast;destination=127.0.0.1;client_port=5000-5001"),
            ]
        )
        return Response(StatusCode.OK, headers=headers)


# -- RTSP-RTP-001: RTP with a payload type the SDP does not offer ----------------------------------


class AudioPayloadTypeMoved(MutantProfile):
    """The SDP offers the audio as payload type 98; its RTP keeps 97."""

    name = "mutant-audio-payload-type-moved"

    def edit_sdp(self, sdp: SessionDescription) -> None:
        for media in sdp.media:
            if media.media != "audio":
                continue
            old = media.formats[0]
            media.formats = ["98"]
            media.attributes = [
                Attribute(a.name, re.sub(rf"^{old}\b", "98", a.value))
                if a.value is not None and a.name in ("rtpmap", "fmtp")
                else a
                for a in media.attributes
            ]


# -- RTSP-RTCP-001 and RTSP-RTCP-002: sender reports missing, or off by one second -----------------


class NoSenderReports(MutantProfile):
    """No RTCP sender report ever leaves."""

    name = "mutant-no-sender-reports"


class SenderReportsOneSecondAhead(MutantProfile):
    """Every sender report's RTP time is one second ahead of its NTP time."""

    name = "mutant-sender-reports-one-second-ahead"


def _send_reports(original: Callable[..., None]) -> Any:
    def send_reports(self: MediaSession, now: float, *, only_senders: bool) -> None:
        quirks = self.camera.quirks
        if _carries(quirks, NoSenderReports):
            return
        if not _carries(quirks, SenderReportsOneSecondAhead):
            original(self, now, only_senders=only_senders)
            return
        ntp = ntp_from_unix(self._unix_time(now))
        for track, stream in self.items():
            if only_senders and stream.sender.packet_count == 0:
                continue
            ahead = self._current(track, stream, now) + stream.sender.clock_rate
            stream.sender.send_report(ntp, ahead & 0xFFFFFFFF)

    return send_reports


# -- RTSP-SES-001: a session that expires although receiver reports come --------------------------


class ReceiverReportsIgnored(MutantProfile):
    """A 5 s session timeout that RTCP receiver reports do not keep (only requests do)."""

    name = "mutant-receiver-reports-ignored"
    session_timeout = 5


def _refresh(original: Callable[[RtspControl, str, float], None]) -> Any:
    def refresh(self: RtspControl, session_id: str, now: float) -> None:
        session = self.sessions.get(session_id)
        if session is not None and _carries(session.camera.quirks, ReceiverReportsIgnored):
            return
        original(self, session_id, now)

    return refresh


# -- RTSP-MEDIA-001 and RTSP-MEDIA-002: the video itself -------------------------------------------

SLICE_TYPES = {VideoCodec.H264: frozenset({1, 5}), VideoCodec.H265: frozenset(range(22))}
SLICE_HEADER_KEPT = 6
"""Bytes of each slice kept as they are: the NAL header and the start of the slice header."""


class CorruptSliceData(MutantProfile):
    """Every slice's data past its first bytes has its top bit set: no zero byte, so no start
    code or forbidden sequence appears (RTSP-RTP-008 still holds), but nothing decodes right."""

    name = "mutant-corrupt-slice-data"
    plan_changing = True

    def packetizer(self, packetize: VideoPacketizer) -> VideoPacketizer:
        def corrupting(
            codec: VideoCodec, nal_units: Sequence[bytes], size: int
        ) -> list[PayloadPacket]:
            return packetize(codec, [_corrupt(codec, nal) for nal in nal_units], size)

        return corrupting


def _corrupt(codec: VideoCodec, nal: bytes) -> bytes:
    kind = nal[0] & 0x1F if codec is VideoCodec.H264 else (nal[0] >> 1) & 0x3F
    if kind not in SLICE_TYPES[codec] or len(nal) <= SLICE_HEADER_KEPT:
        return nal
    return nal[:SLICE_HEADER_KEPT] + bytes(b | 0x80 for b in nal[SLICE_HEADER_KEPT:])


class FramerateDoubled(MutantProfile):
    """The SDP's video section says a=framerate:30 of the test sample's 15 fps."""

    name = "mutant-framerate-doubled"

    def edit_sdp(self, sdp: SessionDescription) -> None:
        for media in sdp.media:
            if media.media == "video":
                media.attributes.append(Attribute("framerate", "30"))


# -- RTSP-AUTH-002 and RTSP-AUTH-003: the authenticator --------------------------------------------


class UnknownDigestAlgorithm(Authenticator):
    """Digest is challenged with ``algorithm=FOO`` (Basic, also offered, still works)."""

    def challenges(self, now: float, *, uri: str, stale: bool = False) -> list[Challenge]:
        return [
            Challenge(c.scheme, {**c.params, "algorithm": "FOO"}) if c.is_digest else c
            for c in super().challenges(now, uri=uri, stale=stale)
        ]


class RightCredentialsRefused(Authenticator):
    """The right user name and password are refused 401 like wrong ones."""

    def check(
        self, method: str, authorization: str | None, now: float, *, uri: str | None = None
    ) -> AuthCheck:
        verdict = super().check(method, authorization, now, uri=uri)
        if verdict.ok:
            return AuthCheck(False, reason="right credentials refused (mutant)")
        return verdict


# -- the catalogue -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    """One mutant camera and the required case it must fail, alone among required cases."""

    breaks: str
    evidence: str
    """A pattern the case's message and details show when it fails for the mutant's reason."""
    profile: type[MutantProfile] | None = None
    authenticator: type[Authenticator] | None = None
    extra: tuple[str, ...] = ()
    """More arguments for ``camsim conform``."""
    changes: dict[str, Any] = field(default_factory=dict)
    """FleetConfig fields."""

    @property
    def name(self) -> str:
        if self.profile is not None:
            return self.profile.name
        assert self.authenticator is not None
        return f"mutant-{self.authenticator.__name__}"

    @property
    def target(self) -> str:
        return SECURED_URL if self.authenticator is not None else OPEN_URL


_SECURED: dict[str, Any] = {"users": USERS, "auth_scheme": AuthScheme.BOTH}

MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "RTSP-AUTH-002", r"algorithm FOO", authenticator=UnknownDigestAlgorithm, changes=_SECURED
    ),
    Mutant("RTSP-AUTH-003", r"-> 401", authenticator=RightCredentialsRefused, changes=_SECURED),
    Mutant("RTSP-TRANS-002", r"RTP from ports \[\d+\], server_port=\d+", ServerPortElsewhere),
    Mutant("RTSP-TRANS-004", r"DESCRIBE .* no answer", DeafTunnel),
    Mutant("RTSP-TRANS-005", r"RTP/AVP;unicast;destination=", MulticastAnsweredUnicast),
    Mutant("RTSP-RTP-001", r"payload type 97 not in m= \(98,\)", AudioPayloadTypeMoved),
    Mutant("RTSP-RTCP-001", r"no sender report in", NoSenderReports),
    Mutant("RTSP-RTCP-002", r"report RTP time \+(0\.9|1\.0)\d+ s", SenderReportsOneSecondAhead),
    Mutant("RTSP-SES-001", r"timeout 5 s, [1-9]\d* receiver reports", ReceiverReportsIgnored),
    Mutant("RTSP-MEDIA-001", r"does not decode", CorruptSliceData),
    Mutant("RTSP-MEDIA-002", r"a=framerate:30, measured 1[45]\.\d+", FramerateDoubled),
)

PROFILES: dict[str, MutantProfile] = {m.profile.name: m.profile() for m in MUTANTS if m.profile}


@contextmanager
def mutants_installed() -> Iterator[None]:
    """Let fleets take the mutant profiles by name, and wrap the methods that act for them."""
    original_assign = quirks_assign

    def assign(names: Iterable[str], cameras: int, seed: int) -> list[Quirks]:
        names = tuple(names)
        if names and all(name in PROFILES for name in names):
            return [Quirks(PROFILES[name] for name in names) for _ in range(cameras)]
        return original_assign(names, cameras, seed)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fleet_module, "assign", assign)
        patch.setattr(MediaSession, "send_reports", _send_reports(MediaSession.send_reports))
        patch.setattr(RtspControl, "refresh", _refresh(RtspControl.refresh))
        patch.setattr(CameraConnection, "feed", _feed(CameraConnection.feed))
        yield


def install_authenticator(fleet: CameraFleet, kind: type[Authenticator]) -> None:
    """Give every server of a started fleet a ``kind`` authenticator for :data:`USERS`, as the
    fleet builds its own for ``--auth-scheme both`` (Digest MD5, then Basic)."""
    authenticator = kind(
        REALM,
        dict(USERS),
        random_source=os.urandom,
        digest_algorithms=(ALGORITHM_MD5,),
        basic=True,
    )
    for server in fleet.servers:
        server.settings = dataclasses.replace(server.settings, authenticator=authenticator)
