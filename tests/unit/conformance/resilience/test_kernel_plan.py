"""Each pull scenario as the kernel path does it (no root needed: plans only)."""

from __future__ import annotations

import pytest

from camsim.fault.impair import GilbertElliott
from camsim.fault.kernel import NETEM_MISSING, KernelFaultConfig, parse_kernel_settings
from camsim.fault.scenarios import Role, get_scenario, scenarios
from conformance.suites.resilience.kernel import (
    BLOCKED_PORT,
    CAMERA_PORT,
    KernelPlan,
    kernel_plan,
    translate,
)


def planned(name: str, netem: bool = False) -> KernelPlan:
    plan = kernel_plan(get_scenario(name), netem)
    assert isinstance(plan, KernelPlan), plan
    return plan


def test_loss_is_a_window_of_kernel_loss_both_ways() -> None:
    plan = planned("loss-1")
    assert plan.base == {}
    assert [at for at, _ in plan.changes] == [2.0, 6.0]
    assert plan.changes[0][1] == {"loss": "1%"}
    # The window's end puts the loss back to none, a value the kernel takes.
    end = KernelFaultConfig().changed(**parse_kernel_settings(plan.changes[1][1]))
    assert end.up.loss == end.down.loss == 0.0


def test_rate_towards_the_puller_is_the_kernels_up_direction() -> None:
    """The proxy's down_ (towards the puller) is LAN → WAN, the kernel's up_; tbf's own queue
    stands for the proxy's queue limit."""
    plan = planned("bandwidth-below-bitrate")
    assert plan.changes[0] == (2.0, {"up_rate": "200k"})
    config = KernelFaultConfig().changed(**parse_kernel_settings(plan.changes[0][1]))
    assert config.up.rate == 200_000
    assert config.down.rate is None
    end = KernelFaultConfig().changed(**parse_kernel_settings(plan.changes[1][1]))
    assert end.up.rate is None


def test_udp_blocked_for_the_whole_run() -> None:
    plan = planned("udp-blocked")
    assert plan.base == {"udp_blocked": True}
    assert plan.changes == []


def test_port_blocked_is_a_reject_of_port_554_with_the_camera_open_elsewhere() -> None:
    plan = planned("port-554-blocked")
    assert plan.blocked_port == BLOCKED_PORT != CAMERA_PORT
    assert plan.base == {"rtsp_blocked": "reject", "rtsp_port": BLOCKED_PORT}


@pytest.mark.parametrize("name", ["symmetric-nat", "nat-timeout"])
def test_nat_scenarios_masquerade_and_forward_the_cameras_port(name: str) -> None:
    plan = planned(name)
    assert plan.nat
    assert plan.base["nat"] is True
    assert plan.base["forward"] == str(CAMERA_PORT)
    config = KernelFaultConfig().changed(**parse_kernel_settings(plan.base))
    assert config.forward == (CAMERA_PORT,)
    if name == "nat-timeout":
        assert config.nat_timeout == 1.0
    else:
        assert any("MASQUERADE" in note for note in plan.notes)


@pytest.mark.parametrize("name", ["camera-reboot", "rtp-stops"])
def test_device_faults_need_no_router_fault(name: str) -> None:
    plan = planned(name)
    assert plan.base == {}
    assert plan.changes == []
    assert not plan.nat


@pytest.mark.parametrize("netem", [False, True])
def test_burst_loss_is_planned_both_ways_with_or_without_netem(netem: bool) -> None:
    plan = kernel_plan(get_scenario("loss-5-burst"), netem=netem)
    assert isinstance(plan, KernelPlan)
    assert plan.base == {}
    assert plan.changes == [(2.0, {"burst": "1.6%,30%"}), (6.0, {"burst": None})]
    config = KernelFaultConfig().changed(**parse_kernel_settings(plan.changes[0][1]))
    assert config.up.burst == config.down.burst == GilbertElliott(0.016, 0.3)


@pytest.mark.parametrize("name", ["jitter-50ms", "reorder"])
def test_delay_jitter_reorder_need_netem(name: str) -> None:
    reason = kernel_plan(get_scenario(name), netem=False)
    assert isinstance(reason, str)
    assert reason.startswith("needs netem")
    assert NETEM_MISSING in reason
    assert isinstance(kernel_plan(get_scenario(name), netem=True), KernelPlan)


def test_every_pull_scenario_is_either_planned_or_explained() -> None:
    for scenario in scenarios(Role.PULL):
        result = kernel_plan(scenario, netem=False)
        if isinstance(result, KernelPlan):
            for _, settings in [(0.0, result.base), *result.changes]:
                KernelFaultConfig().changed(**parse_kernel_settings(settings))
        else:
            assert result


def test_an_unknown_setting_is_not_copied_to_the_kernel() -> None:
    kernel, reason = translate({"duplicate": "1%"}, netem=True)
    assert kernel == {}
    assert reason is not None
    assert "duplicate" in reason
