"""Network namespace topologies: a camera LAN, a router and a server side, on this machine only.

A :class:`Topology` is three namespaces joined by two veth pairs::

    lan  (198.18.0.2) ── 198.18.0.1  router  198.19.0.1 ── (198.19.0.2)  wan
    the camera LAN                   faults                the server side

Every address is in 198.18.0.0/15, the range RFC 2544 sets aside for benchmarking, and no
namespace has a default route or any route outside that range: nothing in a topology can reach
another machine, nor this machine's own interfaces. The veth pairs are created inside the
namespaces, never in the machine's own, so deleting the namespaces removes every trace.

Names are ``camsim-<pid>-<start>-<n>-<role>``: the owning process's id and start time (so a
recycled pid is not taken for the owner) and a counter. A topology is torn down by ``close()``,
``with``/``async with``, at interpreter exit, on SIGTERM, and by the pytest fixture's finalizer;
when its owner was killed outright, ``camsim fault cleanup`` (:func:`camsim.fault.cleanup
.cleanup`) finds the namespaces whose owner is gone, kills what still runs in them and deletes
them.

Run anything in a namespace with :meth:`Topology.start` (asyncio) or :meth:`Topology.popen`, or
open a socket inside one with :meth:`Topology.socket` and use it from this process's own loop::

    async with Topology() as topology:
        camera = await topology.start("lan", ["camsim", "run", "--host", topology.lan_address])
        topology.faults.change(nat=True, forward="8554", loss="5%")
        reader, writer = await asyncio.open_connection(
            sock=topology.connected_socket("wan", (topology.router_wan_address, 8554))
        )
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import itertools
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Sequence
from types import FrameType, TracebackType
from typing import Any, Literal

from camsim.fault.kernel import KernelFaults, RouterInterfaces

logger = logging.getLogger("camsim.fault")

PREFIX = "camsim-"
NETNS_DIR = "/run/netns"
Role = Literal["lan", "router", "wan"]
ROLES: tuple[Role, ...] = ("lan", "router", "wan")

LAN_HOST, LAN_ROUTER = "198.18.0.2", "198.18.0.1"
WAN_HOST, WAN_ROUTER = "198.19.0.2", "198.19.0.1"
BENCHMARK_RANGE = "198.18.0.0/15"
# Interface names inside the namespaces (each namespace has its own, so they never clash).
LAN_IF, ROUTER_LAN_IF, ROUTER_WAN_IF, WAN_IF = "veth-lan", "r-lan", "r-wan", "veth-wan"

CLONE_NEWNET = 0x40000000
Socket = socket.socket
COMMAND_TIMEOUT = 10.0


class NetnsError(RuntimeError):
    """A command that builds or changes a topology failed; the message has its stderr."""


def unavailable_reason() -> str | None:
    """Why topologies cannot be built here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_SYS_ADMIN and CAP_NET_ADMIN)"
    missing = [
        tool for tool in ("ip", "tc", "iptables-restore", "sysctl") if not shutil.which(tool)
    ]
    if missing:
        return f"not installed: {', '.join(missing)} (iproute2, iptables, procps)"
    return None


