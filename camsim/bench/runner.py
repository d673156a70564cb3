"""The bench itself: set-up trials and streaming windows, RTMP and RTMPS interleaved.

For each network profile, in order:

1. **Set-up trials.** ``warmup + repeat`` rounds; each round connects one stream over RTMP and
   one over RTMPS, alternating which goes first, publishes until the first frame is handed to the
   transport, and unpublishes. Phase timings are the encoder session's own, taken on the event
   loop's monotonic clock. Warm-up rounds are dropped.
2. **Streaming windows.** ``warmup + repeat`` rounds again (:func:`streaming_plan`), each an RTMP
   window and an RTMPS window (alternating first) at every stream count of ``streams``, for
   ``duration`` seconds after :data:`SETTLE` seconds of settling. Per window: the encoder's CPU
   (this thread's), the server's process tree's CPU when it runs here, bytes on the wire against
   the RTMP payload, per-frame latency from the server's API (or, without one, by playing each
   stream back from the server over RTMP and reading its frames' stamps), and frames sent
   against frames the server counted.

Nothing is run in parallel across protocols: what one protocol does never loads the other's
measurement, and slow drift of the machine hits both alike.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum

from camsim.bench.hls import HlsFollower, HlsThread, hls_url
from camsim.bench.playback import PlaybackThread, RtmpPlayerConnection
from camsim.bench.profiles import NetworkProfile
from camsim.bench.progress import STATUS_INTERVAL, BenchStatus
from camsim.bench.relay import ByteCount, RelayThread
from camsim.bench.resume import tls_setup
from camsim.bench.servers import tree_cpu_seconds
from camsim.bench.stats import percentile
from camsim.encoder.fleet import EncoderFleet
from camsim.encoder.flv_source import FlvPlan
from camsim.encoder.pacer import Pacer
from camsim.encoder.publisher import StreamPublisher
from camsim.encoder.session import PublishOptions
from camsim.encoder.stats import PhaseTimings, StreamState
from camsim.encoder.target import PushTarget, expand
from camsim.fault.kernel import KernelFaults

SETTLE = 2.0
"""Seconds each streaming window runs before it is measured (connections, first GOP)."""
SETUP_PHASES = (
    "tcp_connect_ms",
    "tls_handshake_ms",
    "rtmp_handshake_ms",
    "connect_ms",
    "create_stream_ms",
    "publish_ms",
    "first_frame_ms",
)
"""The phases of :class:`~camsim.encoder.stats.PhaseTimings`, in the order they happen."""
API_TIMEOUT = 5.0
STOP_GRACE = 1.0
"""Seconds a set-up trial waits for its unpublish to close the connection."""
DRAIN = 1.0
"""Seconds between the end of a window and counting the frames the server received."""

Progress = Callable[[str], None]
StatusView = Callable[[BenchStatus], None]


class Protocol(StrEnum):
    RTMP = "rtmp"
    RTMPS = "rtmps"


def interleaved(round_index: int) -> tuple[Protocol, Protocol]:
    """The order of a round: RTMP first in even rounds, RTMPS first in odd ones."""
    if round_index % 2 == 0:
        return Protocol.RTMP, Protocol.RTMPS
    return Protocol.RTMPS, Protocol.RTMP


@dataclass(frozen=True)
class BenchSettings:
    """What one ``camsim bench rtmp-vs-rtmps`` run measures and how."""

    rtmp_url: str
    """``rtmp://host:port/app/name{n}``: ``{n}`` is replaced per stream and trial."""
    rtmps_url: str
    profiles: tuple[NetworkProfile, ...]
    streams: int | tuple[int, ...] = 1
    """Streams per window: one count, or several (``--streams 1,5,10``) to measure CPU per
    stream against the count; :attr:`counts` is the sweep."""
    duration: float = 10.0
    repeat: int = 5
    warmup: int = 1
    api_url: str | None = None
    """refserver's ``.../api/streams/``: per-frame latency and frames received."""
    server_pids: tuple[int, ...] = ()
    """Local server processes whose trees' CPU is measured."""
    options: PublishOptions = field(default_factory=PublishOptions)
    """How streams publish; its ``ssl_context`` carries ``--tls-version`` and ``--cipher``."""
    seed: int = 0
    streaming: bool = True
    """False: set-up trials only (``--setup-only``)."""
    resume: bool = False
    """Also time RTMPS's TLS set-up on reconnect, with and without the saved session."""
    playback: bool = True
    """Without ``api_url``: play every stream back from the server over RTMP (``rtmp_url``'s
    host and port, straight, not through the relay) to read per-frame latency."""
    hls_url: str | None = None
    """``http://host:port/live/{name}/index.m3u8``: per-frame latency read from each stream's
    HLS (stamp → segment listed, :mod:`camsim.bench.hls`); it wins over the API and play-back."""

    @property
    def counts(self) -> tuple[int, ...]:
        """The stream counts of the streaming windows, smallest first, each once."""
        counts = (self.streams,) if isinstance(self.streams, int) else self.streams
        return tuple(sorted(set(counts)))


