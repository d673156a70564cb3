"""Pull scenarios on the kernel path: a camera LAN, a router with the faults, the puller's side.

With ``--set path=kernel`` (or ``both``) each pull scenario the kernel can express runs in a
namespace :class:`~camsim.fault.netns.Topology` of its own instead of behind the userspace proxy:
a camsim camera (``camsim run``) in the ``lan`` namespace on 198.18.0.2, the puller's command in
the ``wan`` namespace on 198.19.0.2, and the scenario's faults put on the router between them by
iptables, tc and conntrack (:class:`~camsim.fault.kernel.KernelFaults`), changed at each window's
start and end by :func:`~camsim.fault.timeline.play`. Real TCP and UDP stacks sit on both ends,
and the namespaces share this machine's filesystem, so the puller writes its HLS to a folder the
suite reads and the same verdict engine judges it.

What the kernel does for each scenario's proxy settings (:func:`kernel_plan`):

- ``loss``: an iptables ``statistic`` DROP (netem's loss when the kernel has sch_netem);
- ``burst``: Gilbert-Elliott loss as a two-state chain of iptables ``statistic`` and ``recent``
  matches (netem's ``loss gemodel`` when the kernel has sch_netem);
- ``rate``: tbf, whose own queue (100 ms at the rate) stands for the proxy's ``queue_limit``;
- ``udp_blocked``: a DROP of every forwarded datagram;
- a refused URL (port-554-blocked): a REJECT of the URL's port, 554, where a camera does listen,
  and the same camera's other port left open (``{alt_url}``, ``{alt_port}``);
- ``nat`` (cone or symmetric), ``nat_timeout``: MASQUERADE behind the router's WAN address, the
  camera's RTSP ports forwarded, conntrack's UDP timeouts set in the router's namespace;
- device faults (camera-reboot, rtp-stops): done to the camera in the LAN namespace, as on the
  proxy path.

Delay, jitter and reordering on a kernel without sch_netem have no kernel form here: those
cases are not applicable on this path, saying so.

Directions: the proxy's ``down_`` is towards the puller, which is the kernel's ``up_`` (LAN →
WAN) since the camera sits on the LAN; the prefixes are swapped, not copied.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from camsim.fault.kernel import NETEM_MISSING
from camsim.fault.netns import Topology, netem_available, unavailable_reason
from camsim.fault.scenarios import DeviceFault, FaultScenario
from camsim.fault.timeline import play
from camsim.media.loader import load
from conformance.suites.resilience.run import FaultRun, Mark, client_scenario, poll_folder
from conformance.suites.rtsp_client.output import FolderOutput
from conformance.suites.rtsp_client.run import ScenarioResult, log_tail, stop_client

KERNEL_SUFFIX = "-KERNEL"
"""Appended to a scenario's case ID for its kernel-path case: RESIL-NET-LOSS-1-KERNEL."""
CAMERA_PORT = 8554
"""The camera's RTSP port in the LAN namespace (its own network stack: no clash with the host)."""
BLOCKED_PORT = 554
"""port-554-blocked: a second camera process listens here and the router REJECTs it."""
POLL_SECONDS = 0.5
CAMERA_READY_SECONDS = 10.0
CAMERA_STOP_SECONDS = 5.0

_DIRECTION = {"up_": "down_", "down_": "up_"}
_KERNEL_NAMES = {"loss", "burst", "rate", "udp_blocked", "nat_timeout"}
_TBF_QUEUES = {"queue_limit"}
"""Proxy settings tbf's own bounded queue stands for: dropped from the kernel plan."""
_NETEM_NAMES = {"delay", "jitter", "reorder"}


@dataclass(frozen=True)
class KernelPlan:
    """A scenario as the router does it."""

    base: dict[str, object]
    """Kernel settings for the whole run (``KernelFaults.change`` names)."""
    changes: list[tuple[float, dict[str, object]]]
    """Seconds into the run, and the kernel settings that change then."""
    nat: bool = False
    blocked_port: int | None = None
    """A port of the camera's that the router refuses (the URL's), the camera open on another."""
    notes: list[str] = field(default_factory=list)
    """How the kernel's form differs from the proxy's, for the case's timeline."""


def translate(settings: dict[str, object], netem: bool) -> tuple[dict[str, object], str | None]:
    """Proxy settings as kernel settings, or None and why the kernel cannot do them here."""
    out: dict[str, object] = {}
    for name, value in settings.items():
        prefix = next((p for p in _DIRECTION if name.startswith(p)), "")
        base = name.removeprefix(prefix)
        kernel_name = _DIRECTION.get(prefix, "") + base
        if base in _TBF_QUEUES:
            continue
        if name == "nat":
            out["nat"] = str(value) in ("cone", "symmetric")
        elif base in _KERNEL_NAMES:
            out[kernel_name] = value
        elif base in _NETEM_NAMES:
            if not netem:
                return {}, f"needs netem ({name}): {NETEM_MISSING}; it runs on the proxy path"
            out[kernel_name] = value
        else:
            return {}, f"{name}: no kernel form; this scenario runs on the proxy path"
    return out, None


