"""Observe a camera once for the ``rtsp-server`` suite: every exchange and packet the cases judge.

The run, all on loopback or wherever the target is:

- the main connection: OPTIONS, then (with credentials in the URL) DESCRIBE without them and
  with a wrong password, then DESCRIBE, and PLAY without a session;
- one session per transport at once (UDP unicast, TCP interleaved, the HTTP tunnel), each
  DESCRIBE, SETUP of every track, PLAY, media for ``duration`` seconds while GET_PARAMETER,
  OPTIONS and SET_PARAMETER are asked within the session, then PAUSE and TEARDOWN;
- a multicast SETUP, to see whether the camera offers it;
- when the declared session timeout fits in ``session_wait``: a UDP session kept alive by RTCP
  receiver reports only, and one left idle, each for longer than the timeout.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field

from conformance.rtsp.link import Datagram, Exchange, Frame, LinkError, RtspLink, Target, UdpPair
from wire.rtp import (
    ReportBlock,
    RtcpReceiverReport,
    RtcpSdes,
    SdesChunk,
    SdesItem,
    serialize_compound,
)
from wire.rtsp import PortRange, TransportSpec
from wire.sdp import SdpError, SessionDescription

UDP = "udp"
TCP = "tcp"
HTTP = "http"
MULTICAST = "multicast"
TRANSPORTS = (UDP, TCP, HTTP, MULTICAST)
PAUSE_SETTLE = 0.3
"""Seconds after the PAUSE answer for packets already in flight to land."""
PAUSE_WATCH = 1.0
REQUEST_TIMEOUT = 5.0
KEEPALIVE_TIMEOUT = 3.0
PROBE_MARGIN = 3.0
"""Seconds a session probe waits beyond the declared timeout."""
RECEIVER_SSRC = 0x43534D43  # "CSMC"
SDP_ACCEPT = [("Accept", "application/sdp")]
PLAY_RANGE = [("Range", "npt=0.000-")]
"""What FFmpeg, VLC and gortsplib ask PLAY for."""

Progress = Callable[[str], None]


@dataclass
class Track:
    """One ``m=`` section and where its packets arrived in one session."""

    index: int
    media: str
    control: str
    url: str
    setup: Exchange | None = None
    requested: TransportSpec | None = None
    rtp: list[tuple[float, bytes]] = field(default_factory=list)
    rtcp: list[tuple[float, bytes]] = field(default_factory=list)
    rtp_sources: set[tuple[str, int]] = field(default_factory=set)
    stray_channels: dict[int, int] = field(default_factory=dict)


@dataclass
class TransportRun:
    """One session over one transport."""

    name: str
    tracks: list[Track] = field(default_factory=list)
    describe: Exchange | None = None
    play: Exchange | None = None
    play_sent: float = 0.0
    in_session: list[Exchange] = field(default_factory=list)
    pause: Exchange | None = None
    after_pause: int = 0
    """RTP packets that arrived more than PAUSE_SETTLE s after the PAUSE answer."""
    teardown: Exchange | None = None
    ended: float = 0.0
    error: str = ""
    unexpected: int = 0
    connected: bool = False
    """The connection opened (for the tunnel: its GET leg was answered 200)."""


@dataclass
class SessionProbe:
    """A session kept alive by receiver reports only, or left idle."""

    kept_alive: bool
    timeout: float = 0.0
    """The timeout the SETUP answer declared (60 s when it says none)."""
    waited: float = 0.0
    last_rtp: float | None = None
    """Seconds after PLAY of the last RTP packet."""
    teardown: Exchange | None = None
    reports_sent: int = 0
    error: str = ""


@dataclass
class CameraObservation:
    target: Target
    duration: float
    options: Exchange | None = None
    unauthenticated: Exchange | None = None
    wrong_password: Exchange | None = None
    describe: Exchange | None = None
    credentials_refused: bool = False
    """The DESCRIBE with the URL's credentials was answered 401: nothing past it was observed."""
    sdp_text: str = ""
    sdp: SessionDescription | None = None
    sdp_error: str = ""
    play_without_session: Exchange | None = None
    runs: dict[str, TransportRun] = field(default_factory=dict)
    multicast: Exchange | None = None
    kept_alive: SessionProbe | None = None
    idle: SessionProbe | None = None
    session_wait: float = 0.0
    probes_skipped: str = ""
    """Why the session probes did not run, when they did not."""
    notes: list[str] = field(default_factory=list)

    def exchanges(self) -> list[Exchange]:
        """Every request of the run and its answer, in no particular order."""
        found = [self.options, self.unauthenticated, self.wrong_password, self.describe]
        found += [self.play_without_session, self.multicast]
        for run in self.runs.values():
            found += [run.describe, *(t.setup for t in run.tracks), run.play, *run.in_session]
            found += [run.pause, run.teardown]
        for probe in (self.kept_alive, self.idle):
            if probe is not None:
                found.append(probe.teardown)
        return [e for e in found if e is not None]


