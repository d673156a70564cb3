"""Kernel network faults on the router of a namespace topology: tc qdiscs, iptables, conntrack.

:class:`KernelFaultConfig` says what the router does to forwarded traffic; it is immutable and
named like the userspace proxy's :class:`~camsim.fault.config.FaultConfig` (``loss``, ``rate``,
``delay``, ``jitter``, ``reorder``, ``udp_blocked``, ``nat``, ``nat_timeout``; per-direction link
settings take ``up_`` for LAN → WAN and ``down_`` for WAN → LAN). :func:`plan` turns a
configuration into the exact ``tc`` commands and ``iptables-restore`` text to put it in force,
with no I/O, so what reaches the kernel is tested without root. :class:`KernelFaults` applies a
plan in the router's namespace and keeps the timestamped log of every change.

What runs where, given what the kernel offers:

- loss: ``tc netem loss`` when the kernel has ``sch_netem``, else an ``iptables -m statistic
  --mode random`` DROP in FORWARD (:attr:`KernelFaults.loss_method` says which);
- burst (Gilbert-Elliott) loss: ``tc netem loss gemodel`` when the kernel has ``sch_netem``, else
  the same two-state chain in iptables: the state is one ``recent`` list entry (``--mask
  0.0.0.0``, so one state for the whole direction), moved by ``statistic`` matches before each
  packet is decided, as netem moves it (:func:`_burst_chains`);
- rate: ``tbf`` (or netem's own ``rate`` when netem runs anyway);
- delay, jitter, reorder: netem only; without it :class:`NetemUnavailable` is raised, naming the
  missing qdisc, and callers use the userspace proxy for those;
- port blocked (``rtsp_blocked=drop|reject`` on ``rtsp_port``, 554 by default), ``udp_blocked``:
  FORWARD rules, so a DROP makes a connect time out and a REJECT answers a TCP reset at once;
- ``nat``: MASQUERADE out of the WAN side, and the WAN may only answer (conntrack ESTABLISHED) or
  reach the ports in ``forward`` (DNAT to the LAN host), as a home router with port forwarding;
- ``nat_timeout``: the conntrack UDP timeouts of the router's namespace (its own sysctls, not the
  machine's), so idle UDP mappings expire that quickly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from camsim.fault.config import optional, parse_bool
from camsim.fault.control import Change
from camsim.fault.impair import GilbertElliott, parse_duration, parse_probability, parse_rate

logger = logging.getLogger("camsim.fault")

RTSP_PORT = 554
CONNTRACK_UDP_TIMEOUT = "net.netfilter.nf_conntrack_udp_timeout"
CONNTRACK_UDP_STREAM_TIMEOUT = "net.netfilter.nf_conntrack_udp_timeout_stream"


NETEM_MISSING = "this kernel has no netem qdisc (sch_netem), and no package can add a kernel module"
"""Why delay, jitter and reorder cannot run in the kernel here (also the tests' skip reason)."""


class NetemUnavailable(RuntimeError):
    """A fault needs the kernel's netem qdisc and this kernel has none."""

    def __init__(self, settings: list[str]) -> None:
        super().__init__(
            f"{', '.join(settings)}: {NETEM_MISSING}; use the userspace fault proxy "
            "(camsim fault proxy) for delay, jitter and reordering"
        )
        self.settings = settings


class BlockMode(StrEnum):
    DROP = "drop"
    """Packets vanish: a connect times out."""
    REJECT = "reject"
    """A TCP reset (ICMP port unreachable for UDP) answers at once: a connect is refused."""


class LossMethod(StrEnum):
    NETEM = "netem"
    IPTABLES = "iptables statistic"


@dataclass(frozen=True)
class KernelLink:
    """One direction through the router. The defaults impair nothing."""

    loss: float = 0.0
    rate: float | None = None
    """Bits per second, or None for no limit."""
    delay: float = 0.0
    jitter: float = 0.0
    reorder: float = 0.0
    burst: GilbertElliott | None = None
    """Gilbert-Elliott loss, besides ``loss``."""

    def __post_init__(self) -> None:
        for name in ("loss", "reorder"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(
                    f"{name} must be a probability in [0, 1], got {getattr(self, name)}"
                )
        for name in ("delay", "jitter"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.rate is not None and self.rate <= 0:
            raise ValueError(f"rate must be > 0 bits/s, got {self.rate}")
        if self.reorder and not self.delay:
            raise ValueError(
                "reorder needs a delay (netem sends reordered packets at once, the rest late)"
            )

    def netem_settings(self) -> list[str]:
        """Names of the settings in force that only netem can do."""
        return [name for name in NETEM_ONLY if getattr(self, name)]


NO_KERNEL_FAULT = KernelLink()
NETEM_ONLY = ("delay", "jitter", "reorder")


def _parse_ports(text: str) -> tuple[int, ...]:
    ports = tuple(int(part) for part in text.replace(",", " ").split())
    if any(not 0 < port <= 0xFFFF for port in ports):
        raise ValueError(f"ports must be in 1..65535, got {text!r}")
    return ports


LINK_SETTINGS: dict[str, Callable[[str], Any]] = {
    "loss": parse_probability,
    "rate": optional(parse_rate),
    "delay": parse_duration,
    "jitter": parse_duration,
    "reorder": parse_probability,
    "burst": optional(GilbertElliott.parse),
}
"""Settings of one direction; ``up_``/``down_`` prefixes pick one, none means both."""

ROUTER_SETTINGS: dict[str, Callable[[str], Any]] = {
    "rtsp_blocked": optional(BlockMode),
    "rtsp_port": int,
    "udp_blocked": parse_bool,
    "nat": parse_bool,
    "nat_timeout": optional(parse_duration),
    "forward": _parse_ports,
}


@dataclass(frozen=True)
class KernelFaultConfig:
    """What the router does to forwarded traffic; the defaults forward faithfully."""

    up: KernelLink = NO_KERNEL_FAULT
    """LAN → WAN (the camera LAN towards the server)."""
    down: KernelLink = NO_KERNEL_FAULT
    """WAN → LAN."""
    rtsp_blocked: BlockMode | None = None
    rtsp_port: int = RTSP_PORT
    udp_blocked: bool = False
    nat: bool = False
    """MASQUERADE LAN hosts behind the router's WAN address; the WAN may only answer."""
    nat_timeout: float | None = None
    """Seconds an idle UDP mapping lives (conntrack, whole seconds, at least 1); None keeps the
    kernel's (30 s, 120 s once both ways have been seen)."""
    forward: tuple[int, ...] = field(default=())
    """With ``nat``: TCP and UDP ports of the router's WAN address forwarded to the LAN host."""

    def changed(self, **changes: Any) -> KernelFaultConfig:
        """A copy with ``changes`` as Python values (``loss=0.05``, ``down_rate=2e6``)."""
        up: dict[str, Any] = {}
        down: dict[str, Any] = {}
        own: dict[str, Any] = {}
        for name, value in changes.items():
            if name in ("up", "down") or name in ROUTER_SETTINGS:
                own[name] = value
            elif name.startswith("up_") and name[3:] in LINK_SETTINGS:
                up[name[3:]] = value
            elif name.startswith("down_") and name[5:] in LINK_SETTINGS:
                down[name[5:]] = value
            elif name in LINK_SETTINGS:
                up[name] = down[name] = value
            else:
                raise ValueError(f"unknown kernel fault setting {name!r}")
        if own.get("rtsp_blocked") is not None:
            own["rtsp_blocked"] = BlockMode(own["rtsp_blocked"])
        config = replace(self, **own)
        return replace(config, up=replace(config.up, **up), down=replace(config.down, **down))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, KernelLink):
                value = {f.name: getattr(value, f.name) for f in fields(value)}
                if value["burst"] is not None:
                    value["burst"] = value["burst"].serialize()
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, BlockMode):
                value = value.value
            out[item.name] = value
        return out


def parse_kernel_settings(texts: Mapping[str, object]) -> dict[str, Any]:
    """Setting name → text (or JSON value) to name → Python value; ``ValueError`` names the
    setting at fault."""
    parsed: dict[str, Any] = {}
    for name, raw in texts.items():
        base = name.removeprefix("up_").removeprefix("down_")
        parser = LINK_SETTINGS.get(base) or ROUTER_SETTINGS.get(name)
        if parser is None:
            raise ValueError(f"unknown kernel fault setting {name!r}")
        if not isinstance(raw, str):  # Python values pass through
            parsed[name] = raw
            continue
        try:
            parsed[name] = parser(raw)
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from None
    return parsed


@dataclass(frozen=True)
class RouterInterfaces:
    lan: str
    """The router's interface on the LAN; its egress carries ``down``."""
    wan: str
    """The router's interface on the WAN; its egress carries ``up``."""
    lan_host: str
    """The LAN host's address (the DNAT target of ``forward``)."""


@dataclass(frozen=True)
class Plan:
    """The commands that put a configuration in force (arguments after ``ip netns exec NS``)."""

    tc: list[list[str]]
    iptables: str
    """``iptables-restore`` input: the router's filter and nat tables, whole (atomic swap)."""
    sysctl: dict[str, int]
    loss_method: LossMethod | None


def _percent(probability: float) -> str:
    return f"{probability * 100:g}%"


def _netem_args(link: KernelLink) -> list[str]:
    args: list[str] = []
    if link.delay:
        args += ["delay", f"{link.delay * 1e6:.0f}us"]
        if link.jitter:
            args.append(f"{link.jitter * 1e6:.0f}us")
    if link.burst is not None:
        # netem takes one loss model: burst loss here, uniform loss (if any) in iptables.
        model = link.burst
        args += ["loss", "gemodel", *map(_percent, (model.p, model.r, 1 - model.h, 1 - model.k))]
    elif link.loss:
        args += ["loss", _percent(link.loss)]
    if link.reorder:
        args += ["reorder", f"{link.reorder * 100:g}%"]
    if link.rate is not None:
        args += ["rate", f"{link.rate:.0f}bit"]
    return args


def _tbf_args(rate: float) -> list[str]:
    # The bucket holds 10 ms at the rate (at least two full frames), and 100 ms may queue behind
    # it before packets are dropped, as a small router buffer would.
    burst = max(3200, int(rate / 8 * 0.01))
    return ["tbf", "rate", f"{rate:.0f}bit", "burst", str(burst), "latency", "100ms"]


def _qdisc(device: str, link: KernelLink, netem: bool) -> list[str]:
    base = ["tc", "qdisc"]
    if netem and (link.netem_settings() or link.loss or link.burst is not None):
        return [*base, "replace", "dev", device, "root", "netem", *_netem_args(link)]
    if link.rate is not None:
        return [*base, "replace", "dev", device, "root", *_tbf_args(link.rate)]
    # A plain FIFO: deleting the root qdisc fails when none was added, while replace always works.
    return [*base, "replace", "dev", device, "root", "pfifo_fast"]


def _statistic(probability: float) -> str:
    return f"-m statistic --mode random --probability {probability:.6f}"


def _burst_chains(name: str, model: GilbertElliott) -> tuple[list[str], list[str]]:
    """Gilbert-Elliott loss as iptables chains (their declarations, their rules), entered by
    ``-j name``. The state is whether the ``recent`` list ``name`` holds an entry; with
    ``--mask 0.0.0.0`` every address is the same entry, so one chain serves the direction.
    As netem's gemodel, the chain moves first (good → bad with ``p``, bad → good with ``r``)
    and the packet is then lost with ``1 - h`` in the bad state and ``1 - k`` in the good.
    A match list stops at its first miss, so ``--set``/``--remove`` act only when the
    ``statistic`` before them matched."""
    state = f"-m recent --name {name} --mask 0.0.0.0"
    bad, lose_bad, lose_good = f"{name}-bad", f"{name}-lose-bad", f"{name}-lose-good"
    declared = [f":{chain} - [0:0]" for chain in (name, bad, lose_bad, lose_good)]
    rules = [
        f"-A {name} {state} --rcheck -g {bad}",
        f"-A {name} {_statistic(model.p)} {state} --set -g {lose_bad}",
        f"-A {name} -g {lose_good}",
        f"-A {bad} {_statistic(model.r)} {state} --remove -g {lose_good}",
        f"-A {bad} -g {lose_bad}",
    ]
    for chain, delivered in ((lose_bad, model.h), (lose_good, model.k)):
        if delivered <= 0:
            rules.append(f"-A {chain} -j DROP")
        elif delivered < 1:
            rules.append(f"-A {chain} {_statistic(1 - delivered)} -j DROP")
    return declared, rules


def plan(config: KernelFaultConfig, interfaces: RouterInterfaces, netem: bool) -> Plan:
    """The commands for ``config``; raises :class:`NetemUnavailable` for what needs netem."""
    if not netem:
        missing = [f"{way}_{name}" for way, link in (("up", config.up), ("down", config.down))
                   for name in link.netem_settings()]  # fmt: skip
        if missing:
            raise NetemUnavailable(missing)
    lan, wan = interfaces.lan, interfaces.wan
    tc = [_qdisc(wan, config.up, netem), _qdisc(lan, config.down, netem)]
    loss_method = None
    links = (("up", lan, wan, config.up), ("down", wan, lan, config.down))
    if any(link.loss or link.burst is not None for *_, link in links):
        loss_method = LossMethod.NETEM if netem else LossMethod.IPTABLES

    forward: list[str] = []
    declarations: list[str] = []
    if config.rtsp_blocked is not None:
        port = config.rtsp_port
        drop = config.rtsp_blocked is BlockMode.DROP
        tcp_target = "DROP" if drop else "REJECT --reject-with tcp-reset"
        udp_target = "DROP" if drop else "REJECT --reject-with icmp-port-unreachable"
        forward.append(f"-A FORWARD -p tcp --dport {port} -j {tcp_target}")
        forward.append(f"-A FORWARD -p udp --dport {port} -j {udp_target}")
    if config.udp_blocked:
        forward.append("-A FORWARD -p udp -j DROP")
    chains: list[str] = []
    for way, source, destination, link in links:
        if link.loss and (not netem or link.burst is not None):
            forward.append(
                f"-A FORWARD -i {source} -o {destination} {_statistic(link.loss)} -j DROP"
            )
        if link.burst is not None and not netem:
            name = f"camsim-burst-{way}"
            declared, rules = _burst_chains(name, link.burst)
            chains += rules
            forward.append(f"-A FORWARD -i {source} -o {destination} -j {name}")
            declarations.extend(declared)
    nat: list[str] = []
    if config.nat:
        forward += [
            f"-A FORWARD -i {wan} -o {lan} -m conntrack --ctstate ESTABLISHED,RELATED,DNAT "
            "-j ACCEPT",
            f"-A FORWARD -i {wan} -o {lan} -j DROP",
        ]
        nat.append(f"-A POSTROUTING -o {wan} -j MASQUERADE")
        for port in config.forward:
            for protocol in ("tcp", "udp"):
                nat.append(
                    f"-A PREROUTING -i {wan} -p {protocol} --dport {port} "
                    f"-j DNAT --to-destination {interfaces.lan_host}:{port}"
                )
    rules = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             *declarations, *forward, *chains, "COMMIT",
             "*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             ":POSTROUTING ACCEPT [0:0]", *nat, "COMMIT", ""]  # fmt: skip
    sysctl: dict[str, int] = {}
    if config.nat_timeout is not None:
        seconds = max(1, round(config.nat_timeout))
        sysctl = {CONNTRACK_UDP_TIMEOUT: seconds, CONNTRACK_UDP_STREAM_TIMEOUT: seconds}
    return Plan(tc, "\n".join(rules), sysctl, loss_method)


Runner = Callable[[list[str], str | None], str]
"""Runs argv in the router's namespace with optional stdin, returns stdout; raises on failure."""


class KernelFaults:
    """The faults in force on one router, changed at run time with a timestamped log.

    ``netem`` says whether the kernel has sch_netem
    (:func:`camsim.fault.netns.netem_available`).
    """

    def __init__(self, run: Runner, interfaces: RouterInterfaces, netem: bool) -> None:
        self._run = run
        self.interfaces = interfaces
        self.netem = netem
        self.config = KernelFaultConfig()
        self.history: list[Change] = []
        self._defaults = {
            key: int(run(["sysctl", "-n", key], None).strip())
            for key in (CONNTRACK_UDP_TIMEOUT, CONNTRACK_UDP_STREAM_TIMEOUT)
        }
        self.loss_method: LossMethod | None = None

    def change(self, **settings: Any) -> KernelFaultConfig:
        """Change faults by name (``loss="5%"``, ``rtsp_blocked="reject"``, ``nat=True``);
        returns the configuration now in force.

        Raises ``ValueError`` for a setting it does not know and :class:`NetemUnavailable` for
        one this kernel cannot do; then nothing changed.
        """
        config = self.config.changed(**parse_kernel_settings(settings))
        self._put(config, settings)
        return config

    def unsupported(self, **settings: Any) -> dict[str, str]:
        """Which of ``settings`` (by name, as for :meth:`change`) this kernel cannot put in force,
        each with the reason: a scenario runs those through the userspace proxy instead."""
        missing: dict[str, str] = {}
        for name, value in settings.items():
            base = name.removeprefix("up_").removeprefix("down_")
            if base not in LINK_SETTINGS and name not in ROUTER_SETTINGS:
                missing[name] = f"unknown kernel fault setting {name!r}"
            elif base in NETEM_ONLY and not self.netem and value not in (0, "0", None, "none"):
                missing[name] = NETEM_MISSING
        return missing

    def reset(self) -> KernelFaultConfig:
        """No fault at all (the kernel's own conntrack timeouts again)."""
        self._put(KernelFaultConfig(), {"reset": True})
        return self.config

    def _put(self, config: KernelFaultConfig, settings: dict[str, Any]) -> None:
        steps = plan(config, self.interfaces, self.netem)
        for key, value in {**self._defaults, **steps.sysctl}.items():
            self._run(["sysctl", "-q", "-w", f"{key}={value}"], None)
        self._run(["iptables-restore", "-w"], steps.iptables)
        for command in steps.tc:
            self._run(command, None)
        self.config = config
        self.loss_method = steps.loss_method
        record = config.to_json()
        if steps.loss_method is not None:
            record["loss_method"] = steps.loss_method.value
        change = Change(time.time(), dict(settings), record)
        self.history.append(change)
        logger.info(
            "kernel faults changed",
            extra={
                "at": change.at,
                "settings": change.settings,
                "loss_method": record.get("loss_method"),
            },
        )
