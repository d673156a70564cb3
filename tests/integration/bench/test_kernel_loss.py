"""``kernel-loss-1`` (root): refserver in the WAN namespace, the encoder side in the LAN one, the
router dropping 1% of real IP packets each way; both protocols measured, the loss method named,
and the router left with no fault afterwards."""

from __future__ import annotations

import asyncio
from pathlib import Path

from camsim.bench.kernel import KernelSide
from camsim.bench.profiles import profile_named
from camsim.bench.runner import Bench, BenchSettings, ProfileResult, Protocol, tls_context
from camsim.encoder.cli import load_plan
from camsim.encoder.session import PublishOptions
from camsim.fault.kernel import KernelFaultConfig, LossMethod
from camsim.fault.netns_plugin import skip_without_netns
from tests.conftest import SampleFactory


def test_kernel_loss_run_measures_both_protocols(
    tmp_path: Path, make_test_sample: SampleFactory
) -> None:
    skip_without_netns()
    plan = load_plan(make_test_sample(), enhanced=False)
    with KernelSide(tmp_path) as side:
        server = side.refserver
        settings = BenchSettings(
            server.rtmp_url,
            server.rtmps_url,
            (profile_named("kernel-loss-1"),),
            repeat=1,
            warmup=0,
            duration=1.0,
            api_url=server.api_url,
            server_pids=(server.pid,),
            options=PublishOptions(timeout=5.0, ssl_context=tls_context()),
        )
        faults = side.topology.faults
        (result,) = side.run_in_lan(
            lambda: asyncio.run(Bench(settings, plan, kernel_faults=faults).run())
        )
        assert isinstance(result, ProfileResult)
        assert faults.config == KernelFaultConfig()  # reset once the profile is done
        in_force = [c.settings for c in faults.history]
    assert server.rtmp_url.startswith(f"rtmp://{side.topology.wan_address}:")
    assert in_force == [{"loss": "1%"}, {"reset": True}]
    expected = LossMethod.NETEM if faults.netem else LossMethod.IPTABLES
    assert result.kernel is not None
    assert result.kernel["loss_method"] == expected.value
    assert result.kernel["up"] == result.kernel["down"]
    for protocol in Protocol:
        assert len(result.setup[protocol.value]) == 1, result.setup_failures
        (window,) = result.windows_of(protocol)
        assert window.failed_streams == 0
        assert window.frames_sent > 20
        assert window.wire_bytes >= window.payload_bytes > 0
        if protocol is Protocol.RTMPS:
            assert window.wire_bytes > window.payload_bytes  # TLS records on the wire
        assert window.server_cpu_seconds is not None
        assert len(window.latency_p50_ms) == 1  # the API answered across the router
    assert result.setup["rtmps"][0]["tls_handshake_ms"] is not None
