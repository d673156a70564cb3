"""Following a stream's HLS playlist on loopback: a segment's frames are timed from the playlist
that first listed it, and segments already listed when following began are left out."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from camsim.bench.hls import HlsFollower, follow, hls_url
from wire.codec.nal import VideoCodec
from wire.codec.stamp import stamp_sei_nal
from wire.ts.muxer import TsMuxer

SLICE = b"\x65\x88" + bytes(20)


def _segment(first: int, stamps: list[int]) -> bytes:
    muxer = TsMuxer(VideoCodec.H264, None, ())
    data = muxer.tables()
    for i, wallclock_us in enumerate(stamps):
        nalus = (stamp_sei_nal(VideoCodec.H264, first + i, wallclock_us), SLICE)
        data += muxer.video_access_unit(nalus, 9000 + 3000 * i, 9000 + 3000 * i, i == 0)
    return data


def _playlist(count: int) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:0"]
    for n in range(count):
        lines += ["#EXTINF:2.0,", f"seg{n}.ts"]
    return "\n".join(lines) + "\n"


def test_segments_are_timed_from_their_first_listing_and_the_backlog_is_left_out() -> None:
    now_us = time.time_ns() // 1000
    old = [now_us - 10_000_000 + n for n in range(3)]  # in the playlist before following began
    new = [now_us - 1_500_000 + n for n in range(3)]  # listed from the second reload on
    reloads: list[float] = []

    async def playlist(request: web.Request) -> web.Response:
        reloads.append(time.time())
        return web.Response(text=_playlist(1 if len(reloads) == 1 else 2))

    async def segment(request: web.Request) -> web.Response:
        stamps = old if request.match_info["n"] == "0" else new
        return web.Response(body=_segment(0, stamps))

    async def run() -> HlsFollower:
        app = web.Application()
        app.router.add_get("/live/cam1/index.m3u8", playlist)
        app.router.add_get("/live/cam1/seg{n}.ts", segment)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            url = hls_url(f"http://127.0.0.1:{port}/live/{{name}}/index.m3u8", "cam1?key=s")
            follower = HlsFollower(url)
            stop = asyncio.Event()
            task = asyncio.create_task(follow(follower, stop))
            for _ in range(40):  # bounded: at most 4 s
                if follower.segments:
                    break
                await asyncio.sleep(0.1)
            stop.set()
            return await asyncio.wait_for(task, 5)
        finally:
            await runner.cleanup()

    follower = asyncio.run(run())
    assert follower.url.endswith("/live/cam1/index.m3u8")
    assert follower.skipped == 1
    assert follower.segments == 1
    assert follower.target_duration == 2
    assert [stamp for stamp, _ in follower.frames] == new
    listed_us = {listed for _, listed in follower.frames}
    assert len(listed_us) == 1  # one listing times the whole segment
    (listed,) = listed_us
    assert reloads[1] * 1e6 <= listed <= reloads[1] * 1e6 + 1_000_000
    latencies = follower.latencies_ms(new[0], new[-1] + 1)
    assert latencies == [(listed - s) / 1000 for s in new]
    assert all(ms >= 1500 - 3 for ms in latencies)
    assert follower.latencies_ms(new[-1] + 1, now_us + 1) == []
