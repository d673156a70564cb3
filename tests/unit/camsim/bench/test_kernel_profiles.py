"""The ``kernel-`` profiles: what the router is told, and when they are refused with the reason."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import camsim.bench.kernel
from camsim.bench.cli import rtmp_vs_rtmps
from camsim.bench.kernel import kernel_refusal
from camsim.bench.profiles import profile_named
from camsim.fault.kernel import KernelFaultConfig, parse_kernel_settings


def test_kernel_profiles_tell_the_router_real_loss_and_rate_and_leave_the_relay_alone() -> None:
    loss, rate = profile_named("kernel-loss-1"), profile_named("kernel-bandwidth-5mbit")
    assert loss.kernel is not None
    assert rate.kernel is not None
    lossy = KernelFaultConfig().changed(**parse_kernel_settings(loss.kernel))
    assert lossy.up.loss == lossy.down.loss == pytest.approx(0.01)
    limited = KernelFaultConfig().changed(**parse_kernel_settings(rate.kernel))
    assert limited.up.rate == limited.down.rate == pytest.approx(5e6)
    for profile in (loss, rate):
        assert profile.config.up.delay == profile.config.down.delay == 0
        assert profile.config.up.rate is profile.config.down.rate is None
    assert profile_named("rtt-50ms").kernel is None


def test_without_root_a_kernel_profile_is_refused_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reason = "network namespaces need root (CAP_SYS_ADMIN and CAP_NET_ADMIN)"
    monkeypatch.setattr(camsim.bench.kernel, "unavailable_reason", lambda: reason)
    profiles = (profile_named("loopback"), profile_named("kernel-loss-1"))
    assert kernel_refusal(profiles, external_server=False) == f"kernel-loss-1: {reason}"
    assert kernel_refusal((profile_named("loopback"),), external_server=False) is None

    outcome = CliRunner().invoke(
        rtmp_vs_rtmps, ["--network", "loopback", "--network", "kernel-loss-1"]
    )
    assert outcome.exit_code == 2
    assert reason in outcome.output


def test_a_kernel_profile_against_another_server_is_refused() -> None:
    refusal = kernel_refusal((profile_named("kernel-bandwidth-5mbit"),), external_server=True)
    assert refusal is not None
    assert "leave out --rtmp and --rtmps" in refusal
    outcome = CliRunner().invoke(
        rtmp_vs_rtmps,
        [
            "--rtmp=rtmp://127.0.0.1:1935/live/b{n}",
            "--rtmps=rtmps://127.0.0.1:1936/live/b{n}",
            "--network=kernel-bandwidth-5mbit",
        ],
    )
    assert outcome.exit_code == 2
    assert "leave out --rtmp and --rtmps" in outcome.output
