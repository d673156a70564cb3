"""Quirk profiles: field behaviour of real cameras, reproduced on demand.

A :class:`QuirkProfile` overrides one or more hooks; the base class does nothing, so a profile
reads as exactly what it changes. Profiles register by name in :data:`REGISTRY`;
:class:`Quirks` applies a camera's profiles in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import ClassVar

from camsim.camera.plan import VideoPacketizer
from wire.rtsp import Request, Response, RtpInfoEntry, TransportSpec
from wire.sdp import SessionDescription


class QuirkProfile:
    """One quirk. Class attributes document it; hooks reproduce it."""

    name: ClassVar[str]
    summary: ClassVar[str]
    """What goes on the wire."""
    devices: ClassVar[str]
    """Which devices do this in the field, with the reports that describe it."""
    client_must: ClassVar[str]
    """What a robust client does about it."""

    plan_changing: ClassVar[bool] = False
    """True when :meth:`packetizer` or :meth:`max_payload_size` change the packet plan."""
    session_timeout: ClassVar[int | None] = None
    """The session timeout the camera announces and enforces instead of its default."""
    sender_report_before_play: ClassVar[bool] = False
    """Send an RTCP SR on the connection before the PLAY answer."""

    def packetizer(self, packetize: VideoPacketizer) -> VideoPacketizer:
        """The video packetizer to use instead of ``packetize``."""
        return packetize

    def max_payload_size(self, size: int) -> int:
        return size

    def edit_sdp(self, sdp: SessionDescription) -> None:
        """Change the DESCRIBE body in place."""

    def edit_transport(self, reply: TransportSpec, requested: TransportSpec) -> TransportSpec:
        """The SETUP answer's transport (what the camera then really uses)."""
        return reply

    def format_transport(self, text: str) -> str:
        """The SETUP answer's ``Transport`` header as written."""
        return text

    def edit_rtp_info(self, entry: RtpInfoEntry) -> RtpInfoEntry:
        """The PLAY answer's ``RTP-Info`` entry of one stream."""
        return entry

    def edit_response(self, request: Request, response: Response) -> Response | None:
        """The answer to ``request`` (a new object, never ``response`` changed in place);
        None leaves the request unanswered."""
        return response

    def timestamp_jump(self) -> tuple[float, float] | None:
        """(seconds after PLAY, seconds of media time) of a jump in every RTP timestamp."""
        return None

    def media_stall(self) -> float | None:
        """Seconds after PLAY after which no more RTP goes out (RTSP and RTCP carry on)."""
        return None

    def connection_drop(self) -> float | None:
        """Seconds after the camera started at which it closes every RTSP connection that plays
        RTP interleaved on it, in the middle of an interleaved frame (see
        :func:`camsim.camera.quirks.timing.cut_frame`); connections that play later are kept."""
        return None

    def __repr__(self) -> str:
        return f"<quirk {self.name}>"


REGISTRY: dict[str, QuirkProfile] = {}
"""Field behaviour of real cameras: ``--quirks mixed`` draws from it, and the rtsp-client suite
makes a case of each."""
FAULT_REGISTRY: dict[str, QuirkProfile] = {}
"""Profiles that are device faults of the resilience suite's scenarios (a connection dropped
mid-frame, RTP over TCP only): named like the others, kept out of :data:`REGISTRY`."""


def register(profile: type[QuirkProfile]) -> type[QuirkProfile]:
    """Class decorator: add one instance of ``profile`` to :data:`REGISTRY`."""
    return _add(REGISTRY, profile)


def register_fault(profile: type[QuirkProfile]) -> type[QuirkProfile]:
    """Class decorator: add one instance of ``profile`` to :data:`FAULT_REGISTRY`."""
    return _add(FAULT_REGISTRY, profile)


def _add(registry: dict[str, QuirkProfile], profile: type[QuirkProfile]) -> type[QuirkProfile]:
    if profile.name in REGISTRY or profile.name in FAULT_REGISTRY:
        raise ValueError(f"quirk profile {profile.name!r} is registered twice")
    registry[profile.name] = profile()
    return profile


class Quirks:
    """The profiles of one camera, applied in order."""

    def __init__(self, profiles: Iterable[QuirkProfile] = ()) -> None:
        self.profiles = tuple(profiles)

    def __iter__(self) -> Iterator[QuirkProfile]:
        return iter(self.profiles)

    def __bool__(self) -> bool:
        return bool(self.profiles)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.profiles)

    @property
    def plan_key(self) -> tuple[str, ...]:
        """What distinguishes this camera's packet plan from the default one."""
        return tuple(p.name for p in self.profiles if p.plan_changing)

    def packetizer(self, packetize: VideoPacketizer) -> VideoPacketizer:
        for profile in self.profiles:
            packetize = profile.packetizer(packetize)
        return packetize

    def max_payload_size(self, size: int) -> int:
        for profile in self.profiles:
            size = profile.max_payload_size(size)
        return size

    def session_timeout(self, default: int) -> int:
        timeouts = [p.session_timeout for p in self.profiles if p.session_timeout is not None]
        return min(timeouts, default=default)

    @property
    def sender_report_before_play(self) -> bool:
        return any(p.sender_report_before_play for p in self.profiles)

    def edit_sdp(self, sdp: SessionDescription) -> None:
        for profile in self.profiles:
            profile.edit_sdp(sdp)

    def edit_transport(self, reply: TransportSpec, requested: TransportSpec) -> TransportSpec:
        for profile in self.profiles:
            reply = profile.edit_transport(reply, requested)
        return reply

    def format_transport(self, reply: TransportSpec) -> str:
        text = reply.serialize()
        for profile in self.profiles:
            text = profile.format_transport(text)
        return text

    def edit_rtp_info(self, entry: RtpInfoEntry) -> RtpInfoEntry:
        for profile in self.profiles:
            entry = profile.edit_rtp_info(entry)
        return entry

    def edit_response(self, request: Request, response: Response) -> Response | None:
        edited: Response | None = response
        for profile in self.profiles:
            if edited is None:
                return None
            edited = profile.edit_response(request, edited)
        return edited

    def timestamp_jump(self) -> tuple[float, float] | None:
        return next((j for p in self.profiles if (j := p.timestamp_jump()) is not None), None)

    def media_stall(self) -> float | None:
        stalls = [s for p in self.profiles if (s := p.media_stall()) is not None]
        return min(stalls, default=None)

    def connection_drop(self) -> float | None:
        drops = [d for p in self.profiles if (d := p.connection_drop()) is not None]
        return min(drops, default=None)


def resolve(names: Iterable[str]) -> Quirks:
    """The registered profiles (field quirks or device faults) called ``names``; raises
    ValueError naming an unknown one."""
    profiles = []
    for name in names:
        profile = REGISTRY.get(name) or FAULT_REGISTRY.get(name)
        if profile is None:
            known = ", ".join(sorted(REGISTRY.keys() | FAULT_REGISTRY.keys()))
            raise ValueError(f"unknown quirk profile {name!r} (known: {known})")
        profiles.append(profile)
    return Quirks(profiles)
