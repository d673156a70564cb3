"""``--capture`` on camsim run, camsim push and refserver: the file inspects to what was sent."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from camsim.camera.fleet import FleetConfig
from camsim.encoder.fleet import EncoderFleet
from camsim.encoder.flv_source import FlvPlan
from camsim.encoder.session import PublishOptions
from camsim.encoder.target import PushTarget
from camsim.media.loader import load
from camsim.pcap.inspect import inspect_capture
from camsim.pcap.replay_camera import load_camera
from camsim.pcap.tap import CaptureTap
from tests.conftest import SampleFactory
from tests.integration.camera.client import RtspTestClient, open_udp_ports
from tests.integration.camera.harness import running_fleet
from tests.integration.refserver.harness import running, server_config


def test_camsim_run_records_both_transports(
    make_test_sample: SampleFactory, tmp_path: Path
) -> None:
    capture = tmp_path / "cameras.pcapng"
    config = FleetConfig(media=(make_test_sample(),), capture=capture)
    received: dict[str, int] = {}

    async def pull(url: str) -> None:
        async with RtspTestClient(url) as client:
            await client.start_tcp()
            received["tcp"] = len(await client.rtp(0, 60, timeout=15))
        ports = await open_udp_ports()
        try:
            async with RtspTestClient(url) as client:
                await client.describe()
                await client.setup("trackID=0", ports.transport())
                await client.play()
                received["udp"] = len(await ports.rtp_packets(60, timeout=15))
                await client.request("TEARDOWN", client.connection.aggregate_url)
        finally:
            ports.close()

    with running_fleet(config) as fleet:
        asyncio.run(pull(fleet.urls[0]))
    result = inspect_capture(capture)
    assert [len(d.exchanges) >= 4 for d in result.dialogs] == [True, True]
    video = [s for s in result.rtp_streams if s.media.media == "video"]
    assert sorted(s.flow.transport for s in video) == ["tcp", "udp"]
    # The client read 60 packets of each; the capture holds at least those, none lost.
    assert all(s.packets >= 60 and s.missing == 0 for s in video)
    assert all(s.setup is not None for s in result.rtp_streams)
    # And what camsim recorded replays as a camera.
    assert load_camera(capture).plan.bursts


def test_camsim_push_and_refserver_record_the_same_publish(
    make_test_sample: SampleFactory, tmp_path: Path
) -> None:
    pushed, served = tmp_path / "push.pcapng", tmp_path / "refserver.pcapng"
    plan = FlvPlan.build(load(make_test_sample()))
    config = dataclasses.replace(server_config(tmp_path), capture=served)
    with running(config) as server:
        tap = CaptureTap(pushed)
        target = PushTarget.parse(f"rtmp://127.0.0.1:{server.rtmp_port}/live/recorded")
        (stats,) = asyncio.run(EncoderFleet([target], plan, PublishOptions(capture=tap)).run(3.0))
        tap.close()
        # The server reads the publish's tail after the pusher is done; let it finish first.
        server.wait_for(lambda: not server.api("recorded")["live"], what="the stream to end")
    assert stats.video_frames > 0
    sides = []
    for capture in (pushed, served):
        (session,) = inspect_capture(capture).rtmp
        (stream,) = session.media_streams
        assert session.role == "publish"
        assert session.stream_names == ["recorded"]
        assert "NetStream.Publish.Start" in [code for _, code, _ in session.statuses]
        sides.append((stream.video_frames, stream.audio_frames))
    assert sides[0] == sides[1] == (stats.video_frames, stats.audio_frames)