def kernel_plan(scenario: FaultScenario, netem: bool) -> KernelPlan | str:
    """The scenario on the router, or why it is not applicable on the kernel path."""
    if scenario.device not in (
        DeviceFault.NONE,
        DeviceFault.CAMERA_REBOOT,
        DeviceFault.RTP_STOPS,
        DeviceFault.TCP_DROP_MID_FRAME,
    ):
        return f"{scenario.device.value} is an ingest fault, not a pull one"
    base, reason = translate(dict(scenario.base), netem)
    if reason is not None:
        return reason
    changes: list[tuple[float, dict[str, object]]] = []
    for at, settings in scenario.changes():
        kernel, reason = translate(settings, netem)
        if reason is not None:
            return reason
        if kernel:
            changes.append((at, kernel))
    notes = []
    nat = bool(base.get("nat"))
    if nat:
        base["forward"] = f"{CAMERA_PORT}"
        if scenario.base.get("nat") == "symmetric":
            notes.append(
                "kernel NAT is MASQUERADE, which keeps a mapping's source port when it is free: "
                "closer to a port-preserving NAT than to the proxy's symmetric one"
            )
    if scenario.base.get("nat_timeout"):
        notes.append("UDP mappings expire by conntrack's timeout in the router's namespace")
    blocked = None
    if scenario.refused_url:
        blocked = BLOCKED_PORT
        base.update(rtsp_blocked="reject", rtsp_port=BLOCKED_PORT)
    return KernelPlan(base, changes, nat, blocked, notes)


def kernel_unavailable() -> str | None:
    """Why the kernel path cannot run here (not root, tools missing), or None."""
    return unavailable_reason()


def _program(name: str) -> str:
    """An absolute path: ``ip netns exec`` searches the PATH it inherits, which may lack the
    virtual environment's programs."""
    return shutil.which(name) or str(Path(sys.executable).with_name(name))


