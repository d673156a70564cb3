"""The camera's RTSP dialogue and RTP over loopback, against the wire client."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from camsim.camera.fleet import FleetConfig, Layout
from camsim.media.loader import load
from tests.integration.camera.client import RtspTestClient, open_udp_ports, transport_of
from tests.integration.camera.harness import free_ports, running_fleet
from wire.codec.nal import H264_NAL_IDR, H264_NAL_PPS, H264_NAL_SPS, VideoCodec
from wire.codec.stamp import read_stamp_nalus
from wire.payload import H264Depacketizer, H265Depacketizer, VideoAccessUnit
from wire.rtp import (
    ReportBlock,
    RtcpBye,
    RtcpReceiverReport,
    RtcpSdes,
    RtcpSenderReport,
    RtpPacket,
    seq_diff,
    serialize_compound,
    timestamp_diff,
    unix_from_ntp,
)
from wire.rtsp import PortRange, RtpInfo
from wire.sdp import h264_parameter_sets, h265_parameter_sets


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 30))


def test_options_lists_the_methods(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            answer = await client.request("OPTIONS")
            assert answer.response.status_code == 200
            assert answer.response.headers["Public"] == (
                "DESCRIBE, GET_PARAMETER, OPTIONS, PAUSE, PLAY, SETUP, SET_PARAMETER, TEARDOWN"
            )

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def test_describe_gives_sdp_with_sprop_and_controls(config: FleetConfig, sample: Path) -> None:
    loaded = load(sample)
    video_track, audio_track = loaded.video, loaded.audio
    assert video_track is not None
    assert audio_track is not None

    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            answer, sdp = await client.describe()
            headers = answer.response.headers
            assert headers["Content-Type"] == "application/sdp"
            assert headers["Content-Base"] == url + "/"
            assert [m.media for m in sdp.media] == ["video", "audio"]
            assert [m.control for m in sdp.media] == ["trackID=0", "trackID=1"]
            assert sdp.control == "*"
            video, audio = sdp.media
            sets = h264_parameter_sets(video.fmtp(96))
            assert sets.problems == ()
            assert sets.nal_units == video_track.parameter_sets
            assert video.fmtp(96)["packetization-mode"] == "1"
            assert audio.fmtp(97)["config"] == audio_track.asc.hex()
            rtpmap = audio.rtpmap(97)
            assert rtpmap is not None
            assert rtpmap.clock_rate == audio_track.sample_rate

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[1]))


def test_unknown_camera_and_track_are_404(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            missing = await client.request("DESCRIBE", url.replace("/cam1", "/cam9"))
            assert missing.response.status_code == 404
            await client.describe()
            answer = await client.setup("trackID=7", "RTP/AVP/TCP;unicast;interleaved=0-1")
            assert answer.response.status_code == 404

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def test_tcp_play_matches_rtp_info_and_starts_on_a_keyframe(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            _, setups, play = await client.start_tcp()
            assert play.rtp_info is not None
            video_info = play.rtp_info.for_url(url + "/trackID=0")
            audio_info = play.rtp_info.for_url(url + "/trackID=1")
            assert video_info is not None
            assert audio_info is not None
            video = await client.rtp(0, 1)
            audio = await client.rtp(2, 1)
            assert (video[0].sequence_number, video[0].timestamp) == (
                video_info.seq,
                video_info.rtptime,
            )
            assert (audio[0].sequence_number, audio[0].timestamp) == (
                audio_info.seq,
                audio_info.rtptime,
            )
            assert video[0].ssrc == transport_of(setups[0]).ssrc
            assert audio[0].ssrc == transport_of(setups[1]).ssrc
            assert video[0].payload_type == 96
            # The first packet is a STAP-A with SPS and PPS in front of the keyframe.
            assert video[0].payload[0] & 0x1F == 24
            assert H264_NAL_SPS in _stap_types(video[0].payload)
            assert H264_NAL_PPS in _stap_types(video[0].payload)

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def _stap_types(payload: bytes) -> list[int]:
    types, pos = [], 1
    while pos + 2 <= len(payload):
        size = int.from_bytes(payload[pos : pos + 2], "big")
        types.append(payload[pos + 2] & 0x1F)
        pos += 2 + size
    return types


def test_udp_play_sends_to_client_ports(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        ports = await open_udp_ports()
        try:
            async with RtspTestClient(url) as client:
                await client.describe()
                answer = await client.setup("trackID=0", ports.transport())
                assert answer.response.status_code == 200
                reply = transport_of(answer)
                assert reply.client_port == ports.client_port
                assert reply.server_port is not None
                assert reply.server_port.last == reply.server_port.first + 1
                play = await client.play()
                packets = await ports.rtp_packets(20)
                assert play.rtp_info is not None
                (entry,) = play.rtp_info.entries
                assert packets[0].sequence_number == entry.seq
                assert packets[0].timestamp == entry.rtptime
                assert {p.ssrc for p in packets} == {reply.ssrc}
                assert all(
                    seq_diff(b.sequence_number, a.sequence_number) == 1 for a, b in _pairs(packets)
                )
        finally:
            ports.close()

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def _pairs(packets: list[RtpPacket]) -> list[tuple[RtpPacket, RtpPacket]]:
    return list(itertools.pairwise(packets))


def test_unsupported_transports_get_461(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            await client.describe()
            for transport in (
                "RTP/AVP;multicast;port=5000-5001",
                "RTP/SAVP;unicast;client_port=5000-5001",
                "RTP/AVP;unicast",
                "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record",
            ):
                answer = await client.setup("trackID=0", transport)
                assert answer.response.status_code == 461, transport
            # The first supported alternative wins.
            answer = await client.setup(
                "trackID=0", "RTP/SAVP;unicast;client_port=5000-5001,RTP/AVP/TCP;interleaved=4-5"
            )
            assert answer.response.status_code == 200
            assert transport_of(answer).interleaved == PortRange(4, 5)

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def test_clients_get_their_own_ssrc_sequence_and_timestamps(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as first, RtspTestClient(url) as second:
            await first.start_tcp()
            await second.start_tcp()
            one = await first.rtp(0, 30)
            two = await second.rtp(0, 30)
            assert one[0].ssrc != two[0].ssrc
            # Same media in both: the same timestamp steps from different origins.
            by_payload = {p.payload: p for p in one}
            common = [(by_payload[p.payload], p) for p in two if p.payload in by_payload]
            assert len(common) >= 10
            offsets = {(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in common}
            seq_offsets = {(b.sequence_number - a.sequence_number) & 0xFFFF for a, b in common}
            assert len(offsets) == 1
            assert len(seq_offsets) == 1
            assert offsets != {0}

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def test_loop_keeps_timestamps_and_sequence_continuous(short_sample: Path) -> None:
    config = FleetConfig(cameras=1, media=(short_sample,), report_interval=0)

    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            await client.start_tcp()
            packets = await client.rtp(0, 1)
            deadline = time.monotonic() + 2.5  # more than two loops of 1 s
            while time.monotonic() < deadline:
                packets += await client.rtp(0, 1)
            steps = [seq_diff(b.sequence_number, a.sequence_number) for a, b in _pairs(packets)]
            assert set(steps) == {1}
            ticks = [(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in _pairs(packets)]
            # 15 fps: every frame boundary is 6000 ticks, never a jump back or a stall.
            assert set(ticks) <= {0, 6000}
            assert sum(ticks) >= 2 * 90000

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def test_sender_reports_map_rtp_time_to_wallclock(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            _, setups, _ = await client.start_tcp()
            packets = await client.rtcp(1, timeout=6)  # a GOP, then up to 1.5 intervals
            report, sdes = packets
            assert isinstance(report, RtcpSenderReport)
            assert isinstance(sdes, RtcpSdes)
            assert report.ssrc == transport_of(setups[0]).ssrc
            assert sdes.cname(report.ssrc) == "cam1@camsim"
            assert abs(unix_from_ntp(report.ntp_timestamp) - time.time()) < 1.0
            latest = (await client.rtp(0, 1))[0]
            # The SR maps "now" to RTP time: within a frame or two of the latest packet.
            assert abs(timestamp_diff(latest.timestamp, report.rtp_timestamp)) < 90000 // 10

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def test_session_expires_without_keepalive(config: FleetConfig) -> None:
    # The pump's timer reaching the session timeout; what expiry does (the media stops, the
    # connection turns idle) is tested with a fake clock in tests/unit/camsim/camera.
    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            _, setups, _ = await client.start_tcp()
            assert setups[0].session is not None
            assert setups[0].session.timeout == 1
            await asyncio.sleep(1.5)
            client.drain_frames()
            await asyncio.sleep(0.3)
            assert client.drain_frames() == 0
            answer = await client.request("GET_PARAMETER")
            assert answer.response.status_code == 454

    with running_fleet(config, session_timeout=1) as fleet:
        run(scenario(fleet.urls[0]))


def test_receiver_reports_keep_the_session_alive(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            _, setups, _ = await client.start_tcp()
            ssrc = transport_of(setups[0]).ssrc
            assert ssrc is not None
            report = RtcpReceiverReport(0x1234, [ReportBlock(ssrc, 0, 0, 0, 0, 0, 0)])
            for _ in range(8):
                client.send_interleaved(1, serialize_compound([report]))
                await asyncio.sleep(0.3)
            client.drain_frames()
            assert len(await client.rtp(0, 5, timeout=1)) == 5
            answer = await client.request("GET_PARAMETER")
            assert answer.response.status_code == 200

    with running_fleet(config, session_timeout=1) as fleet:
        run(scenario(fleet.urls[0]))


def test_pause_stops_and_play_resumes_the_sequence(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            await client.start_tcp()
            before = await client.rtp(0, 5)
            pause = await client.request("PAUSE", client.connection.aggregate_url)
            assert pause.response.status_code == 200
            await asyncio.sleep(0.3)
            client.drain_frames()
            await asyncio.sleep(0.5)
            assert client.drain_frames() == 0
            play = await client.play()
            after = await client.rtp(0, 1)
            assert play.rtp_info is not None
            assert play.rtp_info.entries[0].seq == after[0].sequence_number
            assert seq_diff(after[0].sequence_number, before[-1].sequence_number) > 0

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def test_teardown_stops_and_parameters_answer(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            await client.start_tcp()
            await client.rtp(0, 3)
            keepalive = await client.request("GET_PARAMETER")
            assert keepalive.response.status_code == 200
            empty_set = await client.request("SET_PARAMETER")
            assert empty_set.response.status_code == 200
            named = await client.request(
                "SET_PARAMETER",
                headers=[("Content-Type", "text/parameters")],
                body=b"barparam: barstuff\r\n",
            )
            assert named.response.status_code == 451
            teardown = await client.request("TEARDOWN", client.connection.aggregate_url)
            assert teardown.response.status_code == 200
            await asyncio.sleep(0.3)
            client.drain_frames()
            await asyncio.sleep(0.4)
            assert client.drain_frames() == 0

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))
        assert fleet.call(lambda: fleet.fleet.status().clients) == 0


def test_sei_wallclock_is_stamped_at_send_time(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            await client.start_tcp()
            depacketizer = H264Depacketizer()
            units: list[VideoAccessUnit] = []
            while len(units) < 5:
                for packet in await client.rtp(0, 1):
                    events = depacketizer.receive(packet)
                    units += [e for e in events if isinstance(e, VideoAccessUnit)]
            received = time.time()
            for unit in units:
                stamp = read_stamp_nalus(VideoCodec.H264, unit.nal_units)
                assert stamp is not None
                assert 0 <= received - stamp.wallclock_us / 1e6 < 1.0

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def test_h265_camera(h265_sample: Path) -> None:
    config = FleetConfig(cameras=1, media=(h265_sample,), report_interval=0)
    video_track = load(h265_sample).video
    assert video_track is not None

    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            sdp, _, _ = await client.start_tcp()
            rtpmap = sdp.media[0].rtpmap(96)
            assert rtpmap is not None
            assert rtpmap.encoding_name == "H265"
            sets = h265_parameter_sets(sdp.media[0].fmtp(96))
            assert sets.nal_units == video_track.parameter_sets
            depacketizer = H265Depacketizer()
            units: list[VideoAccessUnit] = []
            while len(units) < 3:
                for packet in await client.rtp(0, 1):
                    units += [
                        e for e in depacketizer.receive(packet) if isinstance(e, VideoAccessUnit)
                    ]
            assert units[0].keyframe
            assert read_stamp_nalus(VideoCodec.H265, units[0].nal_units) is not None

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def test_shutdown_says_bye(config: FleetConfig) -> None:
    async def scenario(fleet_stop: Any, url: str) -> None:
        async with RtspTestClient(url) as client:
            _, setups, _ = await client.start_tcp()
            await client.rtp(0, 3)
            await asyncio.get_running_loop().run_in_executor(None, fleet_stop)
            byes: list[RtcpBye] = []
            while not byes:
                packets = await client.rtcp(1, timeout=3)
                byes = [p for p in packets if isinstance(p, RtcpBye)]
            assert byes[0].sources == [transport_of(setups[0]).ssrc]
            assert byes[0].reason == b"camera shutting down"
            await asyncio.wait_for(client.closed.wait(), 3)

    with running_fleet(config) as fleet:
        run(scenario(fleet.stop, fleet.urls[0]))


def test_ports_layout_gives_each_camera_a_port(config: FleetConfig) -> None:
    first = free_ports(3)

    async def scenario(urls: list[str]) -> None:
        for url in urls:
            async with RtspTestClient(url) as client:
                _, sdp = await client.describe()
                assert sdp.session_name == url.rsplit("/", 1)[1]

    with running_fleet(config, cameras=3, layout=Layout.PORTS, port=first) as fleet:
        assert fleet.urls == [f"rtsp://127.0.0.1:{first + i}/cam{i + 1}" for i in range(3)]
        run(scenario(fleet.urls))


def test_keyframe_is_complete_after_depacketizing(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            await client.start_tcp()
            depacketizer = H264Depacketizer()
            unit = None
            while unit is None:
                for packet in await client.rtp(0, 1):
                    done = [
                        e for e in depacketizer.receive(packet) if isinstance(e, VideoAccessUnit)
                    ]
                    unit = done[0] if done else None
            types = [nal[0] & 0x1F for nal in unit.nal_units]
            assert types[:2] == [H264_NAL_SPS, H264_NAL_PPS]
            assert H264_NAL_IDR in types

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


@pytest.mark.parametrize("body", [b"", b"position\r\n"])
def test_get_parameter_with_and_without_names(config: FleetConfig, body: bytes) -> None:
    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            answer = await client.request(
                "GET_PARAMETER", headers=[("Content-Type", "text/parameters")], body=body
            )
            assert answer.response.status_code == (451 if body else 200)

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def test_rtp_info_is_parseable(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            _, _, play = await client.start_tcp()
            value = play.response.headers["RTP-Info"]
            info = RtpInfo.parse(value)
            assert [e.url for e in info.entries] == [url + "/trackID=0", url + "/trackID=1"]
            assert play.response.headers["Range"] == "npt=0.000-"

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def test_media_files_are_assigned_round_robin(sample: Path, h265_sample: Path) -> None:
    config = FleetConfig(cameras=3, media=(sample, h265_sample), report_interval=0)

    async def scenario(urls: list[str]) -> list[str]:
        names = []
        for url in urls:
            async with RtspTestClient(url) as client:
                _, sdp = await client.describe()
                rtpmap = sdp.media[0].rtpmap(96)
                assert rtpmap is not None
                names.append(rtpmap.encoding_name)
        return names

    with running_fleet(config) as fleet:
        assert asyncio.run(scenario(fleet.urls)) == ["H264", "H265", "H264"]
        plans = {id(camera.plan) for camera in fleet.fleet.cameras}
        assert len(plans) == 2  # cameras of the same file share one packet plan
