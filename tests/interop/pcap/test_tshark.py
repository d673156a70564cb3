"""``inspect`` and tshark count the same RTP packets, losses and RTMP messages.

On the real field captures, on camsim's own captures (clean and impaired, over UDP, TCP and an
HTTP tunnel) and on every reference capture in ``pcaps/``: wherever tshark can decode a stream,
both must agree on its packets and losses (RFC 3550's expected minus received).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from camsim.media.loader import load
from camsim.pcap import impair
from camsim.pcap.inspect import InspectResult, inspect_capture
from camsim.pcap.synth import camera_capture, write_capture
from tests.conftest import SampleFactory
from tests.interop.pcap.tshark import rtmp_message_types, rtp_streams

pytestmark = pytest.mark.interop("tshark")

PCAPS = Path(__file__).resolve().parents[3] / "pcaps"


def assert_rtp_agrees(capture: Path) -> InspectResult:
    result = inspect_capture(capture)
    ports = {d.server.port for d in result.dialogs}
    theirs = {(s.ssrc, s.destination): s for s in rtp_streams(capture, ports)}
    ours = {
        (s.ssrc, f"{s.flow.destination.host}:{s.flow.destination.port}"): s
        for s in result.rtp_streams
    }
    assert set(theirs) == set(ours), (sorted(theirs), sorted(ours))
    for key, stream in ours.items():
        assert (stream.packets, stream.lost) == (theirs[key].packets, theirs[key].lost), key
    return result


def test_field_camera_capture(shared_dir: Path) -> None:
    result = assert_rtp_agrees(shared_dir / "captures" / "camera-h264-udp-digest.pcapng")
    assert [s.packets for s in result.rtp_streams] == [1569]


def test_field_rtmp_capture(shared_dir: Path) -> None:
    capture = shared_dir / "captures" / "rtmp-play-h264-aac.pcap"
    (session,) = inspect_capture(capture).rtmp
    (stream,) = session.media_streams
    counts = rtmp_message_types(capture)
    # tshark counts the sequence headers among the audio and video messages.
    assert (
        counts[9] + counts[8] == stream.video_frames + stream.audio_frames + stream.sequence_headers
    )
    assert counts[20] == len(session.commands)


@pytest.mark.parametrize("transport", ["udp", "tcp", "http"])
def test_camsim_captures(make_test_sample: SampleFactory, tmp_path: Path, transport: str) -> None:
    capture = camera_capture(load(make_test_sample()), transport=transport, seconds=8)
    assert_rtp_agrees(write_capture(tmp_path / f"{transport}.pcapng", capture.packets))


def test_an_impaired_capture(make_test_sample: SampleFactory, tmp_path: Path) -> None:
    capture = camera_capture(load(make_test_sample()), transport="udp", seconds=8)
    video = capture.streams[0]
    packets = impair.drop(capture.packets, video.packet_indexes[10:200:7])
    packets = impair.duplicate(packets, video.packet_indexes[250], later=2)
    packets = impair.swap(packets, video.packet_indexes[300])
    result = assert_rtp_agrees(write_capture(tmp_path / "impaired.pcapng", packets))
    (stream,) = [s for s in result.rtp_streams if s.ssrc == video.ssrc]
    assert stream.missing == len(range(10, 200, 7))


@pytest.mark.parametrize("capture", sorted(PCAPS.glob("*.pcapng")), ids=lambda p: p.name)
def test_reference_captures(capture: Path) -> None:
    assert_rtp_agrees(capture)
