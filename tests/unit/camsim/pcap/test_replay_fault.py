"""``replay --fault``: the settings are read by the fault proxy's own parser, a bad one is a usage
error naming it, and a push through the proxy only changes the port it connects to."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from camsim.encoder.target import PushTarget
from camsim.fault.config import FaultConfig
from camsim.fault.control import FaultProxy
from camsim.fault.impair import GilbertElliott
from camsim.fault.nat import NatKind
from camsim.pcap.cli import pcap
from camsim.pcap.replay_fault import (
    datagram_only,
    describe,
    fault_config,
    parse_faults,
    through_proxy,
)

CAPTURE = Path(__file__).resolve().parents[4] / "pcaps" / "camsim-camera-udp-loss.pcapng"


def test_settings_are_named_as_the_proxy_names_them() -> None:
    config = parse_faults(
        ["loss=5%", "burst=1%,25%", "down_delay=80ms", "jitter=10ms", "rate=2M", "nat=symmetric"]
    )
    assert config.up.loss == config.down.loss == pytest.approx(0.05)
    assert config.down.burst == GilbertElliott(0.01, 0.25)
    assert config.down.delay == pytest.approx(0.08)
    assert config.up.delay == 0.0  # down_ only
    assert config.up.jitter == config.down.jitter == pytest.approx(0.01)
    assert config.up.rate == config.down.rate == 2e6
    assert config.nat is NatKind.SYMMETRIC
    # The same configuration as the proxy's own reading of the same settings.
    assert fault_config({"loss": "5%", "down_delay": "80ms"}) == FaultConfig().changed(
        loss=0.05, down_delay=0.08
    )


def test_a_configuration_is_taken_as_it_is() -> None:
    config = FaultConfig().changed(stall=True)
    assert fault_config(config) is config


@pytest.mark.parametrize(
    ("item", "named"),
    [
        ("lose=5%", "'lose'"),
        ("loss=150%", "loss:"),
        ("down_delay=soon", "down_delay:"),
        ("nat=full", "nat:"),
        ("loss", "SETTING=VALUE"),
        ("=5%", "SETTING=VALUE"),
    ],
)
def test_a_bad_setting_is_named(item: str, named: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_faults([item])
    assert named in str(caught.value)


@pytest.mark.parametrize(
    ("mode", "item", "named"),
    [
        (["--as", "camera"], "lose=5%", "unknown fault setting 'lose'"),
        (["--as", "raw", "--to", "127.0.0.1:5004"], "loss=2", "loss:"),
        (["rtmp://127.0.0.1/live/x", "--as", "push"], "delay=-1s", "delay:"),
    ],
)
def test_a_bad_fault_on_the_command_line_exits_2_naming_it(
    mode: list[str], item: str, named: str
) -> None:
    result = CliRunner().invoke(pcap, ["replay", str(CAPTURE), *mode, "--fault", item])
    assert result.exit_code == 2, result.output
    assert "--fault" in result.output
    assert named in result.output


def test_a_fault_seed_without_a_fault_is_a_usage_error() -> None:
    args = ["replay", str(CAPTURE), "--as", "camera", "--fault-seed", "3"]
    result = CliRunner().invoke(pcap, args)
    assert result.exit_code == 2
    assert "--fault-seed" in result.output


def test_a_push_through_the_proxy_changes_only_the_port() -> None:
    target = PushTarget.parse("rtmps://localhost:4443/live/key?token=x")
    proxy = FaultProxy(("127.0.0.1", 40001), ("127.0.0.1", 4443))
    through = through_proxy(target, proxy)
    assert through.port == 40001
    # The certificate is still checked against the server's name; connect still names it.
    assert (through.host, through.tc_url, through.stream_name) == (
        "localhost",
        "rtmps://localhost:4443/live",
        "key?token=x",
    )


def test_the_status_line_lists_only_what_differs_from_a_faithful_relay() -> None:
    assert describe(FaultConfig()) == "no faults"
    config = parse_faults(["up_loss=2%", "stall=true"])
    assert describe(config) == "up_loss=0.02, stall=True"


def test_the_datagram_faults_a_push_cannot_take_are_named() -> None:
    config = parse_faults(["loss=5%", "down_reorder=10%", "delay=50ms", "rate=1M", "stall=true"])
    assert datagram_only(config) == ["up_loss", "down_loss", "down_reorder"]
    assert datagram_only(parse_faults(["delay=50ms", "jitter=5ms"])) == []
