"""Every quirk profile, observed on the wire by a client of a camera that has it."""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from camsim.camera.fleet import FleetConfig
from camsim.camera.quirks import MIXED, REGISTRY, assign
from camsim.camera.quirks.packets import OVERSIZED_PAYLOAD_SIZE
from camsim.camera.quirks.rtsp import RTP_INFO_RTPTIME_SKEW, RTP_INFO_SEQ_SKEW
from camsim.camera.quirks.timing import JUMP_AFTER, JUMP_SECONDS, STALL_AFTER
from camsim.cli import main
from camsim.media.loader import load
from tests.integration.camera.client import RtspTestClient, open_udp_ports, transport_of
from tests.integration.camera.harness import running_fleet
from wire.codec.nal import H264_NAL_PPS, H264_NAL_SEI, H264_NAL_SPS, START_CODE
from wire.rtp import RtcpSenderReport, RtpPacket, parse_compound
from wire.rtsp import InterleavedFrameReceived, ResponseReceived
from wire.sdp import h264_parameter_sets

Check = Callable[[RtspTestClient, str, Path], Awaitable[None]]
CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    def register(function: Check) -> Check:
        CHECKS[name] = function
        return function

    return register


def video_fmtp(client_sdp: Any) -> dict[str, str]:
    fmtp: dict[str, str] = client_sdp.media[0].fmtp(96)
    return fmtp


async def video_packets(client: RtspTestClient, count: int) -> list[RtpPacket]:
    await client.start_tcp()
    return await client.rtp(0, count)


@check("no-sprop")
async def _no_sprop(client: RtspTestClient, url: str, sample: Path) -> None:
    _, sdp = await client.describe()
    fmtp = video_fmtp(sdp)
    assert "sprop-parameter-sets" not in fmtp
    assert fmtp["packetization-mode"] == "1"
    # The parameter sets still come in band, in front of the first keyframe.
    for index, media in enumerate(sdp.media):
        await client.setup_tcp(media.control or "", 2 * index)
    await client.play()
    first = (await client.rtp(0, 1))[0]
    assert first.payload[0] & 0x1F == 24  # STAP-A
    assert first.payload[3] & 0x1F == H264_NAL_SPS


@check("sprop-missing-pps")
async def _missing_pps(client: RtspTestClient, url: str, sample: Path) -> None:
    _, sdp = await client.describe()
    sets = h264_parameter_sets(video_fmtp(sdp))
    assert sets.problems == ("no PPS in sprop-parameter-sets",)
    assert [nal[0] & 0x1F for nal in sets.nal_units] == [H264_NAL_SPS]