@dataclass(frozen=True)
class CameraSettings:
    target: Target
    context: ssl.SSLContext | None
    duration: float
    transports: tuple[str, ...] = TRANSPORTS
    session_wait: float = 20.0


def _tracks(sdp: SessionDescription, link: RtspLink) -> list[Track]:
    tracks = []
    for index, media in enumerate(sdp.media):
        control = media.control or ""
        url = link.connection.control_url(control) if control else link.connection.aggregate_url
        tracks.append(Track(index, media.media, control, url))
    return tracks


class CameraRun:
    """Runs the observation; :meth:`run` returns it."""

    def __init__(self, settings: CameraSettings, progress: Progress) -> None:
        self.settings = settings
        self.progress = progress
        self.observation = CameraObservation(settings.target, settings.duration)
        self.observation.session_wait = settings.session_wait

    def link(self, **changes: object) -> RtspLink:
        return RtspLink(self.settings.target, self.settings.context, **changes)  # type: ignore[arg-type]

    async def run(self) -> CameraObservation:
        """Raises :class:`LinkError` when the camera cannot be reached or described at all."""
        seen = self.observation
        target = self.settings.target
        self.progress(f"asking {target.url}")
        async with self.link() as link:
            seen.options = await link.request("OPTIONS", target.url, timeout=REQUEST_TIMEOUT)
            if target.username is not None:
                async with self.link(credentials=False) as anonymous:
                    seen.unauthenticated = await anonymous.request(
                        "DESCRIBE", target.url, SDP_ACCEPT
                    )
                async with self.link(password=target.password + "-wrong") as wrong:
                    seen.wrong_password = await wrong.request("DESCRIBE", target.url, SDP_ACCEPT)
            seen.describe = await link.request("DESCRIBE", target.url, SDP_ACCEPT)
            if seen.describe.status == 401 and target.username is not None:
                # The camera answers, and refuses the credentials: RTSP-AUTH-003 fails on
                # it, rather than the whole run ending as if the camera could not be reached.
                seen.credentials_refused = True
                return seen
            if seen.describe.status != 200 or seen.describe.answer is None:
                raise LinkError(f"DESCRIBE {target.url}: {seen.describe.describe()}")
            seen.sdp_text = seen.describe.answer.response.body.decode("utf-8", "replace")
            try:
                seen.sdp = SessionDescription.parse(seen.describe.answer.response.body)
            except SdpError as exc:
                seen.sdp_error = str(exc)  # RTSP-SDP-001 fails on it; nothing can be set up
                return seen
            seen.play_without_session = await link.request("PLAY", None, PLAY_RANGE)
            # This connection stays open while the sessions start: gst-rtsp-server unprepares a
            # shared media when its last client leaves and answers 503 to a DESCRIBE meanwhile.
            await self._sessions()
        return seen

    async def _sessions(self) -> None:
        seen = self.observation
        self.progress(f"observing {self.settings.target.url} for {self.settings.duration:g} s")
        sessions = [self._session(n) for n in self.settings.transports if n != MULTICAST]
        await asyncio.gather(*sessions)
        # Sessions that only SETUP and TEARDOWN come after the playing ones: a server that
        # shares one pipeline between its clients may stop it for all when one of them tears
        # down while another sets up.
        timeout = self._declared_timeout()
        if timeout is not None and timeout + PROBE_MARGIN <= self.settings.session_wait:
            self.progress(f"watching sessions past their {timeout:g} s timeout")
            await asyncio.gather(*self._session_probes())
        else:
            seen.probes_skipped = (
                f"session timeout {timeout if timeout is not None else '?'} s is longer than "
                f"--set session-wait={self.settings.session_wait:g} allows"
            )
        if MULTICAST in self.settings.transports:
            await self._multicast()

    def _declared_timeout(self) -> float | None:
        for run in self.observation.runs.values():
            for track in run.tracks:
                answer = track.setup.answer if track.setup is not None else None
                if answer is not None and answer.session is not None:
                    return float(answer.session.effective_timeout)
        return None

    async def _session(self, name: str) -> None:
        run = self.observation.runs[name] = TransportRun(name)
        pairs: list[UdpPair] = []
        try:
            async with self.link(tunnel=name == HTTP) as link:
                run.connected = True
                await self._play(run, link, pairs)
                if run.play is not None and run.play.status == 200:
                    await self._during(run, link, pairs)
                run.unexpected = len(link.unexpected)
        except LinkError as exc:
            run.error = str(exc)
        finally:
            for pair in pairs:
                pair.close()

    async def _play(self, run: TransportRun, link: RtspLink, pairs: list[UdpPair]) -> None:
        target = self.settings.target
        run.describe = await link.request("DESCRIBE", target.url, SDP_ACCEPT)
        if run.describe.status != 200 or run.describe.answer is None:
            run.error = f"DESCRIBE: {run.describe.describe()}"
            return
        try:
            sdp = SessionDescription.parse(run.describe.answer.response.body)
        except SdpError as exc:
            run.error = f"the SDP of DESCRIBE does not parse: {exc}"
            return
        run.tracks = _tracks(sdp, link)
        for track in run.tracks:
            if run.name == UDP:
                pair = await UdpPair.open(target.host)
                pairs.append(pair)
                spec = TransportSpec(delivery="unicast", client_port=pair.ports)
            else:
                channels = PortRange(2 * track.index, 2 * track.index + 1)
                spec = TransportSpec(
                    lower_transport="TCP", delivery="unicast", interleaved=channels
                )
            track.requested = spec
            track.setup = await link.request("SETUP", track.url, [("Transport", spec.serialize())])
            if track.setup.status != 200:
                run.error = f"SETUP: {track.setup.describe()}"
                return
        run.play_sent = time.monotonic()
        run.play = await link.request("PLAY", None, PLAY_RANGE)

    async def _during(self, run: TransportRun, link: RtspLink, pairs: list[UdpPair]) -> None:
        duration = self.settings.duration
        asking = asyncio.create_task(self._ask_in_session(run, link))
        keeping = asyncio.create_task(link.keep_alive())
        await asyncio.sleep(duration)
        keeping.cancel()
        run.ended = time.monotonic()
        run.pause = await link.request("PAUSE", timeout=REQUEST_TIMEOUT)
        paused = time.monotonic()
        await asyncio.sleep(PAUSE_WATCH)
        self._collect(run, link, pairs)
        settle = paused + PAUSE_SETTLE
        run.after_pause = sum(
            1 for track in run.tracks for arrival, _ in track.rtp if arrival > settle
        )
        for track in run.tracks:
            track.rtp = [(a, d) for a, d in track.rtp if a <= paused]
        await asyncio.wait_for(asking, KEEPALIVE_TIMEOUT * 3 + 1)
        run.teardown = await link.request("TEARDOWN", timeout=REQUEST_TIMEOUT)

    async def _ask_in_session(self, run: TransportRun, link: RtspLink) -> None:
        """The requests a client makes while playing: keepalives and a parameter."""
        await asyncio.sleep(min(1.0, self.settings.duration / 4))
        for method, headers, body in (
            ("GET_PARAMETER", (), b""),
            ("OPTIONS", (), b""),
            ("SET_PARAMETER", [("Content-Type", "text/parameters")], b"x-camsim-conform: 1\r\n"),
        ):
            run.in_session.append(
                await link.request(method, None, headers, body, timeout=KEEPALIVE_TIMEOUT)
            )

    def _collect(self, run: TransportRun, link: RtspLink, pairs: list[UdpPair]) -> None:
        if run.name == UDP:
            for track, pair in zip(run.tracks, pairs, strict=False):
                track.rtp = [(d.arrival, d.data) for d in pair.rtp]
                track.rtcp = [(d.arrival, d.data) for d in pair.rtcp]
                track.rtp_sources = {d.source for d in pair.rtp}
            return
        by_channel: dict[int, list[Frame]] = {}
        for frame in link.frames:
            by_channel.setdefault(frame.channel, []).append(frame)
        used: set[int] = set()
        for track in run.tracks:
            channels = _answered_channels(track)
            if channels is None:
                continue
            rtp_channel, rtcp_channel = channels
            used |= {rtp_channel, rtcp_channel}
            track.rtp = [(f.arrival, f.payload) for f in by_channel.get(rtp_channel, [])]
            track.rtcp = [(f.arrival, f.payload) for f in by_channel.get(rtcp_channel, [])]
        strays = {c: len(f) for c, f in by_channel.items() if c not in used}
        if run.tracks:
            run.tracks[0].stray_channels = strays

    async def _multicast(self) -> None:
        target = self.settings.target
        try:
            async with self.link() as link:
                describe = await link.request("DESCRIBE", target.url, SDP_ACCEPT)
                if describe.status != 200 or describe.answer is None:
                    self.observation.notes.append(f"multicast: {describe.describe()}")
                    return
                tracks = _tracks(SessionDescription.parse(describe.answer.response.body), link)
                if not tracks:
                    return
                spec = TransportSpec(delivery="multicast")
                self.observation.multicast = await link.request(
                    "SETUP", tracks[0].url, [("Transport", spec.serialize())]
                )
                if self.observation.multicast.status == 200:
                    await link.request("TEARDOWN")
        except (LinkError, SdpError) as exc:
            self.observation.notes.append(f"multicast SETUP not asked: {exc}")

    def _session_probes(self) -> list[Coroutine[object, object, None]]:
        seen = self.observation
        seen.kept_alive = SessionProbe(kept_alive=True)
        seen.idle = SessionProbe(kept_alive=False)
        return [self._probe(seen.kept_alive), self._probe(seen.idle)]

    async def _probe(self, probe: SessionProbe) -> None:
        """PLAY one track over UDP, then only receiver reports (or nothing) for longer than the
        session timeout; TEARDOWN says whether the session still exists. Skipped (``timeout``
        set, ``waited`` 0) when the timeout does not fit in ``session_wait``."""
        target = self.settings.target
        pair = await UdpPair.open(target.host)
        try:
            async with self.link() as link:
                describe = await link.request("DESCRIBE", target.url, SDP_ACCEPT)
                if describe.status != 200 or describe.answer is None:
                    probe.error = f"DESCRIBE: {describe.describe()}"
                    return
                track = _tracks(SessionDescription.parse(describe.answer.response.body), link)[0]
                spec = TransportSpec(delivery="unicast", client_port=pair.ports)
                setup = await link.request("SETUP", track.url, [("Transport", spec.serialize())])
                answer = setup.answer
                if setup.status != 200 or answer is None or answer.transport is None:
                    probe.error = f"SETUP: {setup.describe()}"
                    return
                probe.timeout = float(answer.session.effective_timeout) if answer.session else 60.0
                if probe.timeout + PROBE_MARGIN > self.settings.session_wait:
                    await link.request("TEARDOWN", timeout=REQUEST_TIMEOUT)
                    return
                server = answer.transport.first.server_port
                rtcp_port = (server.last or server.first + 1) if server is not None else 0
                started = time.monotonic()
                await link.request("PLAY", None, PLAY_RANGE)
                probe.waited = probe.timeout + PROBE_MARGIN
                deadline = started + probe.waited
                interval = max(1.0, min(5.0, probe.timeout / 3))
                while (now := time.monotonic()) < deadline:
                    if probe.kept_alive and rtcp_port:
                        pair.send_rtcp(_receiver_report(pair.rtp), (target.host, rtcp_port))
                        probe.reports_sent += 1
                    await asyncio.sleep(min(interval, deadline - now))
                if pair.rtp:
                    probe.last_rtp = pair.rtp[-1].arrival - started
                probe.teardown = await link.request("TEARDOWN", timeout=REQUEST_TIMEOUT)
        except (LinkError, SdpError) as exc:
            probe.error = str(exc)
        finally:
            pair.close()


def _receiver_report(received: list[Datagram]) -> bytes:
    blocks = []
    if received and len(received[-1].data) >= 12:
        data = received[-1].data
        ssrc = int.from_bytes(data[8:12], "big")
        highest = int.from_bytes(data[2:4], "big")
        blocks.append(ReportBlock(ssrc, 0, 0, highest, 0, 0, 0))
    report = RtcpReceiverReport(RECEIVER_SSRC, blocks)
    sdes = RtcpSdes([SdesChunk(RECEIVER_SSRC, [SdesItem(1, b"camsim-conform")])])
    return serialize_compound([report, sdes])


def _answered_channels(track: Track) -> tuple[int, int] | None:
    answer = track.setup.answer if track.setup is not None else None
    if answer is None or answer.transport is None:
        return None
    channels = answer.transport.first.interleaved
    if channels is None:
        return None
    return channels.first, channels.last if channels.last is not None else channels.first + 1