def process_start(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return int(text.rpartition(")")[2].split()[19])


def owner_tag(pid: int | None = None) -> str:
    """``<pid>-<start>`` of a process (this one by default)."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}-{process_start(pid)}"


def parse_owner(name: str) -> tuple[int, int] | None:
    """The owner's (pid, start) from a camsim namespace name, None for any other name."""
    if not name.startswith(PREFIX):
        return None
    parts = name[len(PREFIX) :].split("-")
    if len(parts) < 3 or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return int(parts[0]), int(parts[1])


def owner_alive(name: str) -> bool:
    """Whether the process that created namespace ``name`` still runs (the same process, not a
    later one with its recycled pid)."""
    owner = parse_owner(name)
    return owner is not None and process_start(owner[0]) == owner[1]


def run(argv: Sequence[str], stdin: str | None = None, timeout: float = COMMAND_TIMEOUT) -> str:
    """Run a set-up command; its stdout, or :class:`NetnsError` with its stderr."""
    result = subprocess.run(
        list(argv), input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise NetnsError(f"{' '.join(argv)}: {result.stderr.strip() or result.returncode}")
    return result.stdout


def list_namespaces() -> list[str]:
    """Every named network namespace on the machine."""
    return [line.split()[0] for line in run(["ip", "netns", "list"]).splitlines() if line.strip()]


def delete_namespace(name: str) -> None:
    """Kill what runs in ``name`` and delete it (its veth ends go with it)."""
    try:
        pids = [int(pid) for pid in run(["ip", "netns", "pids", name]).split()]
    except NetnsError:
        pids = []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    run(["ip", "netns", "delete", name])


_counter = itertools.count(1)
_live: set[Topology] = set()
_live_lock = threading.Lock()
_handlers_installed = False
_netem: bool | None = None


def netem_available() -> bool:
    """Whether this kernel has the netem qdisc (probed once, in a namespace of its own)."""
    global _netem
    if _netem is None:
        name = f"{PREFIX}{owner_tag()}-{next(_counter)}-probe"
        run(["ip", "netns", "add", name])
        try:
            probe = subprocess.run(
                ["ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", "lo", "root", "netem"],
                capture_output=True, timeout=COMMAND_TIMEOUT, check=False,
            )  # fmt: skip
            _netem = probe.returncode == 0
        finally:
            delete_namespace(name)
    return _netem


def _setns(name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"{NETNS_DIR}/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {name}")
    finally:
        os.close(fd)


class Topology:
    """Three namespaces (``lan``, ``router``, ``wan``) joined by veth pairs; see the module."""

    lan_address = LAN_HOST
    router_lan_address = LAN_ROUTER
    router_wan_address = WAN_ROUTER
    wan_address = WAN_HOST

    def __init__(self) -> None:
        number = next(_counter)
        self.names: dict[Role, str] = {
            role: f"{PREFIX}{owner_tag()}-{number}-{role}" for role in ROLES
        }
        self._faults: KernelFaults | None = None
        self._processes: list[subprocess.Popen[bytes] | asyncio.subprocess.Process] = []
        self.closed = False
        self.created = False

    # -- building and tearing down -----------------------------------------------------------------

    def create(self) -> Topology:
        """Build the namespaces, links, addresses and routes; undone whole if a step fails."""
        reason = unavailable_reason()
        if reason is not None:
            raise NetnsError(reason)
        _install_handlers()
        with _live_lock:
            _live.add(self)
        lan, router, wan = (self.names[role] for role in ROLES)
        name_role = {name: role for role, name in self.names.items()}
        try:
            for name in (lan, router, wan):
                run(["ip", "netns", "add", name])
                self.created = True
                run(["ip", "-n", name, "link", "set", "lo", "up"])
                if os.path.isdir("/proc/sys/net/ipv6"):
                    # IPv4 in 198.18.0.0/15 only: no link-local IPv6 address or route either.
                    self.exec(name_role[name], ["sysctl", "-q", "-w",
                              "net.ipv6.conf.all.disable_ipv6=1",
                              "net.ipv6.conf.default.disable_ipv6=1"])  # fmt: skip
            # Both ends created inside the namespaces: nothing ever appears in the machine's own.
            run(["ip", "-n", lan, "link", "add", LAN_IF, "type", "veth",
                 "peer", "name", ROUTER_LAN_IF, "netns", router])  # fmt: skip
            run(["ip", "-n", wan, "link", "add", WAN_IF, "type", "veth",
                 "peer", "name", ROUTER_WAN_IF, "netns", router])  # fmt: skip
            for name, device, address in (
                (lan, LAN_IF, LAN_HOST),
                (router, ROUTER_LAN_IF, LAN_ROUTER),
                (router, ROUTER_WAN_IF, WAN_ROUTER),
                (wan, WAN_IF, WAN_HOST),
            ):
                run(["ip", "-n", name, "addr", "add", f"{address}/24", "dev", device])
                run(["ip", "-n", name, "link", "set", device, "up"])
            # The hosts reach the benchmarking range through the router and nothing else.
            run(["ip", "-n", lan, "route", "add", BENCHMARK_RANGE, "via", LAN_ROUTER])
            run(["ip", "-n", wan, "route", "add", BENCHMARK_RANGE, "via", WAN_ROUTER])
            self.exec("router", ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
            interfaces = RouterInterfaces(ROUTER_LAN_IF, ROUTER_WAN_IF, LAN_HOST)
            self._faults = KernelFaults(
                lambda argv, stdin: self.exec("router", argv, stdin), interfaces, netem_available()
            )
        except BaseException:
            self.close()
            raise
        logger.info("topology up", extra={"namespaces": list(self.names.values())})
        return self

    def close(self) -> None:
        """Stop every process started here and delete the namespaces. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        for process in self._processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        for process in self._processes:
            if isinstance(process, subprocess.Popen):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(COMMAND_TIMEOUT)
        if self.created:
            present = set(list_namespaces())
            for name in self.names.values():
                if name in present:
                    delete_namespace(name)
        with _live_lock:
            _live.discard(self)
        logger.info("topology down", extra={"namespaces": list(self.names.values())})

    def __enter__(self) -> Topology:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Topology:
        return await asyncio.to_thread(self.create)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.close)

    # -- faults ------------------------------------------------------------------------------------

    @property
    def faults(self) -> KernelFaults:
        """The router's faults: ``topology.faults.change(loss="5%")``."""
        if self._faults is None:
            raise RuntimeError("the topology is not created")
        return self._faults

    # -- running things inside ---------------------------------------------------------------------

    def argv(self, role: Role, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed to run in the namespace of ``role``."""
        return ["ip", "netns", "exec", self.names[role], *argv]

    def exec(self, role: Role, argv: Sequence[str], stdin: str | None = None) -> str:
        """Run a short command in ``role``'s namespace; its stdout."""
        return run(self.argv(role, argv), stdin)

    def popen(self, role: Role, argv: Sequence[str], **options: Any) -> subprocess.Popen[bytes]:
        """Start a process in ``role``'s namespace; it is killed when the topology closes."""
        process: subprocess.Popen[bytes] = subprocess.Popen(self.argv(role, argv), **options)
        self._processes.append(process)
        return process

    async def start(
        self, role: Role, argv: Sequence[str], **options: Any
    ) -> asyncio.subprocess.Process:
        """As :meth:`popen`, as an asyncio subprocess."""
        process = await asyncio.create_subprocess_exec(*self.argv(role, argv), **options)
        self._processes.append(process)
        return process

    def socket(
        self,
        role: Role,
        family: int = socket.AF_INET,
        kind: int = socket.SOCK_STREAM,
        protocol: int = 0,
    ) -> Socket:
        """A socket inside ``role``'s namespace, for this process's own use.

        A socket belongs to the namespace it was made in for good, so it is made in a thread that
        entered that namespace (setns changes only the calling thread) and that then ends.
        """
        made: list[Socket] = []
        failed: list[BaseException] = []

        def make() -> None:
            try:
                _setns(self.names[role])
                made.append(socket.socket(family, kind, protocol))
            except BaseException as error:
                failed.append(error)

        thread = threading.Thread(target=make, name=f"netns-{role}")
        thread.start()
        thread.join()
        if failed:
            raise failed[0]
        return made[0]

    def connected_socket(
        self, role: Role, address: tuple[str, int], timeout: float = 5.0
    ) -> Socket:
        """A TCP socket in ``role``'s namespace connected to ``address`` (non-blocking after)."""
        sock = self.socket(role)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock


def close_all() -> None:
    """Tear down every topology of this process (at exit, on SIGTERM)."""
    with _live_lock:
        live = list(_live)
    for topology in live:
        try:
            topology.close()
        except Exception:
            logger.exception("could not tear down %s", topology.names)


def _install_handlers() -> None:
    """At exit and on SIGTERM, tear down what is still up (once per process, main thread only)."""
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(close_all)
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        close_all()
        if previous == signal.SIG_IGN:
            return
        if callable(previous):
            previous(signum, frame)
        else:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
