"""Publishing into refserver over loopback: HLS out, HTTP headers, the JSON API, RTMPS, HEVC,
republish and shutdown."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from camsim.encoder.flv_source import FlvPlan
from refserver.coalescing import QUIET_AFTER
from refserver.http import MIME_PLAYLIST, MIME_SEGMENT, HttpOptions, static_dir
from tests.integration.refserver.harness import (
    RtmpPublisher,
    RunningServer,
    running,
    server_config,
)
from wire import flv
from wire.hls import check_playlist, parse
from wire.hls.validate import only_errors
from wire.rtmp.events import PublishStarted
from wire.ts.demuxer import demux

STREAM_TYPE_H264 = 0x1B
STREAM_TYPE_HEVC = 0x24
STREAM_TYPE_ADTS = 0x0F


def sent_frames(plan: FlvPlan, seconds: float) -> tuple[int, int]:
    """(video, audio) tags a publisher sends in ``seconds`` of one plan repetition."""
    limit = seconds * 1000
    video = sum(1 for f in plan.frames if f.type_id == flv.TAG_TYPE_VIDEO and f.offset_ms < limit)
    audio = sum(1 for f in plan.frames if f.type_id == flv.TAG_TYPE_AUDIO and f.offset_ms < limit)
    return video, audio


async def publish_once(
    port: int, name: str, plan: FlvPlan, seconds: float, *, tls: bool = False
) -> None:
    publisher = RtmpPublisher(port, tls=tls)
    started = await publisher.publish(name)
    assert isinstance(started, PublishStarted), publisher.events
    await publisher.send_plan(plan, seconds=seconds)
    await publisher.unpublish()


def test_publish_serves_hls_with_headers_and_stats(tmp_path: Path, h264_plan: FlvPlan):
    with running(server_config(tmp_path)) as server:
        asyncio.run(publish_once(server.rtmp_port, "cam1", h264_plan, 4))
        server.wait_for(lambda: not server.api("cam1")["live"], what="the stream to go offline")

        playlist = server.get("/live/cam1/index.m3u8")
        assert playlist.status == 200
        assert playlist.headers["Content-Type"] == MIME_PLAYLIST
        assert playlist.headers["Cache-Control"] == "no-cache"
        assert playlist.headers["Access-Control-Allow-Origin"] == "*"
        assert only_errors(check_playlist(playlist.body)) == []
        model = parse(playlist.body)
        assert [s.uri for s in model.segments] == [f"segment{n}.ts" for n in range(4)]
        # RTMP carries milliseconds: 15 fps frames are 66 or 67 ms apart.
        assert [s.duration for s in model.segments] == [pytest.approx(1.0, abs=0.002)] * 4

        segment = server.get("/live/cam1/segment0.ts")
        assert segment.status == 200
        assert segment.headers["Content-Type"] == MIME_SEGMENT
        assert segment.headers["Cache-Control"] == "public, max-age=60"
        assert segment.headers["Access-Control-Allow-Origin"] == "*"
        assert segment.body == (tmp_path / "hls" / "cam1" / "segment0.ts").read_bytes()
        packets = demux(segment.body)[1]
        assert {p.stream_type for p in packets} == {STREAM_TYPE_H264, STREAM_TYPE_ADTS}
        assert packets[0].random_access

        info = server.api("cam1")
        video, audio = sent_frames(h264_plan, 4)
        assert info["frames"] == {"video": video, "audio": audio}
        assert info["publishes"] == 1
        assert info["tracks"] == {"video": "h264", "audio": "mp4a.40.2", "audio_left_out": None}
        assert info["latency"]["samples"] == video
        assert 0 <= info["latency"]["p50"] <= info["latency"]["p95"] <= info["latency"]["p99"]
        assert info["latency"]["p99"] < 1.0
        assert info["hls"]["segments_written"] == 4
        assert info["metadata"]["width"] == 320.0
        listing = server.api()
        assert [s["name"] for s in listing["streams"]] == ["cam1"]


def test_api_reports_publisher_while_live(tmp_path: Path, h264_plan: FlvPlan):
    async def scenario(port: int) -> dict[str, object]:
        publisher = RtmpPublisher(port)
        assert isinstance(await publisher.publish("live1"), PublishStarted)
        await publisher.send_plan(h264_plan, seconds=1.5, realtime=True)
        info = await asyncio.to_thread(server.api, "live1")
        await publisher.unpublish()
        assert isinstance(info, dict)
        return info

    with running(server_config(tmp_path, http=HttpOptions(expose_addresses=True))) as server:
        info = asyncio.run(scenario(server.rtmp_port))
    assert info["live"] is True
    publisher = info["publisher"]
    assert isinstance(publisher, dict)
    assert publisher["protocol"] == "rtmp"
    assert str(publisher["address"]).startswith("127.0.0.1:")
    # 1.5 s of a 400 kbit/s sample over a 5 s window: clearly more than nothing.
    assert isinstance(info["bitrate"], int)
    assert info["bitrate"] > 50_000


def test_rtmps_publish(tmp_path: Path, h264_plan: FlvPlan):
    with running(server_config(tmp_path)) as server:
        asyncio.run(publish_once(server.rtmps_port, "secure", h264_plan, 3, tls=True))
        server.wait_for(lambda: not server.api("secure")["live"], what="the stream to go offline")
        info = server.api("secure")
        assert info["hls"]["segments_written"] == 3
        assert (tmp_path / "state" / "refserver-cert.pem").exists()


def test_enhanced_rtmp_hevc(tmp_path: Path, hevc_plan: FlvPlan):
    with running(server_config(tmp_path)) as server:
        asyncio.run(publish_once(server.rtmp_port, "hevc", hevc_plan, 3))
        server.wait_for(lambda: not server.api("hevc")["live"], what="the stream to go offline")
        assert server.api("hevc")["tracks"]["video"] == "h265"
        segment = server.get("/live/hevc/segment0.ts").body
        _demuxer, packets = demux(segment)
        video = [p for p in packets if p.stream_type == STREAM_TYPE_HEVC]
        assert video
        # An H.265 access unit delimiter (type 35) starts every picture the muxer writes.
        assert video[0].data.startswith(b"\x00\x00\x00\x01\x46\x01")


def test_republish_continues_the_stream_after_a_discontinuity(tmp_path: Path, h264_plan: FlvPlan):
    with running(server_config(tmp_path)) as server:
        asyncio.run(publish_once(server.rtmp_port, "again", h264_plan, 2))
        server.wait_for(lambda: not server.api("again")["live"], what="the first publish to end")
        asyncio.run(publish_once(server.rtmp_port, "again", h264_plan, 2))
        server.wait_for(lambda: not server.api("again")["live"], what="the second publish to end")
        model = parse(server.get("/live/again/index.m3u8").body)
        assert [s.uri for s in model.segments] == [f"segment{n}.ts" for n in range(4)]
        assert [s.discontinuity for s in model.segments] == [False, False, True, False]
        info = server.api("again")
        assert info["publishes"] == 2
        assert info["hls"]["discontinuities"] == 1


def test_codec_change_on_republish_is_a_discontinuity(
    tmp_path: Path, h264_plan: FlvPlan, hevc_plan: FlvPlan
):
    with running(server_config(tmp_path)) as server:
        asyncio.run(publish_once(server.rtmp_port, "switch", h264_plan, 2))
        server.wait_for(lambda: not server.api("switch")["live"], what="the first publish to end")
        asyncio.run(publish_once(server.rtmp_port, "switch", hevc_plan, 2))
        server.wait_for(lambda: not server.api("switch")["live"], what="the second to end")
        model = parse(server.get("/live/switch/index.m3u8").body)
        assert [s.discontinuity for s in model.segments] == [False, False, True, False]
        assert server.api("switch")["tracks"]["video"] == "h265"


def test_shutdown_finishes_segments_and_playlists(tmp_path: Path, h264_plan: FlvPlan):
    async def publish_and_hold(port: int) -> RtmpPublisher:
        publisher = RtmpPublisher(port)
        assert isinstance(await publisher.publish("held"), PublishStarted)
        await publisher.send_plan(h264_plan, seconds=2.5)
        return publisher

    with running(server_config(tmp_path)) as server:
        loop = asyncio.new_event_loop()
        publisher = loop.run_until_complete(publish_and_hold(server.rtmp_port))
        server.wait_for(
            lambda: server.api("held")["frames"]["video"] == sent_frames(h264_plan, 2.5)[0],
            what="every frame to arrive",
        )
        assert server.api("held")["hls"]["segments_written"] == 2
    # The server has stopped with the publisher still connected.
    assert loop.run_until_complete(publisher.wait_closed_by_server(5))
    loop.close()
    model = parse((tmp_path / "hls" / "held" / "index.m3u8").read_bytes())
    assert model.endlist
    assert [s.uri for s in model.segments] == ["segment0.ts", "segment1.ts", "segment2.ts"]
    assert (
        only_errors(
            check_playlist((tmp_path / "hls" / "held" / "index.m3u8").read_bytes(), live=False)
        )
        == []
    )


def test_index_page_lists_streams_with_a_player(tmp_path: Path, h264_plan: FlvPlan):
    with running(server_config(tmp_path)) as server:
        empty = server.get("/")
        assert empty.status == 200
        assert b"No stream is being published" in empty.body
        asyncio.run(publish_once(server.rtmp_port, "shown", h264_plan, 1))
        page = server.get("/?play=shown")
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert b'<script src="/static/hls.min.js"></script>' in page.body
        assert b'data-stream="shown" data-src="/live/shown/index.m3u8"' in page.body
        assert b'const wanted = "shown";' in page.body
        script = server.get("/static/hls.min.js")
        assert script.status == 200
        assert script.headers["Content-Type"] == "text/javascript"
        assert script.body == (static_dir() / "hls.min.js").read_bytes()
        assert server.get("/static/index.html").status == 404
        # The player page escapes what it shows.
        hostile = server.get("/?play=%3C%2Fscript%3E")
        assert b'</script>";' not in hostile.body


@pytest.mark.parametrize("tls", [False, True], ids=["rtmp", "rtmps"])
def test_merged_reads_lose_nothing_and_hold_nothing_back(
    tmp_path: Path, h264_plan: FlvPlan, tls: bool
):
    """A realtime publisher that then goes quiet without closing: with merged reads every frame
    it sent is counted within QUIET_AFTER, and the segments are what they are without them."""

    video, audio = sent_frames(h264_plan, 3.5)

    async def scenario(server: RunningServer, port: int) -> None:
        publisher = RtmpPublisher(port, tls=tls)
        assert isinstance(await publisher.publish("merged"), PublishStarted)
        await publisher.send_plan(h264_plan, seconds=3.5, realtime=True)
        # The connection stays open and silent while the server is watched.
        await asyncio.to_thread(
            server.wait_for,
            lambda: server.api("merged")["frames"] == {"video": video, "audio": audio},
            QUIET_AFTER + 2.0,
            "every frame sent before the publisher went quiet",
        )
        publisher.abort()

    with running(server_config(tmp_path, merge_reads=True)) as server:
        asyncio.run(scenario(server, server.rtmps_port if tls else server.rtmp_port))
        info = server.api("merged")
        assert info["frames"] == {"video": video, "audio": audio}
        assert info["hls"]["segments_written"] >= 3
        playlist = server.get("/live/merged/index.m3u8")
        assert only_errors(check_playlist(playlist.body)) == []
