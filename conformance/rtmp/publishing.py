"""Publishing as encoders do, with a probe: the command sequences and paced media.

:func:`publish` runs one of the two command sequences the suite knows (FFmpeg's and OBS's:
see :data:`SEQUENCES`) up to the publish answer; :func:`pump` then sends the sample's tags,
stamped, in real time or as fast as the server takes them, with actions at given points of
the stream (a chunk size change, a metadata update). :func:`encoder_frames` says which frames
camsim's encoder sent for a count of video frames, since it reports counts only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from camsim.encoder.flv_source import FlvPlan, TagCursor
from conformance.rtmp.observation import PushedFrame
from conformance.rtmp.probe import (
    CSID_STREAM,
    HandshakeStyle,
    Received,
    RtmpProbe,
    status_info,
)
from wire import amf0, flv
from wire.amf0 import Amf0Value
from wire.codec.stamp import write_frame_index, write_wallclock
from wire.rtmp import RtmpMessage
from wire.rtmp.messages import DataMessage, MessageType, as_stream_id

PUBLISH_START = "NetStream.Publish.Start"


@dataclass(frozen=True)
class EncoderStyle:
    """How one encoder family connects and publishes."""

    name: str
    flash_ver: str
    extra: tuple[tuple[str, str], ...]
    """Connect properties besides app, type, flashVer and tcUrl (``swfUrl`` = the tcUrl)."""
    publish_csid: int
    video_csid: int
    audio_csid: int


FFMPEG = EncoderStyle("FFmpeg", "FMLE/3.0 (compatible; Lavf61.7.100)", (), CSID_STREAM, 6, 4)
"""libavformat's rtmpproto.c: connect {app, type, flashVer, tcUrl}, then releaseStream,
FCPublish and createStream at once, publish on chunk stream 8, video on 6, audio on 4."""
OBS = EncoderStyle("OBS", "FMLE/3.0 (compatible; FMSc/1.0)", (("swfUrl", "tcUrl"),), 4, 4, 4)
"""OBS's librtmp: connect with swfUrl as well, publish and all media on chunk stream 4."""
SEQUENCES = {"ffmpeg": FFMPEG, "obs": OBS}


@dataclass
class PublishOutcome:
    """How far a publish got: ``stream_id`` once createStream answered, ``status`` the
    onStatus that answered the publish (or None), ``failure`` in words when it stopped."""

    stream_id: int | None = None
    connect: Received | None = None
    create: Received | None = None
    status: Received | None = None
    failure: str = ""

    @property
    def started(self) -> bool:
        info = status_info(self.status) if self.status is not None else None
        return info is not None and info.get("code") == PUBLISH_START

    def refusal(self) -> str:
        """``code: description`` of a refusing onStatus, else ``""``."""
        info = status_info(self.status) if self.status is not None else None
        if info is None or info.get("code") == PUBLISH_START:
            return ""
        return f"{info.get('code', '')}: {info.get('description', '')}".strip(": ")


def connect_object(probe: RtmpProbe, style: EncoderStyle = FFMPEG) -> dict[str, Amf0Value]:
    endpoint = probe.endpoint
    properties: dict[str, Amf0Value] = {"app": endpoint.app, "type": "nonprivate"}
    properties["flashVer"] = style.flash_ver
    for name, value in style.extra:
        properties[name] = endpoint.tc_url if value == "tcUrl" else value
    properties["tcUrl"] = endpoint.tc_url
    return properties


async def connect(
    probe: RtmpProbe,
    style: EncoderStyle = FFMPEG,
    *,
    handshake: HandshakeStyle = HandshakeStyle.COMPLEX,
    chunk_size: int | None = 4096,
) -> Received | None:
    """Handshake, announce the chunk size (encoders send 4096 before connect), connect; the
    answer to connect, or None."""
    record = await probe.handshake(handshake)
    if not record.complete:
        return None
    if chunk_size is not None:
        probe.set_chunk_size(chunk_size)
    transaction = probe.call("connect", command_object=connect_object(probe, style))
    await probe.drain()
    return await probe.answer(transaction)


def _is_publish_answer(received: Received) -> bool:
    info = status_info(received)
    if received.command is None or received.command.name != "onStatus" or info is None:
        return False
    code = str(info.get("code", ""))
    return info.get("level") == "error" or code.startswith("NetStream.Publish")


async def publish(
    probe: RtmpProbe,
    name: str,
    style: EncoderStyle = FFMPEG,
    *,
    chunk_size: int | None = 4096,
    status_timeout: float = 10.0,
) -> PublishOutcome:
    """Handshake, connect and publish ``name`` as ``style`` does."""
    answer = await connect(probe, style, chunk_size=chunk_size)
    if answer is None or answer.command is None or answer.command.name != "_result":
        return PublishOutcome(connect=answer, failure=_no_answer(probe, "connect", answer))
    outcome = await publish_after_connect(probe, name, style, status_timeout=status_timeout)
    outcome.connect = answer
    return outcome


