"""The catalogue of ``rtsp-client``: one camera behaviour from the field per case.

A :class:`Scenario` says how the suite's camera behaves (quirk profiles, credentials, a restart,
the sample it plays) and what the client's output must show for the case to pass: the frames
in sending order, how many breaks in the sequence are allowed and how long each may be, and a
point in the run the output must reach (a client that stops at the first difficulty has not
coped with it). Every quirk profile camsim's camera has becomes a case, so a new profile is
judged without an edit here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from camsim.camera.origin import RtpOrigin
from camsim.camera.quirks import REGISTRY
from reports.model import SpecRef

RFC_URL = "https://www.rfc-editor.org/rfc/rfc{number}"


def rfc(number: int, section: str) -> SpecRef:
    """An RFC section with its link, e.g. ``rfc(2326, "12.39")``."""
    return SpecRef(f"RFC {number}", section, f"{RFC_URL.format(number=number)}#section-{section}")


class Sample(StrEnum):
    """Which sample the scenario's camera plays (small, so a run stays short)."""

    SHORT = "short"
    """320x180 at 15 fps, keyframes every second, AAC audio, 10 s loop."""
    VIDEO_ONLY = "video-only"
    """The short sample without its audio track."""
    LONG_GOP = "long-gop"
    """Keyframes every 10 s, 30 s loop."""
    PCMU = "pcmu"
    """The short sample with G.711 μ-law audio (8 kHz mono, payload type 0) for its AAC."""
    PCMA = "pcma"
    """The short sample with G.711 A-law audio (payload type 8)."""
    OPUS = "opus"
    """The short sample with Opus audio (48 kHz stereo, RFC 7587)."""
    AUDIO_ONLY = "audio-only"
    """The short sample's AAC audio alone (one m=audio section, no video)."""
    SWITCH = "switch"
    """The short sample whose second half is 480x270: new SPS and PPS in band at the keyframe
    5 s into the loop, the first ones again at the loop's start."""

    @property
    def audio_required(self) -> bool:
        """Whether the output must carry the camera's audio: AAC goes into HLS as it is, the
        other codecs only transcoded, so a client may leave them out (and keep the video)."""
        return self in (Sample.SHORT, Sample.LONG_GOP, Sample.SWITCH, Sample.AUDIO_ONLY)


RUN_SECONDS = 12.0
TAIL_SECONDS = 5.0
"""How far before the end of the run the output must reach: a segment still open when the
client is stopped may be lost, and a segment is cut only at a keyframe."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One case: the camera's behaviour and what the client's output must show."""

    case_id: str
    title: str
    spec: tuple[SpecRef, ...]
    quirks: tuple[str, ...] = ()
    sample: Sample = Sample.SHORT
    auth: bool = False
    restart_at: float | None = None
    """Seconds into the run at which the camera goes away (connections closed, RTCP BYE)."""
    restart_down: float = 2.0
    """Seconds the camera stays away before it listens again on the same port."""
    block_udp: bool = False
    """The network drops every UDP datagram between the camera and the client."""
    session_timeout: int = 60
    """What the camera announces in Session; short where the case is about keepalives, so
    that a client sends some within the run."""
    seconds: float = RUN_SECONDS
    allowed_breaks: int = 0
    allowed_gap: float = 0.0
    """Seconds each allowed break may last, send time to send time."""
    must_reach: float | None = None
    """Seconds into the run that the output's last frame must have been sent at or after;
    ``seconds - TAIL_SECONDS`` by default."""
    rtp_origin: RtpOrigin = field(default_factory=RtpOrigin)
    """Where the camera's RTP timestamps and sequence numbers start; random by default."""

    @property
    def reach(self) -> float:
        return self.seconds - TAIL_SECONDS if self.must_reach is None else self.must_reach

    @property
    def slug(self) -> str:
        return self.case_id.lower()


