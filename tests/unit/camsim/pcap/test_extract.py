"""``extract``: the media of a capture into files PyAV opens, frame for frame, gaps listed."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from click.testing import CliRunner

from camsim.media.loader import load
from camsim.pcap import impair
from camsim.pcap.cli import pcap
from camsim.pcap.extract import extract
from camsim.pcap.synth import CameraCapture, camera_capture, write_capture
from tests.conftest import SampleFactory


@pytest.fixture(scope="module")
def capture(make_test_sample: SampleFactory) -> CameraCapture:
    return camera_capture(load(make_test_sample()), transport="udp")


def _packets_per_stream(path: Path) -> dict[str, int]:
    with av.open(str(path)) as container:
        counts: dict[str, int] = {}
        for packet in container.demux():
            if packet.size:
                kind = packet.stream.type
                counts[kind] = counts.get(kind, 0) + 1
        return counts


@pytest.mark.parametrize(("container", "suffix"), [("mp4", ".mp4"), ("ts", ".ts")])
def test_every_frame_of_both_tracks(
    capture: CameraCapture, tmp_path: Path, container: str, suffix: str
) -> None:
    source = write_capture(tmp_path / "camera.pcapng", capture.packets)
    _, (extraction,) = extract(source, tmp_path / "out", container=container)
    video, audio = capture.streams
    (written,) = extraction.files
    assert written.suffix == suffix
    assert _packets_per_stream(written) == {"video": video.frames, "audio": audio.frames}
    with av.open(str(written)) as opened:
        stream = opened.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (320, 240)
        decoded = sum(1 for _ in opened.decode(stream))
    assert decoded == video.frames
    assert all(not track.gaps for track in extraction.tracks)


def test_raw_elementary_streams(capture: CameraCapture, tmp_path: Path) -> None:
    source = write_capture(tmp_path / "camera.pcapng", capture.packets)
    _, (extraction,) = extract(source, tmp_path / "out", container="raw")
    h264, aac = sorted(extraction.files)
    assert (h264.suffix, aac.suffix) == (".h264", ".aac")
    with av.open(str(h264), format="h264") as opened:
        assert sum(1 for _ in opened.decode(video=0)) == capture.streams[0].frames
    with av.open(str(aac), format="aac") as opened:
        assert sum(1 for p in opened.demux() if p.size) == capture.streams[1].frames


def test_losses_are_gaps_at_the_packets_after_them(capture: CameraCapture, tmp_path: Path) -> None:
    video = capture.streams[0]
    dropped = [video.packet_indexes[100], video.packet_indexes[101], video.packet_indexes[200]]
    source = write_capture(tmp_path / "lossy.pcapng", impair.drop(capture.packets, dropped))
    _, (extraction,) = extract(source, tmp_path / "out", container="mp4")
    video_track = extraction.tracks[0]
    # The packet after each gap, numbered in the impaired capture (dropped ones removed).
    after = [video.packet_indexes[102] + 1 - 2, video.packet_indexes[201] + 1 - 3]
    assert [(g.packet, g.what) for g in video_track.gaps] == [
        (after[0], "2 RTP packets lost"),
        (after[1], "1 RTP packets lost"),
    ]
    assert not extraction.tracks[1].gaps


def test_cli(capture: CameraCapture, tmp_path: Path) -> None:
    source = write_capture(tmp_path / "camera.pcapng", capture.packets)
    result = CliRunner().invoke(pcap, ["extract", str(source), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert f"video H264: {capture.streams[0].frames} frames" in result.output
    assert (tmp_path / "out" / "dialog1.mp4").exists()


def test_field_rtmp_play_extracts(shared_dir: Path, tmp_path: Path) -> None:
    _, (extraction,) = extract(shared_dir / "captures" / "rtmp-play-h264-aac.pcap", tmp_path)
    (written,) = extraction.files
    # Every frame of the play: 264 video and 482 audio messages (inspect counts the same).
    assert _packets_per_stream(written) == {"video": 264, "audio": 482}
