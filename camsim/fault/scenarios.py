"""Named fault scenarios: what goes wrong, when, and what a system that copes must show.

A :class:`FaultScenario` is data, with no I/O: the settings a fault proxy runs with for the
whole run (a NAT, UDP blocked), the :class:`FaultWindow` s during which other settings are in
force (5 % burst loss from 2 s to 6 s), a :class:`DeviceFault` done to the camera, encoder or
server (a reboot, RTP that stops), a seed so the same run drops the same packets, and the
:class:`VerdictRule` that says what was expected: the first frame within N s, frames lost only
inside the fault windows, recovered within N s of each window's end, the output still going at
the end of the run, no unbounded memory growth. ``camsim conform --suite resilience`` runs them
and measures each against its rule; :data:`SCENARIOS` holds them by name::

    scenario = get_scenario("loss-5-burst")
    scenario.settings_at(4.0)   # {"burst": "1.6%,30%"}: what the proxy has in force 4 s in

Times are seconds from the start of the run. Scenarios stay short (14 to 18 s) so a suite of
all of them fits in a CI job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from types import MappingProxyType

from camsim.camera.quirks.timing import DROP_AT
from camsim.fault.config import FaultConfig, parse_settings
from camsim.fault.impair import LinkProfile

RUN_SECONDS = 14.0
FAULT_START = 2.0
FAULT_END = 6.0
TAIL_SECONDS = 4.0
"""How far before the end of a run the output must reach: a segment still open when the client
is stopped may be lost, and segments are cut only at keyframes (every second here)."""
LAG_GROWTH_SECONDS = 1.0
"""How much later than at its quickest a client back in real time may show its segments: the
suite reads the output every 0.5 s, so the same client's lag varies by that much; the rest is a
busy machine's margin. A client that kept a 2 s delay it suffered is 2 s over."""


class Role(StrEnum):
    """What the system under test does in the scenario."""

    PULL = "pull"
    """It pulls an RTSP camera (the proxy sits between the camera and it)."""
    INGEST = "ingest"
    """An encoder pushes RTMP to it (the proxy sits between the encoder and it)."""


class DeviceFault(StrEnum):
    """A fault of a device rather than of the network."""

    NONE = "none"
    CAMERA_REBOOT = "camera-reboot"
    """The camera closes every connection (RTCP BYE), refuses connections while away, and comes
    back on the same port with a new SSRC, sequence and timestamp base (RFC 3550 §8)."""
    RTP_STOPS = "rtp-stops"
    """RTP stops a few seconds after each PLAY while RTSP keeps answering (camera quirk
    ``media-stall``)."""
    TCP_DROP_MID_FRAME = "tcp-drop-mid-frame"
    """The camera, serving RTP interleaved on RTSP's TCP connection only, closes that connection
    in the middle of an interleaved frame and accepts new connections at once (camera quirks
    ``tcp-only`` and ``tcp-drop-mid-frame``)."""
    UPLINK_DROP = "uplink-drop"
    """The encoder's TCP connection is reset by the proxy at the window's start (the window's
    settings refuse new ones meanwhile); the encoder reconnects with backoff."""
    SERVER_RESTART = "server-restart"
    """The server is killed with SIGKILL under load and started again."""


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """Settings (by name, as ``camsim fault proxy --set`` takes them) in force from ``start``
    to ``end``; a device fault's window has no settings."""

    start: float
    end: float
    settings: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"a fault window needs 0 <= start < end, got {self.start}..{self.end}")
        parse_settings(self.settings)  # raises ValueError naming a setting the proxy lacks

    def holds(self, at: float) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True, slots=True)
