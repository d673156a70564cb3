"""A fleet of cameras: samples loaded and packetized once, servers bound, one scheduler.

Cameras of the same file and packetization share one :class:`PacketPlan`. Each camera starts at
its own phase of the loop (spread by the golden ratio, so that no two cameras send their
keyframes together), as unsynchronised real cameras do, which also spreads the load over time.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from camsim.camera.control import ServerSettings
from camsim.camera.device import Camera
from camsim.camera.multicast import MulticastConfig, MulticastPool
from camsim.camera.origin import RtpOrigin
from camsim.camera.plan import DEFAULT_MAX_PAYLOAD_SIZE, PacketPlan, build_plan, packetize_video
from camsim.camera.quirks import Quirks, assign
from camsim.camera.scheduler import DEFAULT_LATE_AFTER, PacingStats, Scheduler
from camsim.camera.sender import DEFAULT_MAX_BUFFERED
from camsim.camera.server import CameraServer, ConnectionCaps
from camsim.camera.status import FleetStatus
from camsim.camera.tls import server_context
from camsim.camera.udp import UdpMedia, multicast_socket
from camsim.media.loader import MediaSample, load
from camsim.media.make import cached_sample
from camsim.media.spec import DEFAULT_SPEC, AudioCodec, SampleSpec
from camsim.pcap.tap import CaptureTap
from wire.codec.nal import VideoCodec
from wire.rtsp import Authenticator, ReaderLimits
from wire.rtsp.auth import ALGORITHM_MD5

GOLDEN_RATIO_FRACTION = 0.6180339887498949
DEFAULT_REPORT_INTERVAL = 5.0
REALM = "camsim"


class Layout(StrEnum):
    PATHS = "paths"
    """All cameras on one port: /cam1../camN."""
    PORTS = "ports"
    """One port per camera, from the first port up; camera n still at /camn."""


class AuthScheme(StrEnum):
    DIGEST = "digest"
    BASIC = "basic"
    BOTH = "both"


@dataclass(frozen=True)
class FleetConfig:
    """Everything ``camsim run`` can be told."""

    cameras: int = 1
    host: str = "127.0.0.1"
    port: int = 8554
    layout: Layout = Layout.PATHS
    media: tuple[Path, ...] = ()
    codec: VideoCodec = VideoCodec.H264
    quirks: tuple[str, ...] = ()
    seed: int = 0
    users: tuple[tuple[str, str], ...] = ()
    auth_scheme: AuthScheme = AuthScheme.DIGEST
    tls: bool = False
    certificate: Path | None = None
    private_key: Path | None = None
    session_timeout: int = 60
    request_timeout: float = 10.0
    idle_timeout: float = 60.0
    max_connections: int | None = None
    """Per server (port); None for 20 per camera behind it."""
    max_connections_per_ip: int | None = None
    """Per server and client address; None for 10 per camera behind it."""
    limits: ReaderLimits = field(default_factory=ReaderLimits)
    max_payload_size: int = DEFAULT_MAX_PAYLOAD_SIZE
    max_buffered: int = DEFAULT_MAX_BUFFERED
    late_after: float = DEFAULT_LATE_AFTER
    report_interval: float = DEFAULT_REPORT_INTERVAL
    capture: Path | None = None
    """Write what the cameras send and receive to this pcapng file (``--capture``)."""
    audio: AudioCodec | None = AudioCodec.AAC
    """Audio of the default sample (``--audio``); None for none. Files in ``media`` keep theirs."""
    video: bool = True
    """False for an audio-only default sample (``--audio-only``)."""
    switch_size: tuple[int, int] | None = None
    """The default sample changes to this picture size mid-loop, with new SPS and PPS in band
    (``--switch-size``); H.264 only."""
    rtp_origin: RtpOrigin = field(default_factory=RtpOrigin)
    """First RTP timestamp and sequence number of every stream (``--rtp-timestamp-origin``,
    ``--rtp-sequence-origin``); random by default, as RFC 3550 §5.1 has them."""
    multicast: MulticastConfig | None = None
    """The pool of groups a SETUP asking for multicast gets its track's group from
    (``--multicast``); None refuses multicast."""

    def __post_init__(self) -> None:
        if self.cameras < 1:
            raise ValueError("a fleet needs at least one camera")
        last_port = self.port + (self.cameras - 1 if self.layout is Layout.PORTS else 0)
        if self.port < 0 or last_port > 0xFFFF or (self.port == 0 and last_port > 0):
            raise ValueError(f"ports {self.port}..{last_port} are not all valid")
        for name in ("max_connections", "max_connections_per_ip"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.quirks:
            assign(self.quirks, 1, self.seed)  # raises ValueError naming an unknown profile
        self.default_spec()  # raises ValueError for a sample with neither video nor audio

    def default_spec(self) -> SampleSpec:
        """What the default sample is made of: ``codec``, ``audio`` and ``video``."""
        spec = DEFAULT_SPEC.with_changes(
            codec=self.codec, video=self.video, switch_size=self.switch_size
        )
        if self.audio is None:
            return spec.with_changes(audio=False)
        return spec.with_changes(**SampleSpec.audio_defaults(self.audio))


class CameraFleet:
    """N cameras behind one or N ports."""

    def __init__(self, config: FleetConfig) -> None:
        self.config = config
        self.cameras: list[Camera] = []
        self.servers: list[CameraServer] = []
        self.pacing = PacingStats(config.late_after)
        self.started_at = 0.0
        self._scheduler: Scheduler | None = None
        self._udp: UdpMedia | None = None
        self._multicast: MulticastPool | None = None
        self._samples: dict[Path, MediaSample] = {}
        self._plans: dict[tuple[Path, tuple[str, ...], int], PacketPlan] = {}
        self._tap: CaptureTap | None = None

    def media_paths(self) -> list[Path]:
        """The files cameras play, assigned round robin."""
        if self.config.media:
            return list(self.config.media)
        return [cached_sample(self.config.default_spec())]

    async def start(self) -> None:
        """Load and packetize, then listen. Raises OSError when a port is taken."""
        loop = asyncio.get_running_loop()
        config = self.config
        self._scheduler = Scheduler(loop)
        paths = self.media_paths()
        quirks = assign(config.quirks, config.cameras, config.seed)
        now = loop.time()
        self.started_at = now
        for index in range(config.cameras):
            path = paths[index % len(paths)]
            sample = self._sample(path)
            plan = self._plan(path, sample, quirks[index])
            phase = (index * GOLDEN_RATIO_FRACTION) % 1.0 * plan.period_seconds
            self.cameras.append(
                Camera(
                    f"cam{index + 1}",
                    f"/cam{index + 1}",
                    sample,
                    plan,
                    scheduler=self._scheduler,
                    pacing=self.pacing,
                    origin=now - phase,
                    quirks=quirks[index],
                    session_timeout=config.session_timeout,
                    rtp_origin=config.rtp_origin,
                )
            )
        self._udp = await UdpMedia.open(config.host)
        if config.capture is not None:
            self._tap = CaptureTap(config.capture)
            self._udp.tap = self._tap.sinks_of(self._udp.rtp_socket)
        if config.multicast is not None:
            self._multicast = MulticastPool(
                config.multicast, multicast_socket(config.host, config.multicast.ttl)
            )
        settings = self._settings()
        ssl_context = None
        if config.tls:
            ssl_context = server_context(
                config.certificate, config.private_key, hosts=[config.host]
            )
        if config.layout is Layout.PATHS:
            groups = [(config.port, self.cameras)]
        else:
            groups = [(config.port + i, [camera]) for i, camera in enumerate(self.cameras)]
        try:
            for port, cameras in groups:
                caps = ConnectionCaps.for_cameras(
                    len(cameras), config.max_connections, config.max_connections_per_ip
                )
                server = CameraServer(
                    config.host,
                    port,
                    cameras,
                    settings,
                    udp=self._udp,
                    ssl_context=ssl_context,
                    caps=caps,
                    multicast=self._multicast,
                )
                server.tap = self._tap.server if self._tap is not None else None
                await server.start()
                self.servers.append(server)
        except OSError:
            await self.close()
            raise

    def _sample(self, path: Path) -> MediaSample:
        sample = self._samples.get(path)
        if sample is None:
            sample = self._samples[path] = load(path)
        return sample

    def _plan(self, path: Path, sample: MediaSample, quirks: Quirks) -> PacketPlan:
        size = quirks.max_payload_size(self.config.max_payload_size)
        key = (path, quirks.plan_key, size)
        plan = self._plans.get(key)
        if plan is None:
            packetizer = quirks.packetizer(packetize_video)
            plan = build_plan(sample, max_payload_size=size, video_packetizer=packetizer)
            self._plans[key] = plan
        return plan

    def _settings(self) -> ServerSettings:
        config = self.config
        authenticator = None
        if config.users:
            scheme = config.auth_scheme
            authenticator = Authenticator(
                REALM,
                dict(config.users),
                random_source=os.urandom,
                digest_algorithms=() if scheme is AuthScheme.BASIC else (ALGORITHM_MD5,),
                basic=scheme is not AuthScheme.DIGEST,
            )
        return ServerSettings(
            authenticator=authenticator,
            session_timeout=config.session_timeout,
            request_timeout=config.request_timeout,
            idle_timeout=config.idle_timeout,
            limits=config.limits,
            max_buffered=config.max_buffered,
            report_interval=config.report_interval,
        )

    def urls(self) -> list[str]:
        """Every camera's URL, in camera order."""
        by_camera = {id(c): s.url(c) for s in self.servers for c in s.cameras.values()}
        return [by_camera[id(camera)] for camera in self.cameras]

    def status(self) -> FleetStatus:
        """Counters since the start."""
        loop_time = time.monotonic()
        return FleetStatus(
            elapsed=loop_time - self.started_at,
            cameras=len(self.cameras),
            connections=sum(len(s.controls) for s in self.servers),
            clients=sum(s.playing_sessions for s in self.servers),
            packets=sum(c.counters.packets for c in self.cameras),
            octets=sum(c.counters.octets for c in self.cameras),
            dropped_bursts=sum(c.counters.dropped_bursts for c in self.cameras),
            late_packets=self.pacing.late_packets,
            p99_error=self.pacing.percentile(0.99),
            max_error=self.pacing.max_error,
        )

    async def close(self) -> None:
        """BYE to every client, close every connection and socket."""
        for server in self.servers:
            await server.close()
        self.servers.clear()
        if self._scheduler is not None:
            self._scheduler.close()
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._multicast is not None:
            self._multicast.close()
            self._multicast = None
        if self._tap is not None:
            self._tap.close()
            self._tap = None
