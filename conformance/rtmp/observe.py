"""Every scenario of the rtmp-ingest suite, run at once against one target.

Probes that publish nothing (handshakes, the connect answers, a ping, TLS facts) and the
streams the suite publishes start together, each on its own connection and stream name
(``camsim-<token>-<role>``), so a server's fault in one shows in that scenario only:

- ``main``: camsim's encoder for the observed duration; its HLS judges the end-to-end cases.
- ``chunk128``, ``chunk65536``: camsim's encoder with those chunk sizes; ``chunkchange``: a
  probe that changes its chunk size between frames.
- ``ts24``: camsim's encoder from 3 s before 2^24 ms, across the extended timestamp boundary.
- ``hevc``: camsim's encoder with Enhanced RTMP ``hvc1``.
- ``meta``: a probe sending metadata in every form encoders use, mid-stream too.
- ``ack``: a probe that announces a small window and pushes faster than real time.
- ``dup``: camsim's encoder, then a probe publishing the same name.
- ``repub``: a probe publishing, unpublishing, then publishing the name again from 0 ms.
- with ``--key``, last (servers slow down whoever guesses keys): a wrong key and no key.

Every wait is bounded; the run takes about the main stream's duration plus the HLS tail.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp

from camsim.encoder.flv_source import FlvPlan
from camsim.encoder.pacer import Pacer
from camsim.encoder.publisher import StreamPublisher
from camsim.encoder.session import PublishOptions
from camsim.encoder.stats import StreamState
from camsim.encoder.target import PushTarget
from conformance.rtmp.follower import FollowedStream, HlsFollower
from conformance.rtmp.observation import AckRecord, IngestObservation, PushedStream
from conformance.rtmp.probe import (
    CSID_CONTROL,
    Endpoint,
    HandshakeStyle,
    ProbeError,
    ProbeLog,
    RtmpProbe,
)
from conformance.rtmp.publishing import (
    FFMPEG,
    SEQUENCES,
    EncoderStyle,
    PublishOutcome,
    connect,
    connect_object,
    encoder_frames,
    gop_seconds,
    publish,
    publish_after_connect,
    pump,
    unpublish,
)
from conformance.rtmp.tls import tls_facts
from conformance.session import TargetUnreachable
from wire import amf0
from wire.rtmp.messages import DataMessage, MessageType, UserControl, WindowAckSize

EXTENDED_START = (1 << 24) - 3000
"""The ts24 stream starts 3 s before the 24-bit timestamp field runs out (RTMP 1.0 §5.3.1.3)."""
CLIENT_WINDOW = 256 * 1024
"""The window the ack probe announces: small, so that acknowledgements come often."""
MAX_ACK_PUSH = 16 * 1024 * 1024
PING_TIMESTAMP = 0x00C0FFEE
REPUBLISH_OFFSET = 1_000_000
"""Frame indexes of the second publish of ``repub`` start here, to tell the two apart."""
PUBLISH_WAIT = 15.0
HOLD = 0.5
"""Seconds the handshake probe holds C1, then C2, back."""


@dataclass(frozen=True)
class IngestSettings:
    endpoint: Endpoint
    plan: FlvPlan
    hevc_plan: FlvPlan | None
    hevc_note: str = ""
    hls: str | None = None
    key: str | None = None
    key_param: str = "key"
    ca_note: str = ""
    main_seconds: float = 20.0
    ca: Any = None


class IngestRun:
    """One run of every scenario; :meth:`run` gives the :class:`IngestObservation`."""

    def __init__(self, settings: IngestSettings, status: Callable[[str], None]) -> None:
        self.settings = settings
        self.endpoint = settings.endpoint
        self.status = status
        self.prefix = f"camsim-{secrets.token_hex(3)}"
        self.observation = IngestObservation(settings.endpoint.url, settings.hls, settings.key)
        gop = gop_seconds(settings.plan)
        self.stream_seconds = max(6.0, 3 * gop + 1)
        self.main_seconds = settings.main_seconds
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rtmp-ingest-hls")
        self.pacer: Pacer | None = None
        self.publishes: list[asyncio.Event] = []
        self.started = 0.0

    # -- names ------------------------------------------------------------------------------------

    def name(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def publish_name(self, name: str, key: str | None = None) -> str:
        key = self.settings.key if key is None else key
        return f"{name}?{self.settings.key_param}={key}" if key else name

    def hls_url(self, name: str) -> str | None:
        template = self.settings.hls
        return template.replace("{name}", name) if template else None

    # -- the run ----------------------------------------------------------------------------------

    async def run(self) -> IngestObservation:
        await self._reachable()
        self.started = time.monotonic()
        self.pacer = Pacer(asyncio.get_running_loop())
        observation = self.observation
        ticker = asyncio.create_task(self._tick())
        try:
            scenarios: list[Coroutine[Any, Any, None]] = [
                self._handshakes(),
                self._sequences(),
                self._ping(),
                self._ack(),
                self._encoder_stream("main", "camsim's encoder", seconds=self.main_seconds),
                self._encoder_stream("chunk128", "camsim's encoder, chunk size 128", chunk=128),
                self._encoder_stream(
                    "chunk65536", "camsim's encoder, chunk size 65536", chunk=65536
                ),
                self._chunk_change(),
                self._encoder_stream(
                    "ts24",
                    f"camsim's encoder from timestamp {EXTENDED_START} ms",
                    start_timestamp=EXTENDED_START,
                ),
                self._hevc(),
                self._meta(),
                self._duplicate(),
                self._republish(),
            ]
            if self.endpoint.tls:
                scenarios.append(self._tls())
            await asyncio.gather(*scenarios)
            if self.settings.key:
                await self._keys()
        finally:
            ticker.cancel()
            self.pacer.close()
            self.executor.shutdown(wait=False, cancel_futures=True)
        return observation

    async def _tick(self) -> None:
        while True:
            elapsed = time.monotonic() - self.started
            live = sum(1 for s in self.observation.streams.values() if s.stopped_at == 0)
            self.status(f"rtmp-ingest: {elapsed:4.1f} s, {live} streams publishing")
            await asyncio.sleep(1.0)

    async def _reachable(self) -> None:
        """Exit 2 material: nothing listens at the target, TLS fails, or no HTTP server at
        ``--hls``."""
        try:
            async with RtmpProbe(self.endpoint, "reachability") as probe:
                record = await probe.handshake(HandshakeStyle.COMPLEX)
        except ProbeError as exc:
            raise TargetUnreachable(str(exc)) from None
        if record.s0 is None:
            raise TargetUnreachable(f"{self.endpoint.url}: {record.error}")
        url = self.hls_url(self.name("main"))
        if url is None:
            return
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
                session.get(url) as response,
            ):
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TargetUnreachable(f"--hls {url}: {exc or type(exc).__name__}") from None

    def _answered(self) -> asyncio.Event:
        event = asyncio.Event()
        self.publishes.append(event)
        return event

    # -- probes without media ---------------------------------------------------------------------

    async def _probe(self, label: str, body: Callable[[RtmpProbe], Any]) -> ProbeLog:
        probe = RtmpProbe(self.endpoint, label)
        try:
            await probe.open()
        except ProbeError as exc:
            probe.log.error = str(exc)
            return probe.log
        try:
            await body(probe)
        finally:
            await probe.close()
        return probe.log

    async def _handshakes(self) -> None:
        async def simple(probe: RtmpProbe) -> None:
            await connect(probe, handshake=HandshakeStyle.SIMPLE)

        async def held(probe: RtmpProbe) -> None:
            await probe.handshake(HandshakeStyle.SIMPLE, hold_c1=HOLD, hold_c2=HOLD)
            await _connect_after_handshake(probe)

        async def complex_(probe: RtmpProbe) -> None:
            await connect(probe, handshake=HandshakeStyle.COMPLEX)

        logs = await asyncio.gather(
            self._probe("simple handshake", simple),
            self._probe("handshake held at C1 and C2", held),
            self._probe("complex handshake", complex_),
        )
        for key, log in zip(("simple", "held", "complex"), logs, strict=True):
            self.observation.handshakes[key] = log

    async def _sequences(self) -> None:
        async def run(key: str, style: EncoderStyle) -> None:
            name = self.name(key)
            answered = self._answered()

            async def body(probe: RtmpProbe) -> None:
                outcome = await publish(probe, self.publish_name(name), style)
                answered.set()
                if outcome.started and outcome.stream_id is not None:
                    await unpublish(probe, self.publish_name(name), outcome.stream_id)

            try:
                self.observation.sequences[key] = await self._probe(f"{style.name} sequence", body)
            finally:
                answered.set()

        await asyncio.gather(*(run(key, style) for key, style in SEQUENCES.items()))

    async def _ping(self) -> None:
        async def body(probe: RtmpProbe) -> None:
            answer = await connect(probe)
            if answer is None:
                return
            probe.step(f"PingRequest {PING_TIMESTAMP}")
            probe.send(CSID_CONTROL, UserControl.ping_request(PING_TIMESTAMP))
            await probe.drain()
            await probe.wait_for(lambda r: _is_ping_response(r.message.payload, r.type_id), 5.0)

        self.observation.ping = await self._probe("ping", body)

    async def _tls(self) -> None:
        self.observation.tls = await tls_facts(
            self.endpoint.host, self.endpoint.port, ca=self.settings.ca
        )

    # -- the acknowledgement window ---------------------------------------------------------------

    async def _ack(self) -> None:
        name = self.name("ack")
        answered = self._answered()
        probe = RtmpProbe(self.endpoint, "acknowledgement window")
        record = AckRecord(probe.log, CLIENT_WINDOW)
        self.observation.ack = record
        try:
            await probe.open()
        except ProbeError as exc:
            probe.log.error = str(exc)
            answered.set()
            return
        try:
            # The window goes out before connect, so that it is in force from the start; the
            # Set Peer Bandwidth answer of the server is then not needed (§5.4.5).
            await probe.handshake(HandshakeStyle.COMPLEX)
            probe.set_chunk_size(4096)
            probe.step(f"Window Acknowledgement Size {CLIENT_WINDOW}")
            probe.send(CSID_CONTROL, WindowAckSize(CLIENT_WINDOW))
            outcome = await _publish_connected(probe, self.publish_name(name), FFMPEG)
            answered.set()
            windows = probe.log.of_type(MessageType.WINDOW_ACK_SIZE)
            if windows:
                record.server_window = WindowAckSize.parse(windows[-1].message.payload).size
            if not outcome.started or outcome.stream_id is None:
                return
            record.published = True
            larger = max(record.server_window or 0, CLIENT_WINDOW)
            budget = min(2 * larger + 256 * 1024, MAX_ACK_PUSH)
            await pump(
                probe,
                outcome.stream_id,
                self.settings.plan,
                budget=budget,
                realtime=False,
                marks=record.sent_marks,
            )
            record.pushed = probe.log.bytes_sent
            await asyncio.sleep(2.0)  # the last window's acknowledgement
            await unpublish(probe, self.publish_name(name), outcome.stream_id)
        finally:
            answered.set()
            await probe.close()
        for received in probe.log.of_type(MessageType.ACKNOWLEDGEMENT):
            if len(received.message.payload) >= 4:
                sequence = int.from_bytes(received.message.payload[:4], "big")
                record.acks.append((received.at, sequence))

    # -- streams camsim's encoder publishes --------------------------------------------------------

    def _follower(self, name: str) -> HlsFollower | None:
        url = self.hls_url(name)
        if url is None:
            return None
        return HlsFollower(url, self.executor, max_duration=self.main_seconds + 120)

    async def _encoder_stream(
        self,
        role: str,
        how: str,
        *,
        seconds: float | None = None,
        chunk: int = 4096,
        start_timestamp: int = 0,
        plan: FlvPlan | None = None,
        published: asyncio.Event | None = None,
    ) -> None:
        plan = plan or self.settings.plan
        seconds = seconds or self.stream_seconds
        name = self.name(role)
        stream = PushedStream(role, name, how, started_at=time.monotonic())
        self.observation.streams[role] = stream
        answered = self._answered()
        target = PushTarget.parse(self.endpoint.publish_url(self.publish_name(name)))
        options = PublishOptions(
            chunk_size=chunk,
            start_timestamp=start_timestamp,
            ssl_context=self.endpoint.ssl_context,
        )
        assert self.pacer is not None
        publisher = StreamPublisher(1, target, plan, self.pacer, options)
        follower = self._follower(name)
        stop = asyncio.Event()
        following = asyncio.create_task(follower.run(stop)) if follower is not None else None
        task = asyncio.create_task(publisher.run())
        stats = publisher.stats
        deadline = time.monotonic() + PUBLISH_WAIT
        while stats.state is not StreamState.PUBLISHING and not task.done():
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        answered.set()
        if stats.state is StreamState.PUBLISHING:
            stream.published = True
            if published is not None:
                published.set()
            await asyncio.wait([task], timeout=seconds)
        publisher.stop()
        try:
            async with asyncio.timeout(15):
                await task
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        stream.stopped_at = time.monotonic()
        if stats.status_code:
            stream.refusal = f"{stats.status_code}: {stats.status_description or ''}".strip(": ")
        elif stats.state is StreamState.FAILED and stats.error:
            stream.error = stats.error
        stream.frames = encoder_frames(plan, start_timestamp, stats.video_frames)
        stream.hls = await self._end_follow(follower, following, stop, stream)

    async def _end_follow(
        self,
        follower: HlsFollower | None,
        following: asyncio.Task[FollowedStream] | None,
        stop: asyncio.Event,
        stream: PushedStream,
        wanted: int | None = None,
    ) -> FollowedStream | None:
        if follower is None or following is None:
            return None
        if wanted is None:
            complete = stream.complete_gops() if stream.role != "main" else stream.frames
            stamped = [f.index for f in complete if f.index >= 0]
            wanted = max(stamped) if stamped else None
        follower.wanted_index = wanted
        target = follower.stream.target_duration or 2
        follower.tail = max(8.0, 4.0 * target)
        follower.min_tail = 2.0 * target if stream.role == "main" else 0.0
        stop.set()
        follower_tail = follower.tail
        try:
            async with asyncio.timeout(follower_tail + 30):
                return await following
        except TimeoutError:
            following.cancel()
            return follower.stream

    async def _hevc(self) -> None:
        plan = self.settings.hevc_plan
        if plan is None:
            self.observation.notes.append(f"no HEVC stream: {self.settings.hevc_note}")
            return
        await self._encoder_stream("hevc", "camsim's encoder, Enhanced RTMP hvc1", plan=plan)

    async def _duplicate(self) -> None:
        first_published = asyncio.Event()
        first = asyncio.create_task(
            self._encoder_stream(
                "dup",
                "camsim's encoder (the first publisher)",
                seconds=self.stream_seconds + 4,
                published=first_published,
            )
        )
        answered = self._answered()
        try:
            async with asyncio.timeout(PUBLISH_WAIT):
                await first_published.wait()
        except TimeoutError:
            answered.set()
            await first
            return
        await asyncio.sleep(1.0)
        name = self.publish_name(self.name("dup"))

        async def body(probe: RtmpProbe) -> None:
            outcome = await publish(probe, name)
            answered.set()
            if outcome.started and outcome.stream_id is not None:
                await asyncio.sleep(1.0)
                await unpublish(probe, name, outcome.stream_id)
            else:
                await probe.wait_closed(3.0)

        try:
            self.observation.second_publisher = await self._probe("second publisher", body)
        finally:
            answered.set()
        await first

    # -- streams a probe publishes ----------------------------------------------------------------

    async def _probe_stream(
        self,
        role: str,
        how: str,
        *,
        actions: Callable[[RtmpProbe, int], list[tuple[float, Callable[[], None]]]] | None = None,
        index_offset: int = 0,
        answered: asyncio.Event | None = None,
    ) -> PushedStream:
        name = self.name(role)
        stream = PushedStream(role, name, how, started_at=time.monotonic())
        answered = answered or self._answered()
        probe = RtmpProbe(self.endpoint, how)
        stream.log = probe.log
        try:
            await probe.open()
        except ProbeError as exc:
            stream.error = str(exc)
            answered.set()
            return stream
        try:
            outcome = await publish(probe, self.publish_name(name))
            answered.set()
            stream.refusal = outcome.refusal()
            if not outcome.started or outcome.stream_id is None:
                stream.error = outcome.failure
                return stream
            stream.published = True
            planned = actions(probe, outcome.stream_id) if actions is not None else []
            stream.frames = await pump(
                probe,
                outcome.stream_id,
                self.settings.plan,
                seconds=self.stream_seconds,
                index_offset=index_offset,
                actions=planned,
            )
            if probe.closed or probe.log.error:
                stream.error = probe.log.error or "the server closed the connection mid-stream"
            else:
                await unpublish(probe, self.publish_name(name), outcome.stream_id)
        finally:
            answered.set()
            stream.stopped_at = time.monotonic()
            await probe.close()
        return stream

    async def _followed(self, role: str, run: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        follower = self._follower(self.name(role))
        stop = asyncio.Event()
        following = asyncio.create_task(follower.run(stop)) if follower is not None else None
        stream = await run()
        self.observation.streams[role] = stream
        stream.hls = await self._end_follow(follower, following, stop, stream)

    async def _chunk_change(self) -> None:
        def actions(probe: RtmpProbe, _: int) -> list[tuple[float, Callable[[], None]]]:
            share = self.stream_seconds / 5
            sizes = (128, 32768, 1400, 4096)
            return [
                (share * (n + 1), partial(probe.set_chunk_size, size))
                for n, size in enumerate(sizes)
            ]

        await self._followed(
            "chunkchange",
            lambda: self._probe_stream(
                "chunkchange", "a probe changing its chunk size mid-stream", actions=actions
            ),
        )

    async def _meta(self) -> None:
        def actions(probe: RtmpProbe, stream_id: int) -> list[tuple[float, Callable[[], None]]]:
            plan = self.settings.plan
            bare = DataMessage("onMetaData", [amf0.EcmaArray(plan.metadata)])
            updated = dict(plan.metadata) | {"camsimUpdate": 1.0}
            again = DataMessage("@setDataFrame", ["onMetaData", amf0.EcmaArray(updated)])
            text = DataMessage("onTextData", [{"type": "Text", "text": "camsim"}])
            cue = DataMessage(
                "onCuePoint", [{"name": "camsim", "time": 1.0, "type": "event", "parameters": {}}]
            )

            def send(message: DataMessage, what: str) -> Callable[[], None]:
                def act() -> None:
                    probe.step(what)
                    probe.send(8, message, stream_id=stream_id)

                return act

            share = self.stream_seconds / 5
            return [
                (share, send(bare, "onMetaData without @setDataFrame")),
                (2 * share, send(again, "@setDataFrame onMetaData again, changed")),
                (3 * share, send(text, "onTextData")),
                (4 * share, send(cue, "onCuePoint")),
            ]

        await self._followed(
            "meta",
            lambda: self._probe_stream(
                "meta", "a probe sending metadata in every form", actions=actions
            ),
        )

    async def _republish(self) -> None:
        role = "repub"
        follower = self._follower(self.name(role))
        stop = asyncio.Event()
        following = asyncio.create_task(follower.run(stop)) if follower is not None else None
        first = await self._probe_stream(role, "a probe (first publish)")
        self.observation.streams[role] = first
        second: PushedStream | None = None
        if first.published and not first.error:
            await asyncio.sleep(1.0)
            second = await self._probe_stream(
                role, "a probe (republish after unpublish)", index_offset=REPUBLISH_OFFSET
            )
            self.observation.republish = second
        last = second if second is not None and second.published else first
        hls = await self._end_follow(follower, following, stop, last)
        first.hls = hls
        if second is not None:
            second.hls = hls

    # -- stream keys ------------------------------------------------------------------------------

    async def _keys(self) -> None:
        """A wrong key, then none, once every other publish has been answered: a server may
        hold up, or refuse, the next publish from an address that got a key wrong."""
        try:
            async with asyncio.timeout(60):
                for event in self.publishes:
                    await event.wait()
        except TimeoutError:
            self.observation.notes.append("some publishes were never answered")
        name = self.name("key")
        assert self.settings.key is not None
        for label, key in (("wrong key", self.settings.key + "-wrong"), ("no key", "")):
            publish_name = f"{name}?{self.settings.key_param}={key}" if key else name

            async def body(probe: RtmpProbe, publish_name: str = publish_name) -> None:
                outcome = await publish(probe, publish_name, status_timeout=25.0)
                if outcome.started and outcome.stream_id is not None:
                    await unpublish(probe, publish_name, outcome.stream_id)
                else:
                    await probe.wait_closed(3.0)

            self.observation.keys[label] = await self._probe(label, body)
            await asyncio.sleep(2.5)


async def _connect_after_handshake(probe: RtmpProbe) -> None:
    probe.set_chunk_size(4096)
    transaction = probe.call("connect", command_object=connect_object(probe))
    await probe.drain()
    await probe.answer(transaction)


async def _publish_connected(probe: RtmpProbe, name: str, style: EncoderStyle) -> PublishOutcome:
    """connect (after a handshake already made), then the publish sequence."""
    transaction = probe.call("connect", command_object=connect_object(probe, style))
    await probe.drain()
    answer = await probe.answer(transaction)
    if answer is None or answer.command is None or answer.command.name != "_result":
        return PublishOutcome(failure="connect not accepted")
    return await publish_after_connect(probe, name, style)


def _is_ping_response(payload: bytes, type_id: int) -> bool:
    if type_id != MessageType.USER_CONTROL or len(payload) < 6:
        return False
    return int.from_bytes(payload[:2], "big") == 7


def endpoint_context(tls: bool, ca: Any, insecure: bool) -> ssl.SSLContext | None:
    """The TLS context every connection of the run uses."""
    if not tls:
        return None
    context = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