@dataclass(frozen=True)
class PlannedWindow:
    """One streaming window of :func:`streaming_plan`."""

    round: int
    streams: int
    protocol: Protocol
    kept: bool


def streaming_plan(counts: Sequence[int], warmup: int, repeat: int) -> list[PlannedWindow]:
    """The streaming windows in the order they run: ``warmup + repeat`` rounds, each with every
    count in ``counts`` and, at each count, RTMP and RTMPS back to back in :func:`interleaved`
    order. Counts sit inside rounds rather than rounds inside counts so that the machine's slow
    drift spreads over every count alike, as it does over both protocols; the first ``warmup``
    rounds are run and dropped."""
    return [
        PlannedWindow(index, count, protocol, index >= warmup)
        for index in range(warmup + repeat)
        for count in counts
        for protocol in interleaved(index)
    ]


@dataclass
class Window:
    """One streaming window of one protocol."""

    protocol: str
    streams: int
    seconds: float
    encoder_cpu_seconds: float
    server_cpu_seconds: float | None
    payload_bytes: int
    wire_bytes: int
    frames_sent: int
    frames_received: int | None
    latency_p50_ms: list[float] = field(default_factory=list)
    latency_p95_ms: list[float] = field(default_factory=list)
    latency_p99_ms: list[float] = field(default_factory=list)
    failed_streams: int = 0

    @property
    def encoder_cpu_percent(self) -> float:
        """Of one core."""
        return 100 * self.encoder_cpu_seconds / self.seconds

    @property
    def server_cpu_percent(self) -> float | None:
        if self.server_cpu_seconds is None:
            return None
        return 100 * self.server_cpu_seconds / self.seconds


