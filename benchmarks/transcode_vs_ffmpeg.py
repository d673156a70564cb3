"""What transcoding a pulled camera's audio to AAC costs, against FFmpeg doing the same in the
same run.

The same G.711 (or Opus) stream, a 1 kHz tone under noise as a camera's microphone would give,
is transcoded to AAC LC twice: by refserver's :class:`~refserver.pull.transcode.AudioTranscoder`
unit by unit, as pulled packets arrive (20 ms each), and by an ``ffmpeg`` process reading the
whole stream from a file (``-c:a aac`` at the same bitrate). Each side's CPU time is divided by
the seconds of audio: the figure is the CPU a camera's audio costs per second of play.

    python -m benchmarks.transcode_vs_ffmpeg --codec pcmu --seconds 120
    python -m benchmarks.transcode_vs_ffmpeg --codec opus --seconds 120
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np

from refserver.hls import Frame
from refserver.hls.media import CLOCK_RATE
from refserver.pull.transcode import AudioSource, AudioTranscoder

CODECS = {
    # name: (FFmpeg encoder, RTP clock, channels, samples per packet, raw format for ffmpeg)
    "pcmu": ("pcm_mulaw", 8000, 1, 160, "mulaw"),
    "pcma": ("pcm_alaw", 8000, 1, 160, "alaw"),
    "opus": ("libopus", 48000, 2, 960, "ogg"),
}
MAX_SECONDS = 3600.0


@dataclass(frozen=True)
class Result:
    codec: str
    seconds: float
    refserver_ms_per_second: float
    ffmpeg_ms_per_second: float
    ratio: float
    aac_frames: int


def camera_audio(codec: str, seconds: float) -> tuple[list[bytes], bytes]:
    """The stream as RTP payloads, and as a file FFmpeg reads (raw G.711, or Ogg Opus)."""
    encoder_name, rate, channels, samples, _ = CODECS[codec]
    rng = np.random.default_rng(7)
    t = np.arange(round(rate * seconds)) / rate
    wave = 0.3 * np.sin(2 * np.pi * 1000 * t) + 0.05 * rng.standard_normal(len(t))
    pcm = (np.clip(wave, -1, 1) * 32767).astype(np.int16)
    layout = "mono" if channels == 1 else "stereo"
    interleaved = np.repeat(pcm, channels).reshape(1, -1)
    if codec == "opus":
        buffer = io.BytesIO()
        payloads: list[bytes] = []
        with av.open(buffer, "w", format="ogg") as container:
            stream = container.add_stream("libopus", rate=rate, layout=layout)
            stream.bit_rate = 64000
            for start in range(0, len(pcm) - samples + 1, samples):
                chunk = interleaved[:, start * channels : (start + samples) * channels]
                frame = av.AudioFrame.from_ndarray(chunk.copy(), format="s16", layout=layout)
                frame.sample_rate, frame.pts = rate, start
                for packet in stream.encode(frame):
                    payloads.append(bytes(packet))
                    container.mux(packet)
        return payloads, buffer.getvalue()
    encoder = av.CodecContext.create(encoder_name, "w")
    assert isinstance(encoder, av.AudioCodecContext)
    encoder.sample_rate, encoder.layout, encoder.format = rate, layout, "s16"
    encoder.open()
    frame = av.AudioFrame.from_ndarray(interleaved, format="s16", layout=layout)
    frame.sample_rate, frame.pts = rate, 0
    data = b"".join(bytes(p) for p in encoder.encode(frame))
    return [data[i : i + samples] for i in range(0, len(data), samples)], data


def refserver_cpu(codec: str, payloads: list[bytes]) -> tuple[float, int]:
    """CPU seconds of refserver's transcoder over the payloads, and the AAC frames made."""
    _, rate, channels, samples, _ = CODECS[codec]
    label = {"pcmu": "PCMU", "pcma": "PCMA", "opus": "opus"}[codec]
    decoder = {"pcmu": "pcm_mulaw", "pcma": "pcm_alaw", "opus": "opus"}[codec]
    transcoder = AudioTranscoder(AudioSource(decoder, rate, channels, f"{label}/{rate}"))
    frames = 0
    started = time.process_time()
    for n, payload in enumerate(payloads):
        pts = n * samples * CLOCK_RATE // rate
        frames += len(transcoder.transcode(Frame.audio(pts, payload)))
    return time.process_time() - started, frames


def ffmpeg_cpu(codec: str, data: bytes, folder: Path) -> float:
    """CPU seconds of ``ffmpeg`` transcoding the same stream to AAC at the same bitrate."""
    _, rate, channels, _, raw_format = CODECS[codec]
    source = folder / f"in.{raw_format}"
    source.write_bytes(data)
    input_options = ["-f", raw_format]
    if raw_format != "ogg":
        input_options += ["-ar", str(rate), "-ac", str(channels)]
    bitrate = min(64_000, 4 * rate) * channels
    command = ["ffmpeg", "-v", "error", "-y", *input_options, "-i", str(source)]
    command += ["-c:a", "aac", "-b:a", str(bitrate), "-f", "adts", str(folder / "out.aac")]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run(codec: str, seconds: float) -> Result:
    payloads, data = camera_audio(codec, seconds)
    ours, frames = refserver_cpu(codec, payloads)
    with tempfile.TemporaryDirectory() as folder:
        theirs = ffmpeg_cpu(codec, data, Path(folder))
    return Result(
        codec=codec,
        seconds=seconds,
        refserver_ms_per_second=round(1000 * ours / seconds, 3),
        ffmpeg_ms_per_second=round(1000 * theirs / seconds, 3),
        ratio=round(ours / theirs, 2) if theirs else float("inf"),
        aac_frames=frames,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codec", choices=sorted(CODECS), default="pcmu")
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS:g}]")
    print(json.dumps(asdict(run(args.codec, args.seconds)), indent=2))


if __name__ == "__main__":
    main()
