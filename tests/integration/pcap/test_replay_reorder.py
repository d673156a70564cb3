"""refserver pulls a replayed camera over UDP behind a proxy whose jitter reorders datagrams
(loopback only): every frame of the replay reaches the HLS, one for one, with none lost.

Jitter of a few milliseconds on top of a delay shuffles the datagrams of a keyframe, which the
camera sends in one burst, so the first datagram to arrive is seldom the first one sent. The
packets sent before it are then late, not lost: the receiver must wait for them rather than
start its stream after them and drop them. Which packets come first depends on the proxy's
seed: with seed 0 the head of the first keyframe came late, and the whole first group of
pictures was lost; with seed 3 only its parameter sets and SEI did, and the first picture
reached the HLS without its stamp.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from camsim.media.loader import load
from camsim.pcap.replay_camera import load_camera
from camsim.pcap.synth import camera_capture, write_capture
from refserver.config import PullTransport, SourceConfig
from refserver.hls import HlsOptions
from tests.conftest import SampleFactory
from tests.integration.pcap.harness import running_proxied_replay
from tests.integration.pcap.test_replay_refserver import _frame_indexes
from tests.integration.refserver.harness import running, server_config


@pytest.mark.slow
@pytest.mark.parametrize(
    ("delay", "jitter", "seed"), [("50ms", "5ms", 0), ("50ms", "5ms", 3), ("20ms", "10ms", 0)]
)
def test_refserver_pulls_a_camera_behind_a_reordering_proxy_over_udp_frame_for_frame(
    make_test_sample: SampleFactory, tmp_path: Path, delay: str, jitter: str, seed: int
) -> None:
    sample = load(make_test_sample(gop_seconds=Fraction(1, 2)))
    capture = camera_capture(sample, transport="udp")
    captured = load_camera(write_capture(tmp_path / "camera.pcapng", capture.packets))
    expected = [u.frame_index for u in sample.video_units]
    assert expected == list(range(len(expected)))
    with running_proxied_replay(captured, {"delay": delay, "jitter": jitter}, seed=seed) as proxied:
        # A long media timeout: the camera says BYE at the end, and a reconnect plays it again.
        source = SourceConfig("door", proxied.url, PullTransport.UDP, media_timeout=60.0)
        config = server_config(
            tmp_path, sources=(source,), hls=HlsOptions(target_duration=1.0, window=10)
        )
        with running(config) as server:
            server.wait_for(
                lambda: server.api("door")["frames"]["video"] >= len(expected),
                timeout=30,
                what=f"{len(expected)} video frames",
            )
            hls_dir = server.hls_dir / "door"
        assert proxied.proxy.rtsp is not None
        _, down = proxied.proxy.rtsp.totals()
    # Every packet crossed the proxy over UDP and none was lost there: jitter only reorders.
    assert down.packets >= capture.streams[0].packets
    assert down.lost == 0
    segments = sorted(hls_dir.glob("*.ts"), key=lambda p: int(p.stem.removeprefix("segment")))
    assert _frame_indexes(segments) == expected
