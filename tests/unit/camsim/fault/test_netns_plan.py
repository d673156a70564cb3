"""What reaches the kernel for each fault, and how namespaces name their owner: no root needed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from camsim.fault.kernel import (
    CONNTRACK_UDP_STREAM_TIMEOUT,
    CONNTRACK_UDP_TIMEOUT,
    BlockMode,
    KernelFaultConfig,
    KernelFaults,
    LossMethod,
    NetemUnavailable,
    RouterInterfaces,
    parse_kernel_settings,
    plan,
)
from camsim.fault.netns import (
    NetnsError,
    Topology,
    owner_alive,
    owner_tag,
    parse_owner,
    process_start,
    unavailable_reason,
)
from camsim.fault.netns_plugin import skip_without_netns

IFACES = RouterInterfaces(lan="r-lan", wan="r-wan", lan_host="198.18.0.2")


def config(**settings: object) -> KernelFaultConfig:
    return KernelFaultConfig().changed(**parse_kernel_settings(settings))


def forward_rules(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("-A FORWARD")]


def test_no_fault_is_empty_tables_and_default_qdiscs() -> None:
    steps = plan(KernelFaultConfig(), IFACES, netem=False)
    assert forward_rules(steps.iptables) == []
    assert "-A " not in steps.iptables
    assert steps.tc == [
        ["tc", "qdisc", "replace", "dev", "r-wan", "root", "pfifo_fast"],
        ["tc", "qdisc", "replace", "dev", "r-lan", "root", "pfifo_fast"],
    ]
    assert steps.sysctl == {}
    assert steps.loss_method is None


def test_loss_without_netem_is_an_iptables_statistic_drop_per_direction() -> None:
    steps = plan(config(up_loss="5%", down_loss="0.2"), IFACES, netem=False)
    assert forward_rules(steps.iptables) == [
        "-A FORWARD -i r-lan -o r-wan -m statistic --mode random --probability 0.050000 -j DROP",
        "-A FORWARD -i r-wan -o r-lan -m statistic --mode random --probability 0.200000 -j DROP",
    ]
    assert steps.loss_method is LossMethod.IPTABLES
    assert all(command[-1] == "pfifo_fast" for command in steps.tc)


def test_loss_with_netem_is_netem_and_no_iptables_rule() -> None:
    steps = plan(config(loss="5%", delay="40ms", jitter="10ms"), IFACES, netem=True)
    assert forward_rules(steps.iptables) == []
    assert steps.loss_method is LossMethod.NETEM
    assert steps.tc[0] == [
        "tc", "qdisc", "replace", "dev", "r-wan", "root", "netem",
        "delay", "40000us", "10000us", "loss", "5%",
    ]  # fmt: skip


def test_burst_loss_without_netem_is_a_two_state_chain_in_iptables() -> None:
    steps = plan(config(up_burst="1.6%,30%"), IFACES, netem=False)
    assert steps.loss_method is LossMethod.IPTABLES
    state = "-m recent --name camsim-burst-up --mask 0.0.0.0"
    p = "-m statistic --mode random --probability 0.016000"
    r = "-m statistic --mode random --probability 0.300000"
    lines = steps.iptables.splitlines()
    assert lines[lines.index(":OUTPUT ACCEPT [0:0]") + 1 : lines.index("COMMIT")] == [
        ":camsim-burst-up - [0:0]",
        ":camsim-burst-up-bad - [0:0]",
        ":camsim-burst-up-lose-bad - [0:0]",
        ":camsim-burst-up-lose-good - [0:0]",
        "-A FORWARD -i r-lan -o r-wan -j camsim-burst-up",
        f"-A camsim-burst-up {state} --rcheck -g camsim-burst-up-bad",
        f"-A camsim-burst-up {p} {state} --set -g camsim-burst-up-lose-bad",
        "-A camsim-burst-up -g camsim-burst-up-lose-good",
        f"-A camsim-burst-up-bad {r} {state} --remove -g camsim-burst-up-lose-good",
        "-A camsim-burst-up-bad -g camsim-burst-up-lose-bad",
        "-A camsim-burst-up-lose-bad -j DROP",  # h = 0: every packet lost in the bad state
    ]
    assert all(command[-1] == "pfifo_fast" for command in steps.tc)


def test_burst_loss_keeps_h_and_k_and_each_direction_its_own_state() -> None:
    steps = plan(config(burst="2%,25%,10%,99%"), IFACES, netem=False)
    rules = steps.iptables.splitlines()
    assert "-A FORWARD -i r-wan -o r-lan -j camsim-burst-down" in rules
    assert "-A FORWARD -i r-lan -o r-wan -j camsim-burst-up" in rules
    stat = "-m statistic --mode random --probability"
    assert f"-A camsim-burst-down-lose-bad {stat} 0.900000 -j DROP" in rules
    assert f"-A camsim-burst-down-lose-good {stat} 0.010000 -j DROP" in rules
    assert any("--name camsim-burst-down --mask 0.0.0.0 --set" in line for line in rules)


def test_burst_loss_with_netem_is_gemodel_and_uniform_loss_moves_to_iptables() -> None:
    steps = plan(config(up_burst="1.6%,30%"), IFACES, netem=True)
    assert steps.loss_method is LossMethod.NETEM
    assert forward_rules(steps.iptables) == []
    assert steps.tc[0][6:] == ["netem", "loss", "gemodel", "1.6%", "30%", "100%", "0%"]
    both = plan(config(up_burst="1.6%,30%", up_loss="1%"), IFACES, netem=True)
    assert forward_rules(both.iptables) == [
        "-A FORWARD -i r-lan -o r-wan -m statistic --mode random --probability 0.010000 -j DROP"
    ]
    assert both.tc[0][7:9] == ["loss", "gemodel"]


def test_rate_is_tbf_without_netem_and_netem_rate_with_it() -> None:
    without = plan(config(up_rate="2M"), IFACES, netem=False)
    assert without.tc[0] == [
        "tc", "qdisc", "replace", "dev", "r-wan", "root",
        "tbf", "rate", "2000000bit", "burst", "3200", "latency", "100ms",
    ]  # fmt: skip
    assert without.tc[1][-1] == "pfifo_fast"  # down is not limited
    with_netem = plan(config(up_rate="2M", up_loss="1%"), IFACES, netem=True)
    assert with_netem.tc[0][-4:] == ["loss", "1%", "rate", "2000000bit"]


@pytest.mark.parametrize("setting", ["delay", "jitter"])
def test_netem_only_settings_name_the_missing_qdisc(setting: str) -> None:
    settings = {"delay": "50ms", setting: "50ms"}
    with pytest.raises(NetemUnavailable) as caught:
        plan(config(**settings), IFACES, netem=False)
    message = str(caught.value)
    assert "netem qdisc (sch_netem)" in message
    assert "up_delay" in message
    assert "camsim fault proxy" in message


def test_reorder_needs_a_delay() -> None:
    with pytest.raises(ValueError, match="reorder needs a delay"):
        config(reorder="10%")


def test_rtsp_port_blocked_by_drop_and_by_reject() -> None:
    dropped = forward_rules(plan(config(rtsp_blocked="drop"), IFACES, netem=False).iptables)
    assert dropped == [
        "-A FORWARD -p tcp --dport 554 -j DROP",
        "-A FORWARD -p udp --dport 554 -j DROP",
    ]
    rejected = forward_rules(
        plan(config(rtsp_blocked="reject", rtsp_port="8554"), IFACES, netem=False).iptables
    )
    assert rejected == [
        "-A FORWARD -p tcp --dport 8554 -j REJECT --reject-with tcp-reset",
        "-A FORWARD -p udp --dport 8554 -j REJECT --reject-with icmp-port-unreachable",
    ]


def test_udp_blocked_drops_every_forwarded_datagram() -> None:
    rules = forward_rules(plan(config(udp_blocked=True), IFACES, netem=False).iptables)
    assert rules == ["-A FORWARD -p udp -j DROP"]


def test_nat_masquerades_lets_the_wan_only_answer_and_forwards_ports() -> None:
    steps = plan(config(nat="on", forward="8554", nat_timeout="3s"), IFACES, netem=False)
    assert forward_rules(steps.iptables) == [
        "-A FORWARD -i r-wan -o r-lan -m conntrack --ctstate ESTABLISHED,RELATED,DNAT -j ACCEPT",
        "-A FORWARD -i r-wan -o r-lan -j DROP",
    ]
    nat = [line for line in steps.iptables.splitlines() if line.startswith("-A ")][2:]
    assert nat == [
        "-A POSTROUTING -o r-wan -j MASQUERADE",
        "-A PREROUTING -i r-wan -p tcp --dport 8554 -j DNAT --to-destination 198.18.0.2:8554",
        "-A PREROUTING -i r-wan -p udp --dport 8554 -j DNAT --to-destination 198.18.0.2:8554",
    ]
    assert steps.sysctl == {CONNTRACK_UDP_TIMEOUT: 3, CONNTRACK_UDP_STREAM_TIMEOUT: 3}


def test_tables_are_whole_so_a_change_replaces_every_rule() -> None:
    text = plan(config(udp_blocked=True), IFACES, netem=False).iptables
    assert text.splitlines()[:4] == [
        "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"
    ]  # fmt: skip
    assert text.count("COMMIT") == 2


def test_settings_by_name_and_direction() -> None:
    changed = config(loss="5%", down_rate="800k", rtsp_blocked="reject")
    assert changed.up.loss == changed.down.loss == 0.05
    assert changed.up.rate is None
    assert changed.down.rate == 800_000
    assert changed.rtsp_blocked is BlockMode.REJECT
    assert changed.to_json()["rtsp_blocked"] == "reject"
    with pytest.raises(ValueError, match="unknown kernel fault setting 'latency'"):
        parse_kernel_settings({"latency": "5ms"})
    with pytest.raises(ValueError, match=r"^loss: "):
        parse_kernel_settings({"loss": "150%"})


class FakeRouter:
    """Records the commands KernelFaults runs; answers sysctl reads like a fresh namespace."""

    def __init__(self) -> None:
        self.commands: list[tuple[list[str], str | None]] = []

    def __call__(self, argv: list[str], stdin: str | None) -> str:
        self.commands.append((argv, stdin))
        return "30\n" if argv[:2] == ["sysctl", "-n"] else ""


def test_each_change_is_logged_with_its_time_and_nothing_changes_on_an_error() -> None:
    router = FakeRouter()
    faults = KernelFaults(router, IFACES, netem=False)
    faults.change(loss="5%")
    assert faults.loss_method is LossMethod.IPTABLES
    faults.change(nat_timeout="2s")
    assert len(faults.history) == 2
    assert faults.history[0].settings == {"loss": "5%"}
    assert faults.history[0].config["loss_method"] == "iptables statistic"
    assert faults.history[0].at <= faults.history[1].at
    before = len(router.commands)
    with pytest.raises(NetemUnavailable):
        faults.change(delay="20ms")
    assert len(router.commands) == before  # nothing reached the kernel
    assert faults.config.up.delay == 0
    faults.reset()  # the kernel's own conntrack timeouts come back
    written = [argv[-1] for argv, _ in router.commands[before:] if argv[:2] == ["sysctl", "-q"]]
    assert written == [f"{CONNTRACK_UDP_TIMEOUT}=30", f"{CONNTRACK_UDP_STREAM_TIMEOUT}=30"]


def test_a_namespace_name_carries_its_owner() -> None:
    tag = owner_tag()
    assert parse_owner(f"camsim-{tag}-3-lan") == (os.getpid(), process_start(os.getpid()))
    assert owner_alive(f"camsim-{tag}-3-lan")
    assert parse_owner("other-1-2-3-lan") is None
    assert parse_owner("camsim-x-2-3-lan") is None


def test_an_exited_owner_or_a_recycled_pid_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    name = f"camsim-{owner_tag(child.pid)}-1-lan"
    assert owner_alive(name)
    child.communicate(b"", timeout=10)
    assert not owner_alive(name)
    start = process_start(os.getpid())
    assert start is not None
    assert not owner_alive(f"camsim-{os.getpid()}-{start + 1}-1-lan")  # same pid, other process


def test_without_root_topologies_skip_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.delenv("CI", raising=False)
    assert unavailable_reason() == "network namespaces need root (CAP_SYS_ADMIN and CAP_NET_ADMIN)"
    with pytest.raises(pytest.skip.Exception, match=r"kernel network faults unavailable: .*root"):
        skip_without_netns()
    with pytest.raises(NetnsError, match="need root"):
        Topology().create()


def test_under_ci_a_missing_capability_fails_instead_of_skipping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(
        pytest.fail.Exception, match=r"CI=true and kernel network faults unavailable"
    ):
        skip_without_netns()