class VerdictRule:
    """What a system that copes with the scenario shows in its output."""

    first_frame_within: float = 6.0
    """The first frame in the output was sent at most this long after the run started."""
    recover_within: float = 4.0
    """After each fault window ends, the output holds frames sent at most this long after;
    frames may be lost from a window's start to its end plus this margin, nowhere else."""
    max_breaks: int | None = None
    """Breaks in the frame sequence allowed in all (None: any number inside the windows)."""
    min_breaks: int = 0
    """Breaks the fault cannot fail to cause (a new session starts at a keyframe): fewer mean
    the fault did not happen, and the run proves nothing."""
    reach: float | None = None
    """The output holds a frame sent at least this long after the start (the run's length
    less :data:`TAIL_SECONDS` when None): the system went on after the fault."""
    max_memory_growth_mb: float = 64.0
    """Resident memory of the system under test may grow by at most this much between the
    first fault and the end of the run."""
    max_lag_growth: float | None = None
    """Back to real time: segments the output gains once the last window has ended and
    ``recover_within`` has passed appear, in the median, at most this much later after the
    newest frame they hold was sent than the quickest segment of the run did (None: lateness
    is not judged). Measured against the client's own best, so a client with a constant
    playout delay (a jitter buffer of 2 s) is not late; one that kept the fault's delay is."""
    discontinuity_due: bool = False
    """A new stream starts (new SSRC and timestamps): timestamps that jump across a segment
    boundary need EXT-X-DISCONTINUITY before it (RFC 8216 §4.3.2.3); a jump without it fails."""


@dataclass(frozen=True, slots=True)
class FaultScenario:
    """One named scenario: the fault, its timing and seed, and its verdict rule."""

    name: str
    title: str
    description: str
    role: Role = Role.PULL
    seed: int = 1
    seconds: float = RUN_SECONDS
    base: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    """Proxy settings for the whole run."""
    windows: tuple[FaultWindow, ...] = ()
    device: DeviceFault = DeviceFault.NONE
    camera_quirks: tuple[str, ...] = ()
    refused_url: bool = False
    """The client is given a URL whose port refuses connections (port 554 blocked) and, as
    ``{alt_url}``, one that reaches the camera."""
    rule: VerdictRule = field(default_factory=VerdictRule)
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        parse_settings(self.base)
        for window in self.windows:
            if window.end > self.seconds:
                raise ValueError(f"{self.name}: a window ends after the run ({window.end} s)")

    @property
    def reach(self) -> float:
        return self.seconds - TAIL_SECONDS if self.rule.reach is None else self.rule.reach

    def base_config(self) -> FaultConfig:
        """The proxy's configuration at the start (and between windows)."""
        return FaultConfig().changed(**parse_settings(self.base))

    def settings_at(self, at: float) -> dict[str, object]:
        """The proxy settings in force ``at`` seconds into the run, base ones included."""
        settings = dict(self.base)
        for window in self.windows:
            if window.holds(at):
                settings.update(window.settings)
        return settings

    def changes(self) -> list[tuple[float, dict[str, object]]]:
        """When the proxy's settings change and what they change to, in time order: each
        window's settings at its start, and at its end what was in force before it."""
        times = sorted({w.start for w in self.windows} | {w.end for w in self.windows})
        out: list[tuple[float, dict[str, object]]] = []
        for at in times:
            before = self.settings_at(at - 1e-6) if at > 0 else dict(self.base)
            now = self.settings_at(at)
            if now == before:
                continue
            changed = {name: value for name, value in now.items() if before.get(name) != value}
            for name in before.keys() - now.keys():
                changed[name] = _NEUTRAL[name.removeprefix("up_").removeprefix("down_")]
            out.append((at, changed))
        return out

    def fault_spans(self) -> list[tuple[float, float]]:
        """Where faults are in force: every window, and the whole run when the base setting or
        the refused port is a fault."""
        spans = [(w.start, w.end) for w in self.windows]
        if self.base or self.refused_url:
            spans.append((0.0, self.seconds))
        return sorted(spans)


_NEUTRAL: dict[str, object] = {
    item.name: item.default for item in fields(LinkProfile) + fields(FaultConfig)
}
"""The default of every setting (one that impairs nothing), to end a window that set it."""


def _window(**settings: object) -> tuple[FaultWindow, ...]:
    return (FaultWindow(FAULT_START, FAULT_END, MappingProxyType(dict(settings))),)


def _settings(**settings: object) -> Mapping[str, object]:
    return MappingProxyType(dict(settings))


SCENARIOS: dict[str, FaultScenario] = {}


class UnknownScenario(KeyError):
    def __str__(self) -> str:
        return f"no fault scenario named {self.args[0]!r} (known: {', '.join(SCENARIOS)})"


def register(scenario: FaultScenario) -> FaultScenario:
    if scenario.name in SCENARIOS:
        raise ValueError(f"fault scenario {scenario.name!r} is registered twice")
    SCENARIOS[scenario.name] = scenario
    return scenario


def get_scenario(name: str) -> FaultScenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise UnknownScenario(name) from None