async def publish_after_connect(
    probe: RtmpProbe,
    name: str,
    style: EncoderStyle = FFMPEG,
    *,
    status_timeout: float = 10.0,
) -> PublishOutcome:
    """releaseStream, FCPublish and createStream at once (both encoders send them together),
    then publish on the stream createStream returned."""
    outcome = PublishOutcome()
    probe.call("releaseStream", name)
    probe.call("FCPublish", name)
    create = probe.call("createStream")
    await probe.drain()
    outcome.create = await probe.answer(create)
    command = outcome.create.command if outcome.create is not None else None
    if command is None or command.name != "_result":
        outcome.failure = _no_answer(probe, "createStream", outcome.create)
        return outcome
    outcome.stream_id = as_stream_id(command.arguments[0] if command.arguments else None)
    if outcome.stream_id is None:
        outcome.failure = f"createStream answered {command.arguments!r}, not a stream id"
        return outcome
    mark = len(probe.log.received)
    probe.call("publish", name, "live", stream_id=outcome.stream_id, csid=style.publish_csid)
    await probe.drain()
    outcome.status = await probe.wait_for(_is_publish_answer, status_timeout, mark)
    if outcome.status is None:
        outcome.failure = _no_answer(probe, "publish", None)
    return outcome


def _no_answer(probe: RtmpProbe, what: str, answer: Received | None) -> str:
    if answer is not None and answer.command is not None:
        info = status_info(answer)
        code = info.get("code", "") if info else ""
        return f"{what} answered {answer.command.name} {code}".rstrip()
    if probe.log.error:
        return f"{what}: {probe.log.error}"
    if probe.closed:
        return f"the server closed the connection after {what}"
    return f"{what} not answered within {probe.timeout:g} s"


async def unpublish(probe: RtmpProbe, name: str, stream_id: int) -> None:
    """FCUnpublish and deleteStream, as FFmpeg sends them before closing."""
    probe.call("FCUnpublish", name)
    probe.call("deleteStream", float(stream_id))
    await probe.drain()
    await asyncio.sleep(0.2)


Action = Callable[[], None]


async def pump(
    probe: RtmpProbe,
    stream_id: int,
    plan: FlvPlan,
    *,
    seconds: float | None = None,
    budget: int | None = None,
    realtime: bool = True,
    start_timestamp: int = 0,
    index_offset: int = 0,
    actions: Sequence[tuple[float, Action]] = (),
    style: EncoderStyle = FFMPEG,
    marks: list[tuple[float, int]] | None = None,
) -> list[PushedFrame]:
    """Send metadata, the sequence headers, then the plan's tags for ``seconds`` of media (or
    until ``budget`` bytes have gone); ``actions`` run before the first frame due at or after
    their media second. Stops early when the server closes the connection."""
    metadata = DataMessage("@setDataFrame", ["onMetaData", amf0.EcmaArray(plan.metadata)])
    probe.send(CSID_STREAM, metadata, stream_id=stream_id, timestamp=start_timestamp)
    header = RtmpMessage(MessageType.VIDEO, plan.video_header, start_timestamp, stream_id)
    probe.send_message(style.video_csid, header)
    if plan.audio_header is not None:
        audio = RtmpMessage(MessageType.AUDIO, plan.audio_header, start_timestamp, stream_id)
        probe.send_message(style.audio_csid, audio)
    pending = sorted(actions, key=lambda action: action[0])
    began_bytes = probe.log.bytes_sent
    cursor = TagCursor(plan, start_timestamp)
    origin = time.monotonic()
    pushed: list[PushedFrame] = []
    while not probe.closed and not probe.log.error:
        due = cursor.due_ms
        if seconds is not None and due >= seconds * 1000:
            break
        if budget is not None and probe.log.bytes_sent - began_bytes >= budget:
            break
        while pending and pending[0][0] * 1000 <= due:
            pending.pop(0)[1]()
        if realtime:
            delay = origin + due / 1000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        frame = cursor.frame
        body = bytearray(frame.body)
        wallclock = time.time_ns() // 1000
        if frame.type_id == flv.TAG_TYPE_VIDEO:
            index = cursor.loop * plan.video_frames_per_loop + frame.frame_index
            if frame.stamp_at >= 0:
                write_frame_index(body, frame.stamp_at, index_offset + index)
                write_wallclock(body, frame.stamp_at, wallclock)
            message = RtmpMessage(MessageType.VIDEO, bytes(body), cursor.timestamp, stream_id)
            probe.send_message(style.video_csid, message)
            stamped = index_offset + index if frame.stamp_at >= 0 else -1
            pushed.append(PushedFrame(stamped, cursor.timestamp, frame.keyframe, wallclock))
        else:
            message = RtmpMessage(MessageType.AUDIO, bytes(body), cursor.timestamp, stream_id)
            probe.send_message(style.audio_csid, message)
        cursor.advance()
        if marks is not None:
            marks.append((time.monotonic(), probe.log.bytes_sent))
        await probe.drain()
        if not realtime:
            await asyncio.sleep(0)  # let the reader see acknowledgements as they come
    return pushed


def encoder_frames(plan: FlvPlan, start_timestamp: int, count: int) -> list[PushedFrame]:
    """The first ``count`` video frames camsim's encoder sends of ``plan``."""
    cursor = TagCursor(plan, start_timestamp)
    frames: list[PushedFrame] = []
    limit = count * 4 + len(plan.frames)  # audio interleaves; bounded whatever the plan
    while len(frames) < count and limit:
        limit -= 1
        frame = cursor.frame
        if frame.type_id == flv.TAG_TYPE_VIDEO:
            index = cursor.loop * plan.video_frames_per_loop + frame.frame_index
            stamped = index if frame.stamp_at >= 0 else -1
            frames.append(PushedFrame(stamped, cursor.timestamp, frame.keyframe))
        cursor.advance()
    return frames


def gop_seconds(plan: FlvPlan) -> float:
    """The keyframe interval of the sample (its first one, or its length)."""
    offsets = [plan.frames[i].offset_ms for i in plan.keyframes]
    if len(offsets) > 1:
        return (offsets[1] - offsets[0]) / 1000
    return float(plan.period)