# Which rule each quirk bends, for the case's references; RFC 2326 §10/§12 by default.
_QUIRK_SPEC: dict[str, tuple[SpecRef, ...]] = {
    "annexb-in-rtp": (rfc(6184, "5.6"),),
    "changed-interleaved": (rfc(2326, "10.12"), rfc(2326, "12.39")),
    "fu-start-end": (rfc(6184, "5.8"),),
    "garbage-sprop": (rfc(6184, "8.1"),),
    "get-parameter-454": (rfc(2326, "10.8"), rfc(2326, "11.3.4")),
    "interleaved-without-tcp": (rfc(2326, "12.39"),),
    "keepalive-unanswered": (rfc(2326, "12.37"),),
    "media-stall": (rfc(3550, "6.3.5"),),
    "marker-on-parameter-sets": (rfc(6184, "5.1"),),
    "no-marker": (rfc(6184, "5.1"), rfc(3550, "5.1")),
    "no-server-port": (rfc(2326, "12.39"),),
    "no-sprop": (rfc(6184, "8.1"), rfc(6184, "8.4")),
    "odd-ssrc": (rfc(2326, "12.39"),),
    "oversized-nal": (rfc(6184, "5.6"), rfc(3550, "11")),
    "rtp-info-mismatch": (rfc(2326, "12.33"),),
    "schemeless-content-base": (rfc(2326, "C.1.1"), rfc(3986, "5.2")),
    "set-parameter-wrong-cseq": (rfc(2326, "12.17"),),
    "short-session-timeout": (rfc(2326, "12.37"),),
    "sprop-missing-pps": (rfc(6184, "8.1"),),
    "sr-before-play": (rfc(3550, "6.4.1"),),
    "timestamp-jump": (rfc(3550, "5.1"),),
}
_DEFAULT_SPEC = (rfc(2326, "10"), rfc(3550, "5.1"))
WRAP_SECONDS = 2.0
WRAP_PACKETS = 150
"""The 32-bit timestamp wraps 2 s of video into the stream (the 48 kHz audio's a little
later) and the 16-bit sequence after 150 packets, about 2 s of the short sample's video and
audio: both inside the span the output must cover."""
KEEPALIVE_QUIRKS = ("get-parameter-454", "keepalive-unanswered")
KEEPALIVE_SESSION_TIMEOUT = 10
"""Keepalives every 5 s or so (RFC 2326 §12.37 leaves the margin to the client), so that
two fall inside the run and the quirk is met."""


def _quirk_scenario(name: str) -> Scenario:
    profile = REGISTRY[name]
    case_id = "RTSPC-QUIRK-" + name.upper()
    title = f"Camera quirk {name}: {profile.summary}"
    spec = _QUIRK_SPEC.get(name, _DEFAULT_SPEC)
    if name == "media-stall":
        # RTP stops 3 s after every PLAY: the client must notice and start a new session,
        # which stalls again in turn; the output must hold frames from after the first.
        return Scenario(
            case_id,
            title,
            spec,
            (name,),
            seconds=18.0,
            allowed_breaks=2,
            allowed_gap=12.0,
            must_reach=5.0,
        )
    if name == "short-session-timeout":
        return Scenario(case_id, title, spec, (name,), seconds=15.0)
    if name in KEEPALIVE_QUIRKS:
        return Scenario(case_id, title, spec, (name,), session_timeout=KEEPALIVE_SESSION_TIMEOUT)
    return Scenario(case_id, title, spec, (name,))


