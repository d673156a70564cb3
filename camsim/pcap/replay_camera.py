"""``camsim pcap replay --as camera``: the camera of a capture, live again on a local port.

The RTP a captured camera sent becomes a :class:`~camsim.camera.plan.PacketPlan`: its packets
exactly as captured (payload, marker, payload type, padding, extensions), grouped by timestamp,
each group due when it arrived in the capture. A :class:`ReplayCamera` (a camsim camera) serves
it with the captured SDP, over UDP, TCP or an HTTP tunnel, to any number of clients, each with
its own sequence numbers, SSRC and timestamp origin; looping continues the timestamps.

The SDP is the captured one, with only what must change rewritten: every ``a=control`` becomes
``trackID=N`` (the camera's own names for its tracks) and the origin line names this host. With
``dialog="verbatim"`` every answer is the captured one for the same method (status, headers,
quirks and all) with only CSeq, Session, the ports and channels of Transport, RTP-Info and the
base URL rewritten, since those must match this server and this session.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import numpy.typing as npt

from camsim.camera.control import ServerSettings
from camsim.camera.device import Camera, track_control
from camsim.camera.plan import Burst, PacketPlan, PlannedPacket, TrackPlan
from camsim.camera.quirks.base import QuirkProfile, Quirks
from camsim.camera.scheduler import PacingStats, Scheduler
from camsim.camera.server import CameraServer
from camsim.camera.udp import UdpMedia
from camsim.media.loader import MediaKind, MediaSample
from camsim.pcap.capture import CaptureFile
from camsim.pcap.inspect import Inspector, InspectResult
from camsim.pcap.media import summarize_payload
from camsim.pcap.rtp import META_DTYPE, RECORD_DTYPE, RtpRecorder, RtpStreamReport
from camsim.pcap.rtpstats import extend
from camsim.pcap.rtsp import RtspDialog, RtspExchange
from wire.codec.stamp import find_stamp
from wire.rtp import RTP_HEADER_SIZE, ntp_from_unix
from wire.rtsp import Headers, Request, Response, TransportSpec
from wire.sdp import Attribute, SessionDescription

DIALOGS = ("camsim", "verbatim")
END_OF_CAPTURE = b"end of the capture"
BYE_DELAY = 0.5


class ReplayError(ValueError):
    """The capture holds nothing this replay can serve or send."""


@dataclass
class CapturedCamera:
    """What a capture says a camera served: its SDP, its streams, its dialog."""

    dialog: RtspDialog
    sdp: SessionDescription
    plan: PacketPlan
    streams: list[RtpStreamReport]

    @property
    def exchanges(self) -> list[RtspExchange]:
        return self.dialog.exchanges


def load_camera(
    path: str | Path, *, dialog_index: int | None = None, speed: float = 1.0
) -> CapturedCamera:
    """Read ``path`` and build the plan of the camera of one of its RTSP dialogs."""
    if speed <= 0:
        raise ReplayError(f"speed {speed} must be positive")
    with CaptureFile.open(path) as capture:
        inspector = Inspector(keep_packets=True)
        inspector.read(capture)
        result = inspector.result(capture)
    dialog = _choose_dialog(result, dialog_index)
    assert dialog.sdp is not None
    recorders = [flow.rtp for flow in inspector.udp.values() if flow.rtp is not None]
    recorders += list(dialog.rtp.values())
    tracks: list[tuple[int, RtpStreamReport, RtpRecorder]] = []
    for index in range(len(dialog.sdp.media)):
        stream = _stream_of(result, dialog, index)
        if stream is None:
            continue
        recorder = next(r for r in recorders if r.flow == stream.flow)
        tracks.append((index, stream, recorder))
    if not tracks:
        raise ReplayError(f"{path}: dialog {dialog.index} has no RTP stream in the capture")
    sdp = _served_sdp(dialog.sdp, [index for index, _, _ in tracks])
    plan = _plan([(s, r) for _, s, r in tracks], speed)
    return CapturedCamera(dialog, sdp, plan, [s for _, s, _ in tracks])


def _choose_dialog(result: InspectResult, index: int | None) -> RtspDialog:
    candidates = [d for d in result.dialogs if d.sdp is not None and d.bindings]
    if index is not None:
        chosen = [d for d in candidates if d.index == index]
        if not chosen:
            raise ReplayError(f"dialog {index} has no SDP and SETUP to replay")
        return chosen[0]
    with_media = [
        d
        for d in candidates
        if any(s.setup and s.setup.startswith(f"dialog {d.index} ") for s in result.rtp_streams)
    ]
    if not with_media:
        raise ReplayError(
            f"{result.path}: no RTSP dialog with a DESCRIBE answer, a SETUP and its RTP; "
            "replay --as camera needs all three"
        )
    return with_media[0]


def _stream_of(
    result: InspectResult, dialog: RtspDialog, media_index: int
) -> RtpStreamReport | None:
    """The busiest RTP stream set up for the dialog's ``media_index``-th m= section."""
    sdp = dialog.sdp
    assert sdp is not None
    media = sdp.media[media_index]
    urls = [b for b in dialog.bindings if b.media is not None and b.media.control == media.control]
    if not urls and len(sdp.media) == 1:
        urls = list(dialog.bindings)
    described = {b.describe() for b in urls}
    streams = [s for s in result.rtp_streams if s.setup in described]
    return max(streams, key=lambda s: s.packets, default=None)