def scenarios(role: Role | None = None) -> list[FaultScenario]:
    """Every registered scenario (of ``role``), in catalogue order."""
    return [s for s in SCENARIOS.values() if role is None or s.role is role]


register(
    FaultScenario(
        "loss-1",
        "1 % of UDP datagrams lost for 4 s",
        "Uniform loss of 1 % of RTP/RTCP datagrams both ways from 2 s to 6 s. Frames may be "
        "lost only inside the window; the stream goes on after it.",
        seed=101,
        windows=_window(loss="1%"),
        references=("RFC 3550 §6.4.1",),
    )
)
register(
    FaultScenario(
        "loss-5-burst",
        "About 5 % of UDP datagrams lost in bursts for 4 s",
        "Gilbert-Elliott loss (1.6 % to enter the bad state, 30 % to leave it: 5 % of datagrams "
        "on average, in runs of about three) from 2 s to 6 s.",
        seed=105,
        windows=_window(burst="1.6%,30%"),
        references=("RFC 3550 §6.4.1", "RFC 6184 §5.8"),
    )
)
register(
    FaultScenario(
        "jitter-50ms",
        "20 ms delay with 50 ms of jitter for 4 s",
        "Every packet, both ways and on TCP too (in order there), is delayed 20 ms plus up to "
        "50 ms from 2 s to 6 s; UDP datagrams may overtake each other.",
        seed=150,
        windows=_window(delay="20ms", jitter="50ms"),
        references=("RFC 3550 §6.4.1", "RFC 3550 A.8"),
    )
)
register(
    FaultScenario(
        "reorder",
        "5 % of UDP datagrams held back and delivered late for 4 s",
        "5 % of datagrams are held 20 ms and delivered after the ones behind them, from 2 s to "
        "6 s: a client that orders by sequence number loses nothing.",
        seed=170,
        windows=_window(reorder="5%"),
        references=("RFC 3550 §5.1", "RFC 3550 A.1"),
    )
)
register(
    FaultScenario(
        "bandwidth-below-bitrate",
        "The link carries 200 kbit/s, below the stream's ~360 kbit/s, for 4 s",
        "A token bucket of 200 kbit/s (64 kB queue) on the camera's side from 2 s to 6 s: media "
        "is lost or late while it lasts; the client must be back to real time within 4 s after.",
        seed=200,
        windows=_window(down_rate="200k", down_queue_limit="64k"),
        rule=VerdictRule(max_lag_growth=LAG_GROWTH_SECONDS),
        references=("RFC 3550 §6.4.1",),
    )
)
register(
    FaultScenario(
        "udp-blocked",
        "Every UDP datagram dropped for the whole run: the puller falls back to TCP interleaved",
        "RTSP's TCP connection gets through and every RTP/RTCP datagram is dropped. A puller "
        "that asked for UDP must notice the silence and ask again with interleaving.",
        seed=1,
        base=_settings(udp_blocked=True),
        rule=VerdictRule(first_frame_within=8.0),
        references=("RFC 2326 §10.12", "RFC 2326 §12.39"),
    )
)
register(
    FaultScenario(
        "port-554-blocked",
        "The camera's RTSP port refuses connections: the puller uses the alternative it was given",
        "The URL the puller is given (``{url}``) names a port that refuses every connection, as "
        "a firewall blocking 554 does. ``{alt_url}`` reaches the same camera on another port, "
        "where it also answers RTSP tunnelled in HTTP. A puller given no alternative fails.",
        seed=1,
        refused_url=True,
        rule=VerdictRule(first_frame_within=8.0),
        references=("RFC 2326 §3.2",),
    )
)
register(
    FaultScenario(
        "symmetric-nat",
        "The camera behind a symmetric NAT: UDP comes from ports other than those announced",
        "The ports SETUP announces are not the ones RTP and RTCP come from, and nothing sent to "
        "the announced ones gets in. The puller must accept the media anyway or fall back to "
        "TCP interleaved.",
        seed=1,
        base=_settings(nat="symmetric"),
        rule=VerdictRule(first_frame_within=8.0),
        references=("RFC 4787 §4.1", "RFC 2326 §12.39"),
    )
)
register(
    FaultScenario(
        "nat-timeout",
        "The camera behind a NAT whose UDP mappings expire after 1 s",
        "A cone NAT whose mappings expire 1 s after the last packet out: RTP keeps its mapping, "
        "RTCP (every few seconds) leaves from a new port each time, and the client's RTCP "
        "towards the camera is lost once the mapping it used is gone.",
        seed=1,
        base=_settings(nat="cone", nat_timeout="1s"),
        references=("RFC 4787 REQ-5", "RFC 3550 §6.2"),
    )
)
register(
    FaultScenario(
        "camera-reboot",
        "The camera reboots 4 s in, is away 2 s, comes back with a new SSRC, sequence and "
        "timestamps",
        "The camera closes every connection (RTCP BYE), refuses connections for 2 s, and "
        "answers again on the same port as a new stream. One break is allowed; the output must "
        "go on within 6 s of the camera's return, with a discontinuity where timestamps jump.",
        seed=1,
        seconds=16.0,
        windows=(FaultWindow(4.0, 6.0),),
        device=DeviceFault.CAMERA_REBOOT,
        rule=VerdictRule(recover_within=6.0, max_breaks=1, discontinuity_due=True),
        references=("RFC 3550 §8", "RFC 3550 §6.6", "RFC 8216 §4.3.2.3"),
    )
)
register(
    FaultScenario(
        "tcp-drop-mid-frame",
        "The camera drops the TCP connection in the middle of an interleaved frame 4 s in",
        "The camera serves RTP interleaved on RTSP's TCP connection only (a SETUP for UDP is "
        "answered 461). 4 s after it started it writes the '$', channel, length and part of an "
        "RTP packet, closes the connection, and accepts new connections at once. The puller "
        "must drop the half packet, reconnect and go on: one break, frames again within 5 s, "
        "a discontinuity where the new session's timestamps jump.",
        seed=1,
        seconds=16.0,
        # The drop is on the camera's clock, which starts before the run's by as much as the
        # camera takes to be ready (its own process on the kernel path): a second either side.
        windows=(FaultWindow(DROP_AT - 1.0, DROP_AT + 1.0),),
        device=DeviceFault.TCP_DROP_MID_FRAME,
        camera_quirks=("tcp-only", "tcp-drop-mid-frame"),
        rule=VerdictRule(recover_within=5.0, max_breaks=1, min_breaks=1, discontinuity_due=True),
        references=("RFC 2326 §10.12", "RFC 2326 §12.39", "RFC 8216 §4.3.2.3"),
    )
)
register(
    FaultScenario(
        "rtp-stops",
        "RTP stops 3 s after each PLAY while RTSP keeps answering",
        "The camera's media stalls with its RTSP session alive (keepalives answered). The "
        "puller must notice the silence and start a new session; the output must hold frames "
        "sent after the first stall.",
        seed=1,
        seconds=18.0,
        windows=(FaultWindow(3.0, 18.0),),
        device=DeviceFault.RTP_STOPS,
        camera_quirks=("media-stall",),
        rule=VerdictRule(recover_within=15.0, max_breaks=3, reach=5.0, discontinuity_due=True),
        references=("RFC 3550 §6.3.5", "RFC 2326 §12.37"),
    )
)
register(
    FaultScenario(
        "uplink-drop",
        "The encoder's uplink is reset 4 s in: it reconnects with backoff, HLS goes on",
        "The proxy resets the encoder's TCP connection to the server (RST both ways) and "
        "refuses new ones for 1 s; the encoder reconnects with backoff and publishes again. "
        "The HLS goes on, after EXT-X-DISCONTINUITY where its timestamps jump.",
        role=Role.INGEST,
        seed=1,
        seconds=16.0,
        windows=(FaultWindow(4.0, 5.0, MappingProxyType({"refuse": True})),),
        device=DeviceFault.UPLINK_DROP,
        rule=VerdictRule(recover_within=6.0, max_breaks=1, discontinuity_due=True),
        references=("RFC 8216 §4.3.2.3", "RFC 8216 §6.2.2"),
    )
)
register(
    FaultScenario(
        "server-restart",
        "The server is killed with SIGKILL under load and started again",
        "SIGKILL 4 s in, started again at once; encoders reconnect and HLS resumes.",
        role=Role.INGEST,
        seed=1,
        seconds=16.0,
        windows=(FaultWindow(4.0, 5.0),),
        device=DeviceFault.SERVER_RESTART,
        rule=VerdictRule(recover_within=8.0, max_breaks=1, discontinuity_due=True),
        references=("RFC 8216 §6.2.2",),
    )
)