class KernelRunner:
    """Runs pull scenarios each in a topology of its own, ``parallel`` at a time."""

    def __init__(
        self,
        words: list[str],
        sample: Path,
        workdir: Path,
        *,
        parallel: int = 2,
        progress: Callable[[str], None] = lambda text: None,
    ) -> None:
        self.words = words
        self.sample = sample
        self.workdir = workdir
        self.parallel = max(1, parallel)
        self.progress = progress
        self.frame_count = len(load(sample).video_units) or 1
        self._done = 0

    async def run(self, chosen: list[FaultScenario]) -> tuple[list[FaultRun], dict[str, str]]:
        """The runs of the scenarios the kernel can express, and why the others were not run
        (by scenario name)."""
        netem = await asyncio.to_thread(netem_available)
        plans: dict[str, KernelPlan] = {}
        skipped: dict[str, str] = {}
        for scenario in chosen:
            planned = kernel_plan(scenario, netem)
            if isinstance(planned, str):
                skipped[scenario.name] = planned
            else:
                plans[scenario.name] = planned
        gate = asyncio.Semaphore(self.parallel)
        todo = [s for s in chosen if s.name in plans]

        async def one(scenario: FaultScenario) -> FaultRun:
            async with gate:
                run = await self.run_one(scenario, plans[scenario.name])
            self._done += 1
            self.progress(f"resilience (kernel): {self._done}/{len(todo)} scenarios run")
            return run

        return list(await asyncio.gather(*(one(s) for s in todo))), skipped

    async def _camera(
        self, topology: Topology, scenario: FaultScenario, port: int, log: Path
    ) -> asyncio.subprocess.Process:
        argv = [_program("camsim"), "run", "--host", topology.lan_address, "--port", str(port)]
        argv += ["--media", str(self.sample), "--request-timeout", "5", "--idle-timeout", "30"]
        if scenario.camera_quirks:
            argv += ["--quirks", ",".join(scenario.camera_quirks)]
        with log.open("ab") as out:
            process = await topology.start(
                "lan", argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
            )
        await self._wait_listening(topology, port, process)
        return process

    @staticmethod
    async def _wait_listening(
        topology: Topology, port: int, process: asyncio.subprocess.Process
    ) -> None:
        """Until the camera accepts on ``port`` in the LAN namespace (its start is not instant)."""
        deadline = time.monotonic() + CAMERA_READY_SECONDS
        while time.monotonic() < deadline and process.returncode is None:
            listening = await asyncio.to_thread(
                topology.exec, "lan", ["ss", "-Hltn", f"sport = :{port}"]
            )
            if listening.strip():
                return
            await asyncio.sleep(0.1)
        raise OSError(f"the camera did not listen on {topology.lan_address}:{port}")

    @staticmethod
    async def _stop_camera(process: asyncio.subprocess.Process) -> None:
        """SIGTERM (the camera closes its sessions with RTCP BYE), then SIGKILL."""
        if process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), CAMERA_STOP_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def run_one(self, scenario: FaultScenario, plan: KernelPlan) -> FaultRun:
        run = FaultRun(scenario, ScenarioResult(client_scenario(scenario)))
        run.result.frame_count = self.frame_count
        topology = Topology()
        try:
            await asyncio.to_thread(topology.create)
        except Exception as exc:  # NetnsError, OSError: the case says what failed
            run.result.error = f"the kernel topology was not built: {exc}"
            return run
        try:
            await self._run_in(topology, run, plan)
        finally:
            await asyncio.to_thread(topology.close)
        return run

    async def _run_in(self, topology: Topology, run: FaultRun, plan: KernelPlan) -> None:
        scenario = run.scenario
        camera_log = self.workdir / f"{scenario.name}-kernel-camera.log"
        host = topology.router_wan_address if plan.nat else topology.lan_address
        try:
            camera = await self._camera(topology, scenario, CAMERA_PORT, camera_log)
            if plan.blocked_port is not None:
                await self._camera(topology, scenario, plan.blocked_port, camera_log)
        except OSError as exc:
            run.result.error = f"the suite's camera did not start in the LAN namespace: {exc}"
            return
        alt = f"rtsp://{host}:{CAMERA_PORT}/cam1"
        url = f"rtsp://{host}:{plan.blocked_port}/cam1" if plan.blocked_port else alt
        run.url, run.alt_url = url, alt
        run.result.url = url
        faults = topology.faults
        await asyncio.to_thread(faults.change, **plan.base)
        shown = ", ".join(f"{name}={value}" for name, value in plan.base.items()) or "none"
        run.marks.append(Mark(0.0, f"kernel faults: {shown}"))
        for note in plan.notes:
            run.marks.append(Mark(0.0, note))
        out = self.workdir / f"{scenario.name}-kernel"
        out.mkdir(parents=True, exist_ok=True)
        output = run.result.output = FolderOutput(out)
        values = {"url": url, "alt_url": alt, "out": str(out), "name": scenario.name}
        values["alt_port"] = str(CAMERA_PORT)
        argv = [word.format_map(values) for word in self.words]
        argv[0] = _program(argv[0])
        log_path = self.workdir / f"{scenario.name}-kernel.log"
        loop = asyncio.get_running_loop()
        started = loop.time()
        run.result.started_us = time.time_ns() // 1000
        try:
            with log_path.open("wb") as log:
                process = await topology.start(
                    "wan",
                    argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
        except OSError as exc:
            run.result.error = f"the --target command did not start: {argv[0]}: {exc.strerror}"
            return
        timeline = asyncio.create_task(play(faults, plan.changes))
        events = self._device_events(scenario)
        try:
            while (now := loop.time() - started) < scenario.seconds:
                while events and events[0][0] <= now:
                    at, action = events.pop(0)
                    if action == "camera down":
                        await self._stop_camera(camera)
                        run.marks.append(Mark(at, "camera rebooting: sessions closed, port shut"))
                    else:
                        camera = await self._camera(topology, scenario, CAMERA_PORT, camera_log)
                        run.marks.append(Mark(at, "camera back: a new process, new SSRC"))
                await asyncio.sleep(min(POLL_SECONDS, scenario.seconds - now))
                poll_folder(run, output, loop.time() - started, process.pid)
                if process.returncode is not None:
                    run.marks.append(Mark(loop.time() - started, "the client exited"))
                    break
        finally:
            timeline.cancel()
            try:
                changes = await timeline
            except asyncio.CancelledError:
                changes = faults.history[1:]
            run.result.exit_code, run.result.killed = await stop_client(process)
        zero = run.result.started_us / 1e6
        for change in changes:
            shown = ", ".join(f"{name}={value}" for name, value in change.settings.items())
            if method := change.config.get("loss_method"):
                shown += f" (loss by {method})"
            run.marks.append(Mark(change.at - zero, f"kernel faults: {shown}"))
        run.proxy_state = {"kernel": faults.config.to_json(), "loss_method": faults.loss_method}
        output.poll()
        run.result.log_tail = log_tail(log_path)

    @staticmethod
    def _device_events(scenario: FaultScenario) -> list[tuple[float, str]]:
        events: list[tuple[float, str]] = []
        if scenario.device is DeviceFault.CAMERA_REBOOT:
            for window in scenario.windows:
                events += [(window.start, "camera down"), (window.end, "camera up")]
        return sorted(events)
