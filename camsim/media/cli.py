"""``camsim media make|probe``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import click

from camsim.media.loader import LoaderError
from camsim.media.make import Progress, SampleError, cached_sample, make_sample
from camsim.media.probe import format_report, probe
from camsim.media.spec import DEFAULT_SPEC, H264Profile, SampleSpec, parse_fps, parse_size
from wire.codec.nal import VideoCodec


def _parse_rate(text: str) -> int:
    """``2M``, ``2000k`` or ``2000000`` bits per second."""
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    digits = text[:-1] if scale != 1 else text
    try:
        rate = round(float(digits) * scale)
    except (ValueError, OverflowError):
        raise click.BadParameter(f"{text!r}: expected e.g. 2M, 2000k or 2000000") from None
    if not MIN_RATE <= rate <= MAX_RATE:
        raise click.BadParameter(f"{text!r}: must be between 8k and 1000M bits per second")
    return rate


def _seconds(text: str) -> Fraction:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise click.BadParameter(f"{text!r}: expected seconds, e.g. 30 or 2.5") from None
    if value <= 0:
        raise click.BadParameter(f"{text!r}: must be positive")
    if value > MAX_SECONDS:
        # Every camera and encoder holds its sample in memory, and loops it anyway.
        raise click.BadParameter(f"{text!r}: at most {MAX_SECONDS} s (samples are looped)")
    return value


MIN_RATE = 8_000
MAX_RATE = 1_000_000_000
MAX_SECONDS = 3600


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def media() -> None:
    """Make and inspect sample media."""


@media.command()
@click.option(
    "--codec",
    type=click.Choice([c.value for c in VideoCodec]),
    default="h264",
    show_default=True,
    help="Video codec (libx264 or libx265).",
)
@click.option(
    "--profile",
    type=click.Choice([p.value for p in H264Profile]),
    default="high",
    show_default=True,
    help="H.264 profile (H.265 is always Main).",
)
@click.option(
    "--size",
    default="1280x720",
    show_default=True,
    help="Picture size WIDTHxHEIGHT, even, from 64x64 to 8192x4320.",
)
@click.option("--fps", default="30", show_default=True, help="30, 29.97 or 30000/1001")
@click.option("--gop", default="2", show_default=True, help="Seconds between keyframes.")
@click.option("--bitrate", default="2M", show_default=True, help="Video bitrate, e.g. 2M, 800k.")
@click.option("--duration", default="30", show_default=True, help="Seconds (at most 3600).")
@click.option(
    "--bframes",
    type=click.IntRange(0, 4),
    default=0,
    show_default=True,
    help="B-frames between reference frames (cameras send none).",
)
@click.option(
    "--audio",
    type=click.Choice(["aac", "none"]),
    default="aac",
    show_default=True,
    help="AAC-LC 48 kHz stereo tone, or no audio track.",
)
@click.option("--audio-bitrate", default="128k", show_default=True, help="AAC bitrate, e.g. 96k.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Output file, or a directory for a name made from the settings. "
    "Without it the sample goes to the user cache (reused when it exists).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the probe report as JSON.")
def make(
    codec: str,
    profile: str,
    size: str,
    fps: str,
    gop: str,
    bitrate: str,
    duration: str,
    bframes: int,
    audio: str,
    audio_bitrate: str,
    out: Path | None,
    as_json: bool,
) -> None:
    """Make a deterministic synthetic sample: a test pattern with frame counter and clock,
    an AAC tone with a pulse each second, and a camsim SEI stamp on every video frame.

    With no options this is the default sample every other command uses."""
    try:
        width, height = parse_size(size)
        spec = SampleSpec(
            codec=VideoCodec(codec),
            profile=H264Profile(profile),
            width=width,
            height=height,
            fps=parse_fps(fps),
            gop_seconds=_seconds(gop),
            bitrate=_parse_rate(bitrate),
            duration=_seconds(duration),
            bframes=bframes,
            audio=audio != "none",
            audio_bitrate=_parse_rate(audio_bitrate),
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    try:
        with _progress_bar(spec) as progress:
            if out is None:
                path = cached_sample(spec, progress)
            else:
                if out.is_dir():
                    out = out / _file_name(spec)
                path = make_sample(spec, out, progress)
    except SampleError as exc:
        raise click.ClickException(str(exc)) from None
    _report(path, as_json)


def _file_name(spec: SampleSpec) -> str:
    fps = f"{float(spec.fps):g}".replace(".", "_")
    name = f"{spec.codec.value}-{spec.width}x{spec.height}-{fps}fps-{float(spec.duration):g}s"
    if spec.codec is VideoCodec.H264 and spec.profile is not DEFAULT_SPEC.profile:
        name += f"-{spec.profile.value}"
    return f"{name}.mp4"


@contextmanager
def _progress_bar(spec: SampleSpec) -> Iterator[Progress | None]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=spec.frame_count, label="encoding", file=sys.stderr) as bar:
        yield lambda done, _total: bar.update(done - bar.pos)


@media.command(name="probe")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def probe_command(file: Path, as_json: bool) -> None:
    """Report a file's tracks, codec parameters, GOP structure, stamp coverage and duration."""
    _report(file, as_json)


def _report(path: Path, as_json: bool) -> None:
    try:
        report = probe(path)
    except LoaderError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(format_report(report))