@dataclass
class ProfileResult:
    """Everything measured under one network profile."""

    profile: NetworkProfile
    setup: dict[str, list[dict[str, float | None]]] = field(
        default_factory=lambda: {p.value: [] for p in Protocol}
    )
    """Protocol → one dict of phase timings (ms) per kept trial."""
    setup_failures: dict[str, list[str]] = field(
        default_factory=lambda: {p.value: [] for p in Protocol}
    )
    windows: list[Window] = field(default_factory=list)
    resumption: dict[str, list[dict[str, object]]] = field(
        default_factory=lambda: {"full": [], "resumed": []}
    )
    """``--resume``: TLS set-ups of RTMPS without ("full") and with ("resumed") a saved session,
    one :meth:`~camsim.bench.resume.TlsSetup.to_json` per kept trial."""
    resumption_failures: list[str] = field(default_factory=list)
    kernel: dict[str, object] | None = None
    """A ``kernel-`` profile: the router's faults in force while it ran, with ``loss_method``
    (how the kernel drops packets: netem, or an iptables statistic rule without netem)."""

    def resumption_phase(self, kind: str, name: str) -> list[float]:
        """``tls_handshake_ms`` (or another number) of every ``kind`` trial."""
        return [
            float(v) for t in self.resumption[kind] if isinstance(v := t.get(name), int | float)
        ]

    def setup_totals(self, protocol: Protocol) -> list[float]:
        """Milliseconds from the TCP connect to the first frame, per complete trial."""
        totals = []
        for trial in self.setup[protocol.value]:
            phases = [trial.get(name) for name in SETUP_PHASES if name != "tls_handshake_ms"]
            if any(value is None for value in phases):
                continue
            totals.append(
                sum(v for v in phases if v is not None) + (trial["tls_handshake_ms"] or 0)
            )
        return totals

    def phase(self, protocol: Protocol, name: str) -> list[float]:
        return [v for t in self.setup[protocol.value] if (v := t.get(name)) is not None]

    def windows_of(self, protocol: Protocol, streams: int | None = None) -> list[Window]:
        """The kept windows of ``protocol``; of ``streams`` streams only when given."""
        return [
            w
            for w in self.windows
            if w.protocol == protocol.value and (streams is None or w.streams == streams)
        ]

    @property
    def stream_counts(self) -> tuple[int, ...]:
        """The stream counts windows ran at, smallest first."""
        return tuple(sorted({w.streams for w in self.windows}))

    def to_json(self) -> dict[str, object]:
        return {
            "profile": {
                "name": self.profile.name,
                "description": self.profile.description,
                "rtt_ms": self.profile.rtt_ms,
            },
            "setup": self.setup,
            "setup_failures": self.setup_failures,
            "windows": [asdict(w) for w in self.windows],
            "resumption": self.resumption,
            "resumption_failures": self.resumption_failures,
            "kernel": self.kernel,
        }


