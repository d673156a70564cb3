"""A camera observation as the ``rtsp-server`` cases read it: the SDP's formats, each received
stream with its format, and the parameter sets the SDP and the stream carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from conformance.rtsp.decode import DecodeResult
from conformance.rtsp.observe import HTTP, TCP, CameraObservation, TransportRun
from conformance.rtsp.rtp import access_units
from conformance.rtsp.streams import MediaFormat, Stream
from wire.codec.nal import VideoCodec, nal_type, parameter_set_types
from wire.payload.events import VideoAccessUnit
from wire.sdp import ParameterSets, h264_parameter_sets, h265_parameter_sets

RELIABLE = (TCP, HTTP)
"""Transports on which a lost packet is the camera's fault, not the network's."""


@dataclass
class CameraView:
    observation: CameraObservation
    formats: list[MediaFormat] = field(default_factory=list)
    decoded: DecodeResult | None = None
    """The reference video decoded, once the first case asks."""

    def __post_init__(self) -> None:
        sdp = self.observation.sdp
        self.formats = [MediaFormat.of(m) for m in sdp.media] if sdp is not None else []

    @property
    def played(self) -> list[TransportRun]:
        """The sessions that reached PLAY 200."""
        runs = self.observation.runs.values()
        return [r for r in runs if r.play is not None and r.play.status == 200]

    @cached_property
    def streams(self) -> list[Stream]:
        found = []
        for run in self.played:
            for track in run.tracks:
                if track.index < len(self.formats):
                    fmt = self.formats[track.index]
                    found.append(Stream.build(run.name, track.index, fmt, track.rtp))
        return found

    def video_streams(self) -> list[Stream]:
        return [s for s in self.streams if s.format.video_codec is not None]

    def reference_video(self) -> Stream | None:
        """The video stream of a reliable transport (no loss to blame on the network), else any."""
        videos = [s for s in self.video_streams() if s.packets]
        reliable = [s for s in videos if s.transport in RELIABLE]
        chosen = reliable or videos
        return chosen[0] if chosen else None

    @cached_property
    def reference_units(self) -> list[tuple[float, VideoAccessUnit]]:
        stream = self.reference_video()
        if stream is None or stream.format.video_codec is None:
            return []
        return access_units(stream.packets, stream.format.video_codec)

    def sprop(self, fmt: MediaFormat) -> ParameterSets | None:
        if fmt.format is None or fmt.video_codec is None:
            return None
        if fmt.video_codec is VideoCodec.H264:
            return h264_parameter_sets(fmt.format.parameters)
        return h265_parameter_sets(fmt.format.parameters)

    def inband_parameter_sets(self, codec: VideoCodec) -> dict[int, bytes]:
        """The first in-band parameter set of each type in the reference stream."""
        kinds = parameter_set_types(codec)
        found: dict[int, bytes] = {}
        for _, unit in self.reference_units:
            for nal in unit.nal_units:
                kind = nal_type(codec, nal)
                if kind in kinds and kind not in found:
                    found[kind] = nal
        return found
