"""Every reference capture in ``pcaps/`` inspects to what its manifest says.

The manifests were written by ``pcaps/make_captures.py`` from sources other than ``inspect``:
tshark's dissection of every RTP packet, the datagrams the script left out, the quirks it
turned on, ffprobe's count of the published sample's frames.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from camsim.pcap.inspect import inspect_capture

PCAPS = Path(__file__).resolve().parents[4] / "pcaps"
MANIFESTS = sorted(PCAPS.glob("*.json"))


def test_the_folder_stays_small() -> None:
    assert len(MANIFESTS) >= 8
    total = sum(p.stat().st_size for p in PCAPS.iterdir())
    assert total < 4_000_000


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.stem)
def test_inspect_finds_what_the_manifest_says(manifest: Path) -> None:
    description: dict[str, Any] = json.loads(manifest.read_text())
    expect = description["expect"]
    capture = PCAPS / description["capture"]
    assert capture.stat().st_size == description["bytes"]
    result = inspect_capture(capture)
    assert sorted({f.code for f in result.findings}) == sorted(expect["findings"])
    if "rtsp_dialogs" in expect:
        assert len(result.dialogs) == expect["rtsp_dialogs"]
        streams = {f"{s.ssrc:08X}": s for s in result.rtp_streams}
        assert sorted(streams) == sorted(s["ssrc"] for s in expect["rtp_streams"])
        for stream in expect["rtp_streams"]:
            ours = streams[stream["ssrc"]]
            assert (ours.packets, ours.lost) == (stream["packets"], stream["lost"])
            assert ours.flow.transport == expect["transport"]
            assert ours.setup is not None
        (video,) = [s for s in result.rtp_streams if s.media.media == "video"]
        assert video.missing == expect["video_missing"]
    if "rtmp" in expect:
        rtmp = expect["rtmp"]
        (session,) = result.rtmp
        (stream,) = session.media_streams
        assert (session.role, session.app, session.stream_names) == (
            rtmp["role"],
            rtmp["app"],
            [rtmp["stream"]],
        )
        assert (stream.video_frames, stream.audio_frames) == (
            rtmp["video_frames"],
            rtmp["audio_frames"],
        )