class Bench:
    """Runs :class:`BenchSettings` on the current event loop; relays on their own thread."""

    def __init__(
        self,
        settings: BenchSettings,
        plan: FlvPlan,
        progress: Progress | None = None,
        *,
        kernel_faults: KernelFaults | None = None,
        status: StatusView | None = None,
    ) -> None:
        """``kernel_faults``: the router between this thread's namespace and the server's, for
        ``kernel-`` profiles (:mod:`camsim.bench.kernel`). ``status`` is shown :attr:`status`
        every :data:`~camsim.bench.progress.STATUS_INTERVAL` seconds while the run lasts."""
        self.settings = settings
        self.plan = plan
        self.progress = progress or (lambda _: None)
        self.kernel_faults = kernel_faults
        self.status = BenchStatus()
        self._show_status = status
        self._names = 0

    async def run(self) -> list[ProfileResult]:
        relays = RelayThread()
        relays.start()
        self.status.started = time.monotonic()
        ticker = asyncio.create_task(self._tick()) if self._show_status is not None else None
        try:
            results = []
            for profile in self.settings.profiles:
                results.append(await self._impaired(profile, relays))
                relays.close_relays()
            return results
        finally:
            if ticker is not None:
                ticker.cancel()
            relays.stop()

    async def _tick(self) -> None:
        assert self._show_status is not None
        while True:
            self._show_status(self.status)
            await asyncio.sleep(STATUS_INTERVAL)

    def _stage(self, profile: str, stage: str, round_label: str, protocol: str = "") -> None:
        status = self.status
        status.profile, status.stage, status.round = profile, stage, round_label
        status.protocol = protocol
        status.streams = tuple

    async def _impaired(self, profile: NetworkProfile, relays: RelayThread) -> ProfileResult:
        """:meth:`_profile` with the router's faults of a ``kernel-`` profile in force, and
        none once it is done, whatever the outcome."""
        if profile.kernel is None:
            return await self._profile(profile, relays)
        faults = self.kernel_faults
        if faults is None:
            raise RuntimeError(f"{profile.name} needs a namespace topology (root)")
        config = await asyncio.to_thread(faults.change, **profile.kernel)
        kernel: dict[str, object] = {"settings": dict(profile.kernel), **config.to_json()}
        kernel["loss_method"] = faults.loss_method.value if faults.loss_method else None
        try:
            result = await self._profile(profile, relays)
        finally:
            await asyncio.to_thread(faults.reset)
        result.kernel = kernel
        return result

    async def _profile(self, profile: NetworkProfile, relays: RelayThread) -> ProfileResult:
        settings = self.settings
        result = ProfileResult(profile)
        urls = {}
        for protocol, url in (
            (Protocol.RTMP, settings.rtmp_url),
            (Protocol.RTMPS, settings.rtmps_url),
        ):
            target = PushTarget.parse(expand(url, 0))
            address = relays.relay((target.host, target.port), profile.config, seed=settings.seed)
            urls[protocol] = _through(url, target, address)
        counts = {p: relays.counts[_address(urls[p])] for p in Protocol}
        rounds = settings.warmup + settings.repeat
        for index in range(rounds):
            kept = index >= settings.warmup
            for protocol in interleaved(index):
                label = (
                    "warm-up" if not kept else f"{index - settings.warmup + 1}/{settings.repeat}"
                )
                self.progress(f"{profile.name}: set-up {label} {protocol.value}")
                self._stage(profile.name, "set-up", label, protocol.value)
                timings, error = await self._setup_trial(urls[protocol])
                if not kept:
                    continue
                if error is not None:
                    result.setup_failures[protocol.value].append(error)
                else:
                    result.setup[protocol.value].append(asdict(timings))
        if settings.resume:
            await self._resumption_trials(profile, urls[Protocol.RTMPS], result)
        plan = streaming_plan(settings.counts, settings.warmup, settings.repeat)
        for planned in plan if settings.streaming else []:
            label = (
                f"{planned.round - settings.warmup + 1}/{settings.repeat}"
                if planned.kept
                else "warm-up"
            )
            self.progress(
                f"{profile.name}: streaming {label} {planned.protocol.value}, "
                f"{planned.streams} stream(s) for {settings.duration:g} s"
            )
            self._stage(profile.name, "streaming", label, planned.protocol.value)
            window = await self._window(
                planned.protocol, urls[planned.protocol], counts[planned.protocol], planned.streams
            )
            if planned.kept:
                result.windows.append(window)
        return result

    async def _resumption_trials(
        self, profile: NetworkProfile, url: str, result: ProfileResult
    ) -> None:
        """``warmup + repeat`` rounds of one full and one resumed TLS set-up, alternating which
        goes first; each full set-up's session is the one the next resumed set-up offers."""
        settings = self.settings
        context = settings.options.ssl_context or ssl.create_default_context()
        relay = PushTarget.parse(expand(url, 0))
        server = PushTarget.parse(expand(settings.rtmps_url, 0))
        session: ssl.SSLSession | None = None
        for index in range(settings.warmup + settings.repeat + 1):
            # Round 0 only gets a session to offer; it is never kept.
            kept = index > settings.warmup
            kinds = ("full", "resumed") if index % 2 == 0 else ("resumed", "full")
            for kind in kinds:
                if kind == "resumed" and session is None:
                    continue
                self.progress(f"{profile.name}: TLS set-up {kind}, round {index}")
                self._stage(profile.name, f"TLS set-up {kind}", f"round {index}", "rtmps")
                try:
                    setup, fresh = await tls_setup(
                        relay.host,
                        relay.port,
                        context,
                        session=session if kind == "resumed" else None,
                        server_hostname=server.host,
                        timeout=settings.options.timeout,
                    )
                except (OSError, TimeoutError) as exc:
                    if kept:
                        result.resumption_failures.append(f"{kind}: {exc or type(exc).__name__}")
                    continue
                if kind == "full" and fresh is not None:
                    session = fresh
                if kept:
                    result.resumption[kind].append(setup.to_json())

    def _name(self, url: str, count: int) -> list[PushTarget]:
        first = self._names
        self._names += count
        return [PushTarget.parse(expand(url, first + n)) for n in range(1, count + 1)]

    async def _setup_trial(self, url: str) -> tuple[PhaseTimings, str | None]:
        """Connect, publish, hand the first frame over, unpublish."""
        loop = asyncio.get_running_loop()
        (target,) = self._name(url, 1)
        pacer = Pacer(loop)
        publisher = StreamPublisher(0, target, self.plan, pacer, self.settings.options)
        task = asyncio.create_task(publisher.run())
        self.status.streams = lambda: (publisher.stats,)
        deadline = loop.time() + 8 * self.settings.options.timeout
        try:
            # The timings are the session's own; this only decides when to hang up.
            while publisher.stats.timings.first_frame_ms is None and not task.done():
                if loop.time() > deadline:
                    break
                await asyncio.sleep(0.005)
            timings = replace(publisher.stats.timings)
            publisher.stop()
            # An unpublish is courteous, but a server (or terminator) that keeps the
            # connection open after it must not slow the next trial down.
            await asyncio.wait([task], timeout=STOP_GRACE)
            if not task.done():
                task.cancel()
            stats = await task
        finally:
            pacer.close()
        if timings.first_frame_ms is None:
            return timings, stats.error or "no frame was accepted"
        return timings, None

    async def _window(self, protocol: Protocol, url: str, count: ByteCount, streams: int) -> Window:
        settings = self.settings
        targets = self._name(url, streams)
        fleet = EncoderFleet(targets, self.plan, settings.options)
        task = asyncio.create_task(fleet.run(SETTLE + settings.duration + 0.5))
        self.status.streams = lambda: fleet.stats
        followers = self._follow(targets)
        players = None if followers is not None else self._play(targets)
        await asyncio.sleep(SETTLE)
        wall0 = time.time_ns() // 1000
        cpu0, server0, clock0 = time.thread_time(), self._server_cpu(), time.monotonic()
        wire0 = count.up
        payload0 = sum(s.bytes_sent for s in fleet.stats)
        frames0 = sum(s.video_frames for s in fleet.stats)
        await asyncio.sleep(settings.duration)
        cpu1, server1, clock1 = time.thread_time(), self._server_cpu(), time.monotonic()
        wire1 = count.up
        payload1 = sum(s.bytes_sent for s in fleet.stats)
        frames1 = sum(s.video_frames for s in fleet.stats)
        wall1 = time.time_ns() // 1000
        if followers is not None:
            # The window's last frames are listed once their segment is cut.
            latencies = _followed_latencies(await followers.stop(wall1, DRAIN), wall0, wall1)
            followers.close()
        elif players is not None:
            # Frames sent in the window may still be on their way: let them arrive.
            await asyncio.sleep(DRAIN)
            latencies = _played_latencies(await players.stop(), wall0, wall1)
            players.close()
        else:
            latencies = await self._latencies(targets)
        stats = await task
        # A plain TCP close returns before a delaying relay has delivered the last bytes (a TLS
        # close waits for the server's close_notify): let them land before counting.
        await asyncio.sleep(DRAIN)
        received = await self._frames_received(targets)
        window = Window(
            protocol=protocol.value,
            streams=len(targets),
            seconds=clock1 - clock0,
            encoder_cpu_seconds=cpu1 - cpu0,
            server_cpu_seconds=None if server0 is None or server1 is None else server1 - server0,
            payload_bytes=payload1 - payload0,
            wire_bytes=wire1 - wire0,
            frames_sent=frames1 - frames0,
            frames_received=received,
            failed_streams=sum(s.state is StreamState.FAILED for s in stats),
        )
        window.frames_sent = sum(s.video_frames for s in stats)
        for p50, p95, p99 in latencies:
            window.latency_p50_ms.append(p50)
            window.latency_p95_ms.append(p95)
            window.latency_p99_ms.append(p99)
        return window

    def _follow(self, targets: Sequence[PushTarget]) -> HlsThread | None:
        """Followers of ``targets``' HLS playlists with ``--hls``, else None."""
        template = self.settings.hls_url
        if template is None:
            return None
        followers = HlsThread()
        followers.start([hls_url(template, t.stream_name) for t in targets])
        return followers

    def _play(self, targets: Sequence[PushTarget]) -> PlaybackThread | None:
        """Players for ``targets`` when latency cannot come from an API, else None."""
        settings = self.settings
        if settings.api_url is not None or not settings.playback:
            return None
        server = PushTarget.parse(expand(settings.rtmp_url, 0))
        players = PlaybackThread()
        # The same app and name the stream was published under, whichever protocol it used.
        players.start(server.host, server.port, [(t.app, t.stream_name) for t in targets])
        return players

    def _server_cpu(self) -> float | None:
        pids = self.settings.server_pids
        return tree_cpu_seconds(list(pids)) if pids else None

    async def _latencies(self, targets: Sequence[PushTarget]) -> list[tuple[float, float, float]]:
        out = []
        for target in targets:
            entry = await self._api(target)
            latency = entry.get("latency") if entry else None
            if isinstance(latency, dict) and latency.get("p50") is not None:
                out.append((1000 * latency["p50"], 1000 * latency["p95"], 1000 * latency["p99"]))
        return out

    async def _frames_received(self, targets: Sequence[PushTarget]) -> int | None:
        total = 0
        for target in targets:
            entry = await self._api(target)
            frames = entry.get("frames") if entry else None
            if not isinstance(frames, dict):
                return None
            total += int(frames.get("video", 0))
        return total

    async def _api(self, target: PushTarget) -> dict[str, object] | None:
        base = self.settings.api_url
        if base is None:
            return None
        url = base + target.stream_name.split("?", 1)[0]

        def fetch() -> dict[str, object] | None:
            try:
                with urllib.request.urlopen(url, timeout=API_TIMEOUT) as answer:
                    data = json.loads(answer.read())
            except (OSError, ValueError, urllib.error.URLError):
                return None
            return data if isinstance(data, dict) else None

        return await asyncio.to_thread(fetch)