def _served_sdp(captured: SessionDescription, kept: list[int]) -> SessionDescription:
    """The captured description with its media renamed trackID=0.. (kept ones only)."""
    sdp = SessionDescription.parse(captured.serialize())
    sdp.media = [sdp.media[i] for i in kept]
    for track, media in enumerate(sdp.media):
        others = [a for a in media.attributes if a.name != "control"]
        media.attributes = [*others, Attribute("control", track_control(track))]
    sdp.attributes = [a for a in sdp.attributes if a.name != "control"] + [
        Attribute("control", "*")
    ]
    return sdp


def _plan(tracks: list[tuple[RtpStreamReport, RtpRecorder]], speed: float) -> PacketPlan:
    """Bursts of captured packets (one timestamp each), due as they arrived, all tracks."""
    per_track = []
    for stream, recorder in tracks:
        assert recorder.kept is not None
        records = np.frombuffer(recorder.records, dtype=RECORD_DTYPE)
        meta = np.frombuffer(recorder.meta, dtype=META_DTYPE)
        indexes = np.nonzero(records["ssrc"] == stream.ssrc)[0]
        extended = extend(records["seq"][indexes])
        order = np.argsort(extended, kind="stable")
        keep = np.concatenate(([True], np.diff(extended[order]) != 0))
        per_track.append((stream, recorder, indexes[order[keep]], records, meta))
    origin = min(float(meta["time"][chosen[0]]) for _, _, chosen, _, meta in per_track)
    plans: list[TrackPlan] = []
    bursts: list[Burst] = []
    period = 0.0
    for track, (stream, recorder, chosen, records, meta) in enumerate(per_track):
        media = stream.media
        clock = media.clock_rate
        assert recorder.kept is not None
        groups: dict[int, list[int]] = defaultdict(list)
        timeline: list[int] = []
        first_ts = int(extend_timestamps(records["ts"][chosen])[0])
        ticks_of = extend_timestamps(records["ts"][chosen]) - first_ts
        lead = round((float(meta["time"][chosen[0]]) - origin) * clock)
        for position, index in enumerate(chosen.tolist()):
            ticks = int(ticks_of[position]) + lead
            if ticks not in groups:
                timeline.append(ticks)
            groups[ticks].append(index)
        steps = np.diff(np.array(timeline)) if len(timeline) > 1 else np.array([clock // 25])
        frame = int(np.median(steps[steps > 0])) if np.any(steps > 0) else clock // 25
        period = max(period, (timeline[-1] + frame) / clock)
        kind = MediaKind.VIDEO if media.media == "video" else MediaKind.AUDIO
        plans.append(
            TrackPlan(kind, clock, media.payload_type or int(records["b1"][chosen[0]] & 0x7F), 0)
        )
        codec = media.video_codec
        for ticks in timeline:
            members = groups[ticks]
            packets = tuple(_planned(recorder.kept[i]) for i in members)
            arrival = float(meta["time"][members[0]]) - origin
            keyframe = codec is not None and any(
                summarize_payload(
                    codec, bytes(records["head"][i]), recorder.kept[i][RTP_HEADER_SIZE:]
                ).keyframe
                for i in members
            )
            bursts.append(Burst.of(arrival / speed, track, ticks, keyframe, packets))
    plans = [replace(p, period_ticks=round(period * p.clock_rate)) for p in plans]
    bursts.sort(key=lambda b: (b.offset, plans[b.track].kind is MediaKind.AUDIO))
    seconds = max(period, bursts[-1].offset * speed + 1e-3) / speed
    return PacketPlan(tuple(plans), tuple(bursts), Fraction(seconds).limit_denominator(1_000_000))


def extend_timestamps(timestamps: npt.NDArray[np.uint32]) -> npt.NDArray[np.int64]:
    """RTP timestamps as a continuous count: each step taken as the shortest way round."""
    values = timestamps.astype(np.int64)
    steps = (np.diff(values) + 0x80000000) % 0x100000000 - 0x80000000
    return np.concatenate(([values[0]], values[0] + np.cumsum(steps)))


def _planned(packet: bytes) -> PlannedPacket:
    stamp = find_stamp(packet[RTP_HEADER_SIZE:])
    return PlannedPacket(packet, stamp + RTP_HEADER_SIZE if stamp >= 0 else -1)


class ReplayCamera(Camera):
    """A camsim camera that serves a captured SDP and, when idle, starts its plan over."""

    def __init__(self, captured: CapturedCamera, *, loop_media: bool, **options: object) -> None:
        sample = MediaSample(path=Path("capture"), video=None, audio=None, units=())
        super().__init__("replay", "/cam1", sample, captured.plan, **options)  # type: ignore[arg-type]
        self.captured = captured
        self.loop_media = loop_media
        self.finished = False
        self._bye_ticks: int | None = None

    def session_description(self, address: str) -> bytes:
        sdp = SessionDescription.parse(self.captured.sdp.serialize())
        sdp.origin.address = address
        return sdp.serialize().encode()

    def subscribe(self, senders, now):  # type: ignore[no-untyped-def]
        if not any(self._subscribers) and not self._scheduled:
            # Nobody watches: the next viewer gets the capture from its first keyframe.
            self.origin = (
                now
                - self.plan.bursts[
                    self.plan.first_of_track(0, self._lead_track(), True) % len(self.plan.bursts)
                ].offset
            )
            self.finished = False
        return super().subscribe(senders, now)

    def _lead_track(self) -> int:
        video = self.plan.video_track
        return 0 if video is None else video

    def run(self, due: float) -> float | None:
        if self._bye_ticks is not None:
            # The capture is over: say so (RTCP BYE), as a camera whose source ends does,
            # a little after the last packets so that no receiver reads it before them.
            ntp = ntp_from_unix(time.time())
            for senders in self._subscribers:
                for sender in senders:
                    sender.send_bye(ntp, sender.timestamp(self._bye_ticks), END_OF_CAPTURE)
            self._bye_ticks = None
            self.finished = True
            self._scheduled = False
            self._subscribers = [[] for _ in self.plan.tracks]
            return None
        last = self._index == len(self.plan.bursts) - 1
        ticks = self._ticks(self._loop_number, self._index)
        following = super().run(due)
        if last and not self.loop_media and following is not None:
            self._bye_ticks = ticks
            return due + BYE_DELAY
        return following


class VerbatimDialog(QuirkProfile):
    """Answers with the captured responses, rewriting only what must match this server."""

    name = "verbatim-dialog"
    summary = "every answer is the captured one for the same method"
    devices = "the camera of the capture"
    client_must = "cope with whatever that camera said"

    def __init__(self, exchanges: list[RtspExchange]) -> None:
        self.answers: dict[str, list[Response]] = defaultdict(list)
        for exchange in exchanges:
            if exchange.response is not None:
                self.answers[exchange.method.upper()].append(exchange.response)
        self.used: dict[str, int] = defaultdict(int)

    def edit_response(self, request: Request, response: Response) -> Response | None:
        answers = self.answers.get(request.method.upper())
        if not answers:
            return response
        position = self.used[request.method.upper()]
        self.used[request.method.upper()] += 1
        captured = answers[min(position, len(answers) - 1)]
        return rewrite(captured, response)


def rewrite(captured: Response, ours: Response) -> Response:
    """The captured answer with CSeq, Session, Transport ports, RTP-Info and URLs of ours."""
    headers = Headers()
    for name, value in captured.headers:
        lowered = name.lower()
        if lowered in (
            "cseq",
            "content-length",
            "session",
            "rtp-info",
            "content-base",
            "content-location",
        ):
            continue
        if lowered == "transport":
            value = _transport(value, ours.headers.get("Transport"))
        headers.add(name, value)
    for name in ("Session", "RTP-Info", "Content-Base", "Content-Location"):
        mine = ours.headers.get(name)
        if mine is not None and (captured.headers.get(name) is not None or name == "Session"):
            headers.add(name, mine)
    if ours.headers.get("Session") is not None and headers.get("Session") is None:
        headers.add("Session", ours.headers["Session"])
    body = ours.body if captured.body and ours.body and ours.ok else captured.body
    return Response(captured.status_code, captured.reason, headers, body)


def _transport(captured: str, ours: str | None) -> str:
    """The captured Transport answer with this server's ports, channels and SSRC."""
    if ours is None:
        return captured
    try:
        theirs, mine = TransportSpec.parse(captured.split(",")[0]), TransportSpec.parse(ours)
    except ValueError:
        return ours
    if theirs.is_tcp != mine.is_tcp:
        return ours  # the client chose another transport than the captured one
    merged = replace(
        theirs,
        client_port=mine.client_port,
        server_port=mine.server_port,
        interleaved=mine.interleaved,
        ssrc=mine.ssrc,
        destination=None if theirs.destination is None else mine.destination,
        source=None if theirs.source is None else mine.source,
    )
    return merged.serialize()


@dataclass
class CameraReplay:
    """A running replay camera server."""

    server: CameraServer
    camera: ReplayCamera
    udp: UdpMedia
    scheduler: Scheduler

    @property
    def url(self) -> str:
        return self.server.url(self.camera)

    async def close(self) -> None:
        await self.server.close()
        self.scheduler.close()
        self.udp.close()


async def start_camera(
    captured: CapturedCamera,
    *,
    host: str = "127.0.0.1",
    port: int = 8554,
    loop_media: bool = False,
    dialog: str = "camsim",
) -> CameraReplay:
    """Serve ``captured`` at ``rtsp://host:port/cam1``; port 0 picks a free one."""
    if dialog not in DIALOGS:
        raise ReplayError(f"dialog {dialog!r} is not one of {', '.join(DIALOGS)}")
    loop = asyncio.get_running_loop()
    scheduler = Scheduler(loop)
    quirks = Quirks()
    if dialog == "verbatim":
        quirks = Quirks([VerbatimDialog(captured.exchanges)])
    camera = ReplayCamera(
        captured,
        loop_media=loop_media,
        scheduler=scheduler,
        pacing=PacingStats(),
        origin=loop.time(),
        quirks=quirks,
    )
    udp = await UdpMedia.open(host)
    server = CameraServer(
        host, port, [camera], ServerSettings(server_name="camsim-replay"), udp=udp
    )
    try:
        await server.start()
    except OSError:
        scheduler.close()
        udp.close()
        raise
    return CameraReplay(server, camera, udp, scheduler)


def replay_duration(plan: PacketPlan) -> float:
    return math.ceil(plan.period_seconds)
