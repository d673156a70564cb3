"""A UDP pull whose datagrams arrive reordered, on a fake clock with no sockets.

The camera sends a keyframe as a burst of datagrams, and a few milliseconds of jitter shuffle
the burst: the first datagram to arrive is seldom the first one sent. The attempt must start
the stream where ``RTP-Info`` says it starts and wait for the packets sent before the first
arrival, instead of dropping them as late (which loses the parameter sets and the head of the
first keyframe, and with them the whole first group of pictures). A first packet that is
really lost is still given up on :data:`GAP_WAIT` after the gap opened, and packets in order
pass through at once.
"""

from __future__ import annotations

import random

from refserver.config import PullTransport
from refserver.hls import Frame
from refserver.pull.attempt import GAP_WAIT, Phase
from tests.unit.refserver.pull.fake_clock import Dialog, start
from tests.unit.refserver.pull.scripted_camera import PPS, SPS, ScriptedTrack, h264_packets
from tests.unit.refserver.pull.test_attempt import SDP, TIMEOUTS, UdpCamera
from wire.rtp import RtpPacket
from wire.rtsp import PortRange

CAMERA = ("127.0.0.1", 6970)
FPS = 15
FIRST_SEQ = 1000  # where h264_packets numbers from
FIRST_TIMESTAMP = 3_000_000


def udp_camera(rtp_info: bool = True) -> UdpCamera:
    cam = UdpCamera(SDP, [ScriptedTrack("trackID=1", [])])
    if rtp_info:
        cam.rtp_info = f"url={{url}}/trackID=1;seq={FIRST_SEQ};rtptime={FIRST_TIMESTAMP}"
    return cam


def udp_dialog(cam: UdpCamera) -> Dialog:
    dialog = start(cam, timeouts=TIMEOUTS, transport=PullTransport.UDP)
    dialog.attempt.udp_ports_bound(0, PortRange(5000, 5001), "127.0.0.1", dialog.now)
    dialog.pump()
    return dialog


def pictures(seconds: float = 2.0) -> list[list[RtpPacket]]:
    """The packets of each picture, in send order."""
    by_timestamp: dict[int, list[RtpPacket]] = {}
    for _, packet in h264_packets(SPS, PPS, seconds=seconds, fps=FPS):
        by_timestamp.setdefault(packet.timestamp, []).append(packet)
    return list(by_timestamp.values())


def reordered(packets: list[RtpPacket], seed: int) -> list[RtpPacket]:
    """``packets`` shuffled, never with the first one sent arriving first."""
    shuffled = list(packets)
    random.Random(seed).shuffle(shuffled)
    if shuffled[0] is packets[0]:
        shuffled.append(shuffled.pop(0))
    return shuffled


def send(dialog: Dialog, packets: list[RtpPacket]) -> None:
    for packet in packets:
        dialog.attempt.receive_datagram(packet.serialize(), CAMERA, dialog.now, 0, False)


def picture_times(frames: list[Frame]) -> list[int]:
    return [frame.pts for frame in frames]


def expected_times(count: int) -> list[int]:
    return [10 * 90_000 + n * 90_000 // FPS for n in range(count)]


def frames_of(dialog: Dialog) -> list[Frame]:
    return [frame for _, frame, _ in dialog.sink.frames]


def test_a_reordered_first_keyframe_is_waited_for_and_every_picture_comes_out() -> None:
    dialog = udp_dialog(udp_camera())
    assert dialog.attempt.phase is Phase.PLAYING
    units = pictures()
    assert len(units[0]) > 10  # a keyframe: a burst of datagrams
    for index, unit in enumerate(units):
        send(dialog, reordered(unit, seed=index))
        dialog.advance(dialog.now + 1 / FPS)
    frames = frames_of(dialog)
    assert picture_times(frames) == expected_times(len(units))
    assert frames[0].keyframe
    assert dialog.attempt.presentation is not None
    (track,) = dialog.attempt.presentation.tracks
    assert track.lost == 0


def test_rtp_that_beats_the_play_answer_is_reordered_from_the_announced_start() -> None:
    cam = udp_camera()
    cam.mute = {"PLAY"}
    dialog = udp_dialog(cam)
    assert dialog.attempt.phase is Phase.PLAY
    units = pictures(seconds=1.0)
    send(dialog, reordered(units[0], seed=7))
    assert dialog.sink.presentation is None  # still waiting for the answer
    (play,) = [r for r in cam.requests if r.method == "PLAY"]
    dialog.attempt.receive_data(cam.answer(play).serialize(), dialog.now)
    dialog.pump()
    assert dialog.sink.presentation is not None
    for unit in units[1:]:
        send(dialog, unit)
    assert picture_times(frames_of(dialog)) == expected_times(len(units))


def test_without_rtp_info_rtp_that_beats_the_play_answer_starts_at_its_earliest_packet() -> None:
    cam = udp_camera(rtp_info=False)
    cam.mute = {"PLAY"}
    dialog = udp_dialog(cam)
    units = pictures(seconds=1.0)
    send(dialog, reordered(units[0], seed=3))
    (play,) = [r for r in cam.requests if r.method == "PLAY"]
    dialog.attempt.receive_data(cam.answer(play).serialize(), dialog.now)
    dialog.pump()
    for unit in units[1:]:
        send(dialog, unit)
    assert picture_times(frames_of(dialog)) == expected_times(len(units))


def test_a_first_packet_really_lost_is_given_up_on_gap_wait_after_the_gap_opened() -> None:
    dialog = udp_dialog(udp_camera())
    units = pictures()
    first_arrival = dialog.now = dialog.now + 0.05
    send(dialog, units[0][1:])  # the first packet sent never comes
    for unit in units[1:5]:
        send(dialog, unit)
    assert frames_of(dialog) == []  # held behind the missing first packet
    assert dialog.attempt.get_timer() == first_arrival + GAP_WAIT
    dialog.advance(first_arrival + GAP_WAIT - 0.001)
    assert frames_of(dialog) == []
    dialog.advance(first_arrival + GAP_WAIT)
    # The first keyframe lost its head, so the pictures until the next keyframe go too...
    assert frames_of(dialog) == []
    for unit in units[5:]:
        send(dialog, unit)
    # ...and from it on every picture comes out, the moment its packets are in.
    assert picture_times(frames_of(dialog)) == expected_times(len(units))[FPS:]


def test_packets_in_order_pass_through_at_once() -> None:
    dialog = udp_dialog(udp_camera())
    for index, unit in enumerate(pictures()):
        send(dialog, unit)
        # Each picture is out the moment its last packet is in, with no wait for a gap.
        assert picture_times(frames_of(dialog)) == expected_times(index + 1)
        timer = dialog.attempt.get_timer()  # the report or the media timeout, no gap's wait
        assert timer is not None
        assert timer > dialog.now + GAP_WAIT
        dialog.now += 1 / FPS


def test_rtp_info_the_packets_contradict_starts_at_the_first_packet_without_waiting() -> None:
    cam = udp_camera(rtp_info=False)
    cam.rtp_info = f"url={{url}}/trackID=1;seq={FIRST_SEQ + 1000};rtptime={FIRST_TIMESTAMP}"
    dialog = udp_dialog(cam)
    units = pictures()
    for index, unit in enumerate(units):
        send(dialog, unit)
        assert len(frames_of(dialog)) == index + 1
    assert picture_times(frames_of(dialog)) == expected_times(len(units))
