"""The NAT table (cone and symmetric, expiry) and the named fault settings."""

from __future__ import annotations

import pytest

from camsim.fault.config import FaultConfig, parse_settings
from camsim.fault.impair import GilbertElliott
from camsim.fault.nat import NatKind, NatTable

CAMERA = ("127.0.0.1", 6000)
CLIENT_RTP = ("127.0.0.1", 7000)
CLIENT_RTSP = ("127.0.0.1", 5555)
STRANGER = ("127.0.0.1", 9999)


def test_cone_one_mapping_per_inside_address_open_to_anyone() -> None:
    table: NatTable[str] = NatTable(NatKind.CONE)
    mapping = table.add(CAMERA, CLIENT_RTSP, "port-a", now=0.0)
    assert table.find(CAMERA, CLIENT_RTP) is mapping  # another destination, same mapping
    assert table.admits(mapping, CLIENT_RTP)
    assert table.admits(mapping, STRANGER)


def test_symmetric_new_mapping_per_destination_and_only_it_gets_back_in() -> None:
    table: NatTable[str] = NatTable(NatKind.SYMMETRIC)
    announced = table.add(CAMERA, CLIENT_RTSP, "port-a", now=0.0)
    assert table.find(CAMERA, CLIENT_RTP) is None  # RTP to the client needs its own mapping
    actual = table.add(CAMERA, CLIENT_RTP, "port-b", now=0.0)
    assert actual is not announced
    assert table.admits(actual, CLIENT_RTP)
    assert not table.admits(actual, STRANGER)
    assert not table.admits(announced, CLIENT_RTP)
    with pytest.raises(ValueError, match="exists already"):
        table.add(CAMERA, CLIENT_RTP, "port-c", now=0.0)


def test_mappings_expire_after_the_last_packet_out() -> None:
    table: NatTable[str] = NatTable(NatKind.CONE, timeout=30.0)
    mapping = table.add(CAMERA, CLIENT_RTP, "port-a", now=0.0)
    assert table.next_expiry() == 30.0
    table.refresh(mapping, now=20.0)
    assert table.expire(now=49.9) == []
    assert table.next_expiry() == 50.0
    assert table.expire(now=50.0) == [mapping]
    assert mapping.expired
    assert not table.admits(mapping, CLIENT_RTP)
    assert table.find(CAMERA, CLIENT_RTP) is None
    assert len(table) == 0


def test_no_timeout_never_expires() -> None:
    table: NatTable[str] = NatTable(NatKind.CONE)
    table.add(CAMERA, CLIENT_RTP, "port-a", now=0.0)
    assert table.next_expiry() is None
    assert table.expire(now=1e9) == []


def test_settings_by_name_both_ways_and_per_direction() -> None:
    values = parse_settings(
        {"loss": "5%", "down_delay": "50ms", "burst": "1%,25%", "nat": "symmetric", "stall": True}
    )
    config = FaultConfig().changed(**values)
    assert config.up.loss == config.down.loss == pytest.approx(0.05)
    assert config.down.delay == pytest.approx(0.05)
    assert config.up.delay == 0.0
    assert config.up.burst == GilbertElliott(0.01, 0.25)
    assert config.nat is NatKind.SYMMETRIC
    assert config.stall is True
    assert config.to_json()["down"]["delay"] == pytest.approx(0.05)
    cleared = config.changed(**parse_settings({"burst": "none", "rate": None}))
    assert cleared.up.burst is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"lost": "1"}, "unknown fault setting 'lost'"),
        ({"loss": "7"}, r"loss: probability must be a probability in \[0, 1\]"),
        ({"nat": "full"}, "nat: 'full' is not a valid NatKind"),
        ({"stall": "maybe"}, "stall: expected true or false"),
    ],
)
def test_bad_settings_name_themselves(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_settings(settings)