def _played_latencies(
    players: Sequence[RtmpPlayerConnection | None], since_us: int, until_us: int
) -> list[tuple[float, float, float]]:
    """p50, p95 and p99 per player that received stamped frames in the window."""
    out = []
    for player in players:
        values = player.latencies_ms(since_us, until_us) if player is not None else []
        if values:
            out.append((percentile(values, 50), percentile(values, 95), percentile(values, 99)))
    return out


def _followed_latencies(
    followers: Sequence[HlsFollower], since_us: int, until_us: int
) -> list[tuple[float, float, float]]:
    """p50, p95 and p99 per followed stream that showed stamped frames of the window."""
    out = []
    for follower in followers:
        values = follower.latencies_ms(since_us, until_us)
        if values:
            out.append((percentile(values, 50), percentile(values, 95), percentile(values, 99)))
    return out


def _through(url: str, target: PushTarget, address: tuple[str, int]) -> str:
    """``url`` with its host:port replaced by the relay's (the path and ``{n}`` kept)."""
    scheme, _, rest = url.partition("://")
    path = rest.split("/", 1)[1]
    return f"{scheme}://{address[0]}:{address[1]}/{path}"


def _address(url: str) -> tuple[str, int]:
    target = PushTarget.parse(expand(url, 0))
    return target.host, target.port


def tls_context(
    *, version: str | None = None, cipher: str | None = None, verify: bool = False
) -> ssl.SSLContext:
    """The encoder's client context: ``version`` "1.2" or "1.3" pins it; ``cipher`` is an
    OpenSSL cipher list (TLS 1.2 suites; TLS 1.3 suites are not settable from Python)."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if version is not None:
        pinned = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[version]
        context.minimum_version = context.maximum_version = pinned
    if cipher is not None:
        context.set_ciphers(cipher)
    return context


def negotiated(context: ssl.SSLContext) -> str:
    """What the context allows, for the report."""
    low, high = context.minimum_version, context.maximum_version
    return f"{low.name}..{high.name}".replace("MINIMUM_SUPPORTED", "any").replace(
        "MAXIMUM_SUPPORTED", "any"
    )
