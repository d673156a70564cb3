"""The fault scenario catalogue: every named scenario is there, seeded, and its timeline is what
the proxy is told (each window's settings at its start, the settings before it at its end)."""

from __future__ import annotations

import pytest

from camsim.fault.config import FaultConfig, parse_settings
from camsim.fault.scenarios import (
    SCENARIOS,
    DeviceFault,
    FaultScenario,
    FaultWindow,
    Role,
    UnknownScenario,
    get_scenario,
    register,
    scenarios,
)

REQUIRED = {
    "loss-1",
    "loss-5-burst",
    "jitter-50ms",
    "reorder",
    "bandwidth-below-bitrate",
    "udp-blocked",
    "port-554-blocked",
    "symmetric-nat",
    "nat-timeout",
    "camera-reboot",
    "rtp-stops",
    "tcp-drop-mid-frame",
    "uplink-drop",
    "server-restart",
}


def test_every_named_scenario_is_registered() -> None:
    assert set(SCENARIOS) >= REQUIRED
    assert {s.name for s in scenarios(Role.INGEST)} == {"uplink-drop", "server-restart"}
    assert {s.name for s in scenarios(Role.PULL)} == REQUIRED - {"uplink-drop", "server-restart"}


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_each_scenario_is_documented_seeded_and_short(name: str) -> None:
    scenario = get_scenario(name)
    assert scenario.title
    assert scenario.description
    assert scenario.references
    assert scenario.seed > 0
    assert scenario.seconds <= 20.0
    assert 0 < scenario.reach <= scenario.seconds
    # The output must reach past every window that ends, so that recovery is judged.
    for window in scenario.windows:
        assert window.end >= scenario.seconds - 1 or window.end < scenario.reach
    assert scenario.fault_spans(), "a scenario with no fault in force proves nothing"


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_changes_replay_the_windows_on_the_proxy_config(name: str) -> None:
    """Applying :meth:`FaultScenario.changes` in order gives, at every instant, the config of
    the settings in force then, and the base config once every window has ended."""
    scenario = get_scenario(name)
    config = scenario.base_config()
    changes = scenario.changes()
    for at, settings in changes:
        config = config.changed(**parse_settings(settings))
        expected = FaultConfig().changed(**parse_settings(scenario.settings_at(at)))
        assert config == expected, (at, settings)
    if changes:
        assert config == scenario.base_config()


def test_a_window_opens_and_closes_its_setting() -> None:
    scenario = get_scenario("loss-5-burst")
    assert scenario.settings_at(1.9) == {}
    assert scenario.settings_at(2.0) == {"burst": "1.6%,30%"}
    assert scenario.settings_at(6.0) == {}
    assert [at for at, _ in scenario.changes()] == [2.0, 6.0]
    assert scenario.changes()[1][1] == {"burst": None}


def test_whole_run_faults_are_in_the_base_config() -> None:
    assert get_scenario("udp-blocked").base_config().udp_blocked
    assert get_scenario("symmetric-nat").base_config().nat.value == "symmetric"
    assert get_scenario("nat-timeout").base_config().nat_timeout == 1.0
    assert get_scenario("udp-blocked").fault_spans() == [(0.0, 14.0)]


def test_device_faults_are_named() -> None:
    assert get_scenario("camera-reboot").device is DeviceFault.CAMERA_REBOOT
    assert get_scenario("rtp-stops").camera_quirks == ("media-stall",)
    assert get_scenario("camera-reboot").rule.max_breaks == 1


def test_a_setting_the_proxy_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault setting 'lose'"):
        FaultWindow(1.0, 2.0, {"lose": "1%"})
    with pytest.raises(ValueError, match="start < end"):
        FaultWindow(2.0, 2.0)
    with pytest.raises(ValueError, match="ends after the run"):
        FaultScenario("x", "x", "x", seconds=5.0, windows=(FaultWindow(1.0, 6.0),))


def test_names_are_unique_and_unknown_names_say_what_is_known() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        register(get_scenario("loss-1"))
    with pytest.raises(UnknownScenario) as raised:
        get_scenario("loss-2")
    assert "loss-1" in str(raised.value)
