"""Make synthetic samples with PyAV: test pattern + tone, H.264/H.265 + AAC in MP4, every video
frame carrying the camsim SEI stamp. The audio may instead be G.711 (in QuickTime, which MP4
cannot hold) or Opus, and a sample may have no video.

Encoder settings are chosen to look like an IP camera: constant bitrate with a VBV buffer of one
second, a fixed GOP with scene-cut detection off (keyframes exactly every ``gop_seconds``), no
B-frames unless asked. The output is deterministic: the same spec gives the same bytes.

A sample is written to a temporary file beside its destination and renamed into place once
complete, so an interrupted run (Ctrl-C, a full disk) never leaves a half-written sample where
a later run would take it for a whole one. Temporary files of runs that were killed outright are
removed by the next run that makes a sample in the same folder.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.container
import av.stream
import platformdirs

from camsim.media.loader import describe_error
from camsim.media.pattern import TestPattern
from camsim.media.spec import DEFAULT_SPEC, AudioCodec, SampleSpec
from camsim.media.switch import switched_encoder
from camsim.media.tone import tone_block
from wire.codec.nal import VideoCodec, is_vcl, join_annexb, split_annexb
from wire.codec.stamp import stamp_sei_nal

AAC_FRAME_SAMPLES = 1024
_PARTIAL_SUFFIX = ".partial"

Progress = Callable[[int, int], None]


class SampleError(Exception):
    """A sample could not be written; the message names the file and says why."""


def cache_dir() -> Path:
    """Where generated samples are kept (``$CAMSIM_CACHE_DIR`` or the user's cache directory)."""
    override = os.environ.get("CAMSIM_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir("camsim")) / "samples"


def cached_sample(spec: SampleSpec = DEFAULT_SPEC, progress: Progress | None = None) -> Path:
    """The sample for ``spec`` from the cache, made first if it is not there yet."""
    path = cache_dir() / f"{spec.cache_key()}.{spec.container}"
    if not path.exists():
        make_sample(spec, path, progress)
    return path


def default_sample(progress: Progress | None = None) -> Path:
    """The default sample (1280x720, 30 fps, H.264 High, AAC, 30 s), made once and cached."""
    return cached_sample(DEFAULT_SPEC, progress)


def make_sample(spec: SampleSpec, out: Path, progress: Progress | None = None) -> Path:
    """Encode ``spec`` into the MP4 file ``out``, written atomically (temporary file + rename).

    Raises :class:`SampleError` when ``out`` cannot be written. An interruption (Ctrl-C is a
    ``KeyboardInterrupt``) goes through, after the temporary file is removed.
    """
    partial = out.with_name(f".{out.name}.{os.getpid()}{_PARTIAL_SUFFIX}")
    try:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # mkdir's word for a file where a folder should be
            raise NotADirectoryError(errno.ENOTDIR, "not a folder") from None
        _remove_orphans(out)
        with av.open(str(partial), "w", format=spec.container) as container:
            _encode(spec, container, progress)
        os.replace(partial, out)
    except (av.FFmpegError, OSError) as error:
        raise SampleError(f"cannot write {out}: {describe_error(error)}") from error
    finally:
        with contextlib.suppress(OSError):  # never there when it could not be created
            partial.unlink(missing_ok=True)
    return out


def _remove_orphans(out: Path) -> None:
    """Remove temporary files of ``out`` left by processes that no longer exist (killed)."""
    for orphan in out.parent.glob(f".{glob.escape(out.name)}.*{_PARTIAL_SUFFIX}"):
        pid_text = orphan.name[len(out.name) + 2 : -len(_PARTIAL_SUFFIX)]
        if pid_text.isdigit() and not _process_exists(int(pid_text)):
            orphan.unlink(missing_ok=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _video_stream(spec: SampleSpec, container: av.container.OutputContainer) -> av.VideoStream:
    encoder = "libx264" if spec.codec is VideoCodec.H264 else "libx265"
    stream = container.add_stream(encoder, rate=spec.fps)
    assert isinstance(stream, av.VideoStream)
    stream.width = spec.width
    stream.height = spec.height
    stream.pix_fmt = "yuv420p"
    stream.bit_rate = spec.bitrate
    stream.options = dict(video_options(spec))
    stream.codec_context.time_base = 1 / spec.fps
    return stream


def video_options(spec: SampleSpec) -> dict[str, str]:
    """The encoder's options: a camera's constant bitrate and fixed GOP."""
    kbps = spec.bitrate // 1000
    common = f"keyint={spec.keyint}:min-keyint={spec.keyint}:scenecut=0:bframes={spec.bframes}"
    if spec.codec is VideoCodec.H264:
        return {
            "preset": "veryfast",
            "profile": spec.profile.value,
            # One thread: x264's threaded rate control under VBV varies from run to run. No
            # MB-tree: its SIMD propagation reads heap memory the encoder never wrote, so the
            # bytes depended on what the process had allocated before (glibc's MALLOC_PERTURB_=1
            # changes every frame). Camera encoders have no MB-tree either.
            "x264-params": (
                f"{common}:bitrate={kbps}:vbv-maxrate={kbps}:vbv-bufsize={kbps}:open-gop=0:"
                "threads=1:mbtree=0" + (":repeat-headers=1" if spec.switch_size else "")
            ),
        }
    return {
        "preset": "ultrafast",
        "x265-params": (
            f"{common}:bitrate={kbps}:vbv-maxrate={kbps}:vbv-bufsize={kbps}:open-gop=0:"
            "log-level=error:info=0:frame-threads=1:pools=none:lookahead-slices=0"
        ),
    }


_AUDIO_ENCODERS = {
    AudioCodec.AAC: "aac",
    AudioCodec.PCMU: "pcm_mulaw",
    AudioCodec.PCMA: "pcm_alaw",
    AudioCodec.OPUS: "libopus",
}


def _audio_stream(spec: SampleSpec, container: av.container.OutputContainer) -> av.AudioStream:
    stream = container.add_stream(_AUDIO_ENCODERS[spec.audio_codec], rate=spec.sample_rate)
    assert isinstance(stream, av.AudioStream)
    stream.layout = "stereo" if spec.channels == 2 else "mono"
    if not spec.audio_codec.is_g711:  # G.711 is 64 kb/s by definition
        stream.bit_rate = spec.audio_bitrate
    return stream


def _audio_frame_samples(spec: SampleSpec) -> int:
    """Samples per encoder call: AAC's frame, Opus's 20 ms, G.711's 20 ms packet interval."""
    if spec.audio_codec is AudioCodec.AAC:
        return AAC_FRAME_SAMPLES
    return spec.sample_rate // 50


def _encode(
    spec: SampleSpec, container: av.container.OutputContainer, progress: Progress | None
) -> None:
    video = _video_stream(spec, container) if spec.video else None
    audio = _audio_stream(spec, container) if spec.audio else None
    pattern = TestPattern(spec.width, spec.height, spec.fps)
    total_samples = int(spec.duration * spec.sample_rate)
    audio_pos = 0
    frame_samples = _audio_frame_samples(spec)

    encoder: av.VideoStream | av.VideoCodecContext | None = video
    for index in range(spec.frame_count):
        if video is not None and encoder is not None:
            if index and index == spec.switch_frame:
                # A new encoder at the new size: its first picture is an IDR with new SPS/PPS.
                for packet in encoder.encode(None):
                    container.mux(_stamped(spec.codec, packet, video))
                encoder, pattern = switched_encoder(spec, video, video_options(spec))
            frame = av.VideoFrame.from_ndarray(pattern.render(index), format="yuv420p")
            frame.pts = index
            frame.time_base = video.codec_context.time_base
            for packet in encoder.encode(frame):
                container.mux(_stamped(spec.codec, packet, video))
        if audio is not None:
            # Keep audio encoded up to the video's media time so the muxer interleaves cheaply.
            until = min(int(Fraction(index + 1) / spec.fps * spec.sample_rate), total_samples)
            while audio_pos + frame_samples <= until or (
                index == spec.frame_count - 1 and audio_pos < total_samples
            ):
                count = min(frame_samples, total_samples - audio_pos)
                container.mux(audio.encode(_audio_frame(spec, audio_pos, count)))
                audio_pos += count
        if progress is not None:
            progress(index + 1, spec.frame_count)

    if video is not None and encoder is not None:
        for packet in encoder.encode(None):
            container.mux(_stamped(spec.codec, packet, video))
    if audio is not None:
        container.mux(audio.encode(None))


def _audio_frame(spec: SampleSpec, start: int, count: int) -> av.AudioFrame:
    samples = tone_block(start, count, spec.sample_rate, spec.channels)
    layout = "stereo" if spec.channels == 2 else "mono"
    frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=layout)
    frame.sample_rate = spec.sample_rate
    frame.pts = start
    frame.time_base = Fraction(1, spec.sample_rate)
    return frame


def _stamped(codec: VideoCodec, packet: av.Packet[Any], stream: av.VideoStream) -> av.Packet[Any]:
    """A copy of an encoder packet (Annex B) with the stamp SEI inserted before the first slice."""
    if packet.pts is None or packet.time_base is None:
        raise RuntimeError("encoder produced a packet without a timestamp")
    frame_index = round(packet.pts * packet.time_base * stream.codec_context.framerate)
    nals = split_annexb(bytes(packet))
    first_slice = next(i for i, nal in enumerate(nals) if is_vcl(codec, nal))
    nals.insert(first_slice, stamp_sei_nal(codec, frame_index))
    out = av.Packet(join_annexb(nals))
    out.pts = packet.pts
    out.dts = packet.dts
    out.duration = packet.duration
    out.time_base = packet.time_base
    out.is_keyframe = packet.is_keyframe
    out.stream = stream
    return out