BASE = (
    Scenario(
        "RTSPC-PLAY-001",
        "A well-behaved camera (H.264 and AAC, keyframes every second): every frame, in order",
        (rfc(2326, "10"), rfc(6184, "5"), rfc(3550, "5.1")),
    ),
    Scenario(
        "RTSPC-PLAY-002",
        "A video-only camera (one m= section): every frame, in order",
        (rfc(4566, "5.14"), rfc(2326, "C.1")),
        sample=Sample.VIDEO_ONLY,
    ),
    Scenario(
        "RTSPC-PLAY-003",
        "Keyframes every 10 s: the client waits for the first one and keeps every frame",
        (rfc(6184, "8.4"),),
        sample=Sample.LONG_GOP,
        seconds=26.0,
    ),
    Scenario(
        "RTSPC-PLAY-004",
        "An audio-only camera (one m=audio section, AAC): the client plays the audio alone, "
        "without waiting for a video track",
        (rfc(4566, "5.14"), rfc(2326, "C.1"), rfc(3640, "3.3.6"), rfc(8216, "3.2")),
        sample=Sample.AUDIO_ONLY,
    ),
    Scenario(
        "RTSPC-NET-001",
        "UDP blocked on the way (RTSP's TCP connection gets through): the client asks for "
        "TCP interleaving and plays",
        (rfc(2326, "10.12"), rfc(2326, "12.39")),
        block_udp=True,
    ),
    Scenario(
        "RTSPC-AUTH-001",
        "DESCRIBE answered 401 with a Digest challenge: the client answers it and plays",
        (rfc(2326, "12.44"), rfc(2326, "12.5"), rfc(7616, "3.4"), rfc(7826, "19.1")),
        auth=True,
    ),
    Scenario(
        "RTSPC-RESTART-001",
        "The camera restarts mid-stream (new SSRC, sequence and timestamps): the client "
        "reconnects and the frames go on after one break",
        (rfc(3550, "8"), rfc(3550, "6.6"), rfc(8216, "4.3.2.3")),
        restart_at=5.0,
        seconds=18.0,
        allowed_breaks=1,
        allowed_gap=10.0,
    ),
    Scenario(
        "RTSPC-AUDIO-001",
        "G.711 μ-law audio (PCMU, static payload type 0, 8 kHz), which HLS cannot carry: the "
        "client transcodes it or leaves it out, and keeps every video frame",
        (rfc(3551, "4.5.14"), rfc(3551, "6"), rfc(4566, "6"), rfc(8216, "3.2")),
        sample=Sample.PCMU,
    ),
    Scenario(
        "RTSPC-AUDIO-002",
        "G.711 A-law audio (PCMA, static payload type 8, 8 kHz): the client transcodes it or "
        "leaves it out, and keeps every video frame",
        (rfc(3551, "4.5.14"), rfc(3551, "6"), rfc(4566, "6"), rfc(8216, "3.2")),
        sample=Sample.PCMA,
    ),
    Scenario(
        "RTSPC-AUDIO-003",
        "Opus audio (opus/48000/2, dynamic payload type), which MPEG-TS HLS cannot carry: the "
        "client transcodes it or leaves it out, and keeps every video frame",
        (rfc(7587, "4.2"), rfc(7587, "7"), rfc(4566, "6"), rfc(8216, "3.2")),
        sample=Sample.OPUS,
    ),
    Scenario(
        "RTSPC-PARAM-001",
        "The resolution changes mid-stream (320x180 to 480x270 and back, new SPS and PPS in "
        "band at a keyframe; sprop-parameter-sets holds the first): every frame, in order, "
        "decodable",
        (rfc(6184, "8.4"), rfc(6184, "8.5"), rfc(6184, "8.2.1")),
        sample=Sample.SWITCH,
    ),
    Scenario(
        "RTSPC-RTP-001",
        "RTP timestamps start 2 s before the 32-bit wrap and sequence numbers 150 packets "
        "before the 16-bit one: the client counts on across both and keeps every frame",
        (rfc(3550, "5.1"), rfc(3550, "A.1"), rfc(2326, "12.33")),
        rtp_origin=RtpOrigin.before_wrap(WRAP_SECONDS, 90_000, WRAP_PACKETS),
    ),
)


def catalogue() -> tuple[Scenario, ...]:
    """Every scenario: the base ones, then one per quirk profile."""
    return BASE + tuple(_quirk_scenario(name) for name in sorted(REGISTRY))
