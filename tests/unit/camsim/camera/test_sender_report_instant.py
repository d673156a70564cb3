"""An RTCP sender report's NTP and RTP timestamps name one instant (RFC 3550 §6.4.1).

The connection is driven as the pump drives it, with fake clocks: the loop clock and the
wallclock advance together, and the timer is served late, as on a busy event loop, where the
time the pump read (``now``) is behind the clocks by the time the loop spent elsewhere.
"""

from __future__ import annotations

import dataclasses

from camsim.camera.control import ServerSettings
from tests.unit.camsim.camera.test_connection import (
    SETTINGS,
    Client,
    FakeCamera,
    FakeServer,
    playing,
    rtcp_frames,
)
from wire.rtp import RtcpSenderReport, parse_compound, unix_from_ntp

EPOCH = 1_700_000_000.0
"""Unix time at loop time 0."""

CLOCK_RATE = 90000  # FakeCamera's one track; its media clock starts at loop time 0


class FakeClocks:
    """A loop clock and a wallclock that move together, set by the test."""

    def __init__(self) -> None:
        self.loop = 0.0

    def monotonic(self) -> float:
        return self.loop

    def wallclock(self) -> float:
        return EPOCH + self.loop


def reports_of(client: Client) -> list[RtcpSenderReport]:
    reports = []
    for frame in rtcp_frames(bytes(client.transport.written), channel=1):
        report = parse_compound(frame)[0]
        assert isinstance(report, RtcpSenderReport)
        reports.append(report)
    return reports


def test_a_late_timer_dates_both_timestamps_at_the_same_instant() -> None:
    clocks = FakeClocks()
    settings: ServerSettings = dataclasses.replace(
        SETTINGS, wallclock=clocks.wallclock, loop_clock=clocks.monotonic
    )
    client = Client(FakeServer(FakeCamera(), settings))
    playing(client, 0.0)
    control = client.connection.control
    assert control is not None
    (media,) = control.sessions.values()
    sender = media.streams[0].sender
    sender.packet_count = 10  # it has sent RTP: reports are due
    client.transport.written.clear()

    lateness = (0.0, 0.138, 0.9)  # the loop was busy this long after reading ``now``
    for late in lateness:
        due = client.timer()
        assert due is not None
        clocks.loop = due + late
        client.fire(due)
        report = reports_of(client)[-1]
        # The RTP time is the media clock at ``due``; the NTP time must be that same instant.
        assert report.rtp_timestamp == sender.timestamp(int(due * CLOCK_RATE))
        assert abs(unix_from_ntp(report.ntp_timestamp) - (EPOCH + due)) < 1e-6, late
    assert len(reports_of(client)) == len(lateness)


def test_reports_agree_with_each_other_whatever_the_lateness() -> None:
    """Two reports' NTP distance equals their RTP distance over the clock rate."""
    clocks = FakeClocks()
    settings = dataclasses.replace(
        SETTINGS, wallclock=clocks.wallclock, loop_clock=clocks.monotonic
    )
    client = Client(FakeServer(FakeCamera(), settings))
    playing(client, 0.0)
    control = client.connection.control
    assert control is not None
    (media,) = control.sessions.values()
    media.streams[0].sender.packet_count = 10
    client.transport.written.clear()
    for late in (0.25, 0.0):  # the first report served late, the second on time
        due = client.timer()
        assert due is not None
        clocks.loop = due + late
        client.fire(due)
    first, second = reports_of(client)[-2:]
    ntp_seconds = unix_from_ntp(second.ntp_timestamp) - unix_from_ntp(first.ntp_timestamp)
    rtp_seconds = ((second.rtp_timestamp - first.rtp_timestamp) & 0xFFFFFFFF) / CLOCK_RATE
    assert abs(ntp_seconds - rtp_seconds) < 1e-4