@check("garbage-sprop")
async def _garbage(client: RtspTestClient, url: str, sample: Path) -> None:
    loaded = load(sample)
    assert loaded.video is not None
    sps, pps = loaded.video.parameter_sets
    _, sdp = await client.describe()
    items = [base64.b64decode(i) for i in video_fmtp(sdp)["sprop-parameter-sets"].split(",")]
    assert items == [sps[: len(sps) // 2], pps + bytes(16)]


@check("marker-on-parameter-sets")
async def _marker_on_sets(client: RtspTestClient, url: str, sample: Path) -> None:
    packets = await video_packets(client, 4)
    types = [p.payload[0] & 0x1F for p in packets[:3]]
    assert types == [H264_NAL_SPS, H264_NAL_PPS, H264_NAL_SEI]
    assert [p.marker for p in packets[:3]] == [True, True, True]
    assert packets[0].timestamp == packets[3].timestamp


@check("no-marker")
async def _no_marker(client: RtspTestClient, url: str, sample: Path) -> None:
    packets = await video_packets(client, 60)
    assert len({p.timestamp for p in packets}) > 3
    assert not any(p.marker for p in packets)


@check("oversized-nal")
async def _oversized(client: RtspTestClient, url: str, sample: Path) -> None:
    packets = await video_packets(client, 10)
    largest = max(len(p.payload) for p in packets)
    assert 1500 < largest <= OVERSIZED_PAYLOAD_SIZE
    # Every slice of the small sample travels whole: nothing is fragmented.
    assert not [p for p in packets if p.payload[0] & 0x1F == 28]


@check("fu-start-end")
async def _fu_start_end(client: RtspTestClient, url: str, sample: Path) -> None:
    packets = await video_packets(client, 40)
    single = [p for p in packets if p.payload[0] & 0x1F == 28 and p.payload[1] & 0xC0 == 0xC0]
    assert single
    assert {p.payload[1] & 0x1F for p in single} >= {H264_NAL_SEI}


@check("annexb-in-rtp")
async def _annexb(client: RtspTestClient, url: str, sample: Path) -> None:
    first = (await video_packets(client, 1))[0]
    assert first.payload[0] & 0x1F == H264_NAL_SPS
    sps, pps = first.payload.split(START_CODE)
    assert (sps[0] & 0x1F, pps[0] & 0x1F) == (H264_NAL_SPS, H264_NAL_PPS)


@check("timestamp-jump")
async def _jump(client: RtspTestClient, url: str, sample: Path) -> None:
    packets = await video_packets(client, 1)
    deadline = time.monotonic() + JUMP_AFTER + 2.5  # the first keyframe may take a GOP
    while time.monotonic() < deadline:
        packets += await client.rtp(0, 1)
    steps = [(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in itertools.pairwise(packets)]
    jumps = [s for s in steps if s > 90000]
    assert jumps == [int(JUMP_SECONDS * 90000) + 6000]
    assert set(steps) - set(jumps) <= {0, 6000}


@check("media-stall")
async def _stall(client: RtspTestClient, url: str, sample: Path) -> None:
    await client.start_tcp()
    began = time.monotonic()
    assert len(await client.rtp(0, 5)) == 5
    await asyncio.sleep(max(began + STALL_AFTER + 0.5 - time.monotonic(), 0))
    client.drain_frames()
    reports = await client.rtcp(1, timeout=3.0)  # the fixture's fleet reports every ~1 s
    assert isinstance(reports[0], RtcpSenderReport)
    answer = await client.request("OPTIONS")
    assert answer.response.status_code == 200
    await asyncio.sleep(1.6)  # reports leave 0.5 to 1.5 report intervals apart
    frames = []
    while not client.frames.empty():
        frames.append(client.frames.get_nowait())
    assert frames  # more sender reports
    assert {frame.channel for frame in frames} <= {1, 3}
    assert not client.closed.is_set()


@check("rtp-info-mismatch")
async def _rtp_info(client: RtspTestClient, url: str, sample: Path) -> None:
    _, _, play = await client.start_tcp()
    assert play.rtp_info is not None
    entry = play.rtp_info.for_url(url + "/trackID=0")
    assert entry is not None
    first = (await client.rtp(0, 1))[0]
    assert entry.seq == (first.sequence_number + RTP_INFO_SEQ_SKEW) & 0xFFFF
    assert entry.rtptime == (first.timestamp + RTP_INFO_RTPTIME_SKEW) & 0xFFFFFFFF


@check("short-session-timeout")
async def _short_timeout(client: RtspTestClient, url: str, sample: Path) -> None:
    _, setups, _ = await client.start_tcp()
    assert setups[0].session is not None
    assert setups[0].session.timeout == 5
    await client.rtp(0, 1)
    # That the session then expires after 5 s is tested with a fake clock
    # (tests/unit/camsim/camera/test_connection.py), not by waiting for it here.


@check("get-parameter-454")
async def _get_parameter(client: RtspTestClient, url: str, sample: Path) -> None:
    await client.start_tcp()
    answer = await client.request("GET_PARAMETER")
    assert answer.response.status_code == 454
    options = await client.request("OPTIONS")
    assert options.response.status_code == 200
    assert len(await client.rtp(0, 5)) == 5  # the session plays on


@check("set-parameter-wrong-cseq")
async def _set_parameter(client: RtspTestClient, url: str, sample: Path) -> None:
    await client.start_tcp()
    answer = await client.request("SET_PARAMETER", body=b"a: b\r\n")
    assert answer.response.status_code == 400
    sent = answer.request.cseq
    assert sent is not None
    assert answer.response.cseq == sent + 1


@check("keepalive-unanswered")
async def _keepalive(client: RtspTestClient, url: str, sample: Path) -> None:
    await client.start_tcp()
    for method in ("OPTIONS", "GET_PARAMETER"):
        with pytest.raises(TimeoutError):
            await client.request(method, timeout=1.0)
    answers = [e for e in client.events if isinstance(e, ResponseReceived)]
    assert [a.request.method for a in answers][-1] == "PLAY"
    assert len(await client.rtp(0, 3)) == 3


@check("odd-ssrc")
async def _odd_ssrc(client: RtspTestClient, url: str, sample: Path) -> None:
    _, setups, _ = await client.start_tcp()
    text = setups[0].response.headers["Transport"]
    match = re.search(r";ssrc= ([0-9a-f]{6})(;|$)", text)
    assert match is not None, text
    first = (await client.rtp(0, 1))[0]
    assert first.ssrc == int(match[1], 16)


@check("no-server-port")
async def _no_server_port(client: RtspTestClient, url: str, sample: Path) -> None:
    ports = await open_udp_ports()
    try:
        await client.describe()
        answer = await client.setup("trackID=0", ports.transport())
        assert answer.response.status_code == 200
        assert "server_port" not in answer.response.headers["Transport"]
        assert transport_of(answer).client_port == ports.client_port
        await client.play()
        assert len(await ports.rtp_packets(3)) == 3
    finally:
        ports.close()


@check("changed-interleaved")
async def _changed(client: RtspTestClient, url: str, sample: Path) -> None:
    await client.describe()
    answer = await client.setup_tcp("trackID=0", 0)
    interleaved = transport_of(answer).interleaved
    assert interleaved is not None
    assert (interleaved.first, interleaved.last) == (2, 3)
    await client.play()
    assert len(await client.rtp(2, 3)) == 3


@check("interleaved-without-tcp")
async def _without_tcp(client: RtspTestClient, url: str, sample: Path) -> None:
    await client.describe()
    answer = await client.setup_tcp("trackID=0", 0)
    assert answer.response.headers["Transport"].startswith("RTP/AVP;unicast;interleaved=0-1;")
    await client.play()
    assert len(await client.rtp(0, 3)) == 3


@check("schemeless-content-base")
async def _schemeless(client: RtspTestClient, url: str, sample: Path) -> None:
    answer, _ = await client.describe()
    assert answer.response.headers["Content-Base"] == url.removeprefix("rtsp://") + "/"
    # The wire client resolves it against the request URL, and SETUP still works.
    assert client.connection.aggregate_url == url + "/"
    assert (await client.setup_tcp("trackID=0", 0)).response.status_code == 200


@check("sr-before-play")
async def _sr_first(client: RtspTestClient, url: str, sample: Path) -> None:
    _, setups, play = await client.start_tcp()
    order = client.events.index(play)
    early = [e for e in client.events[:order] if isinstance(e, InterleavedFrameReceived)]
    assert [e.channel for e in early] == [1, 3]
    report = parse_compound(early[0].payload)[0]
    assert isinstance(report, RtcpSenderReport)
    assert report.ssrc == transport_of(setups[0]).ssrc
    assert report.packet_count == 0


def test_every_profile_has_a_wire_check() -> None:
    assert sorted(CHECKS) == sorted(REGISTRY)
    assert len(REGISTRY) >= 10
    for profile in REGISTRY.values():
        assert profile.summary
        assert profile.devices
        assert profile.client_must


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_quirk_is_on_the_wire(config: FleetConfig, sample: Path, name: str) -> None:
    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            await CHECKS[name](client, url, sample)

    with running_fleet(config, cameras=1, quirks=(name,)) as fleet:
        run(scenario(fleet.urls[0]))


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 30))


def test_mixed_assignment_is_seeded() -> None:
    first = [q.names for q in assign([MIXED], 40, seed=7)]
    again = [q.names for q in assign([MIXED], 40, seed=7)]
    other = [q.names for q in assign([MIXED], 40, seed=8)]
    assert first == again
    assert first != other
    assert () in first  # some cameras stay clean
    assert len({names for names in first if names}) > 5
    assert all(len(names) <= 1 for names in first)


def test_named_profiles_apply_to_every_camera() -> None:
    quirks = assign(["no-sprop", "odd-ssrc"], 3, seed=0)
    assert [q.names for q in quirks] == [("no-sprop", "odd-ssrc")] * 3
    with pytest.raises(ValueError, match="unknown quirk profile 'nope'"):
        assign(["nope"], 1, seed=0)
    with pytest.raises(ValueError, match="cannot be combined"):
        assign([MIXED, "no-sprop"], 1, seed=0)


def test_list_quirks_names_every_profile() -> None:
    result = CliRunner().invoke(main, ["run", "--list-quirks"])
    assert result.exit_code == 0
    listed = re.findall(r"^(\S+)$", result.output, re.MULTILINE)
    assert listed == [*sorted(REGISTRY), MIXED]
    assert "client must:" in result.output
