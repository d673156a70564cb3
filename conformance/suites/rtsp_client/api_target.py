"""``--pull-api``: the client under test is a server that runs all along and is told what to pull.

Instead of a command started per case, the suite asks the server over HTTP to pull each case's
camera (``--pull-api 'METHOD URL [BODY]'``), reads the server's HLS of it over HTTP (``--hls
URL``), and, with ``--pull-api-remove 'METHOD URL'``, asks it to stop pulling after the case.
``{name}`` is the case's name and ``{url}`` the camera's URL (credentials included where the
case asks for them) in all three; in a body that is JSON the URL is JSON-escaped. For
refserver run with ``--api-sources``::

    --pull-api 'POST http://127.0.0.1:8080/api/sources {"name": "{name}", "url": "{url}"}'
    --pull-api-remove 'DELETE http://127.0.0.1:8080/api/sources/{name}'
    --hls 'http://127.0.0.1:8080/live/{name}/index.m3u8'

The cameras, their behaviours and the verdicts are the command mode's
(:mod:`~conformance.suites.rtsp_client.run`); only how the client is started and where its
output is read differ. The HLS is read by :class:`conformance.hls.recorder.HlsRecorder`, which
fetches each segment once as it is first listed and analyses it: until the server has a
playlist for the camera (404s), it is asked again every half second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import aiohttp

from camsim.camera.fleet import CameraFleet
from conformance.hls.recorder import HlsRecorder
from conformance.hls.recording import HlsRecording
from conformance.session import TargetUnreachable
from conformance.suites.rtsp_client.output import FolderOutput, OutputSegment
from conformance.suites.rtsp_client.run import USER, ScenarioResult, ScenarioRunner
from conformance.suites.rtsp_client.scenarios import TAIL_SECONDS, Sample, Scenario

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
REQUEST_TIMEOUT = 10.0
"""Seconds for one API request to be answered."""
RETRY_SECONDS = 0.5
"""How often the HLS is asked for again while the server has no playlist for the camera."""
STOP_GRACE_SECONDS = 8.0
"""How long the reading may go on after the case's end: the last segment, and the
EXT-X-ENDLIST a removal brings."""
ANSWER_CHARS = 200


class ApiTemplate:
    """``METHOD URL [BODY]`` with ``{name}`` and ``{url}``, as ``--pull-api`` takes it."""

    def __init__(self, template: str, option: str, *, needs_url: bool = True) -> None:
        method, _, rest = template.strip().partition(" ")
        url, _, body = rest.strip().partition(" ")
        self.option = option
        self.method = method.upper()
        self.url = url
        self.body = body.strip()
        if self.method not in METHODS or not url:
            raise ValueError(
                f"{option} must be 'METHOD URL [BODY]' with METHOD one of {', '.join(METHODS)}, "
                f"not {template!r}"
            )
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"{option}: {url!r} is not an http:// or https:// URL")
        if needs_url and "{url}" not in url + self.body:
            raise ValueError(f"{option} must contain {{url}}, the camera to pull")
        if "{name}" not in url + self.body:
            raise ValueError(f"{option} must contain {{name}}, the stream the server makes")

    def render(
        self, name: str, camera: str, extra: Mapping[str, str] | None = None
    ) -> tuple[str, str, str]:
        """Method, URL and body for one case: ``{url}`` (and each field of ``extra``, a suite's
        own) percent-encoded in the URL, JSON-escaped in a JSON body, as it is in any other
        body; ``{name}`` as it is."""
        values = {"url": camera, **(extra or {})}
        url = self.url.replace("{name}", quote(name, safe=""))
        body = self.body.replace("{name}", name)
        for field, value in values.items():
            url = url.replace("{" + field + "}", quote(value, safe=""))
            escaped = json.dumps(value)[1:-1] if self.json else value
            body = body.replace("{" + field + "}", escaped)
        return self.method, url, body

    @property
    def json(self) -> bool:
        return self.body.startswith(("{", "["))


def hls_template(template: str | None) -> str:
    """``--hls``: where the server serves the stream ``{name}`` as HLS."""
    if not template:
        raise ValueError(
            "--pull-api needs --hls, where the server serves each stream (e.g. "
            "'http://127.0.0.1:8080/live/{name}/index.m3u8')"
        )
    if "{name}" not in template or urlsplit(template).scheme not in ("http", "https"):
        raise ValueError(f"--hls {template!r} must be an http(s):// URL with {{name}}")
    return template


@dataclass(frozen=True)
class PullApi:
    """How the server under test is told to pull, and to stop, and where its HLS is."""

    add: ApiTemplate
    hls: str
    remove: ApiTemplate | None = None

    @classmethod
    def parse(cls, add: str, hls: str | None, remove: str | None = None) -> PullApi:
        """From the options; ``ValueError`` says what is wrong with them."""
        return cls(
            ApiTemplate(add, "--pull-api"),
            hls_template(hls),
            ApiTemplate(remove, "--pull-api-remove", needs_url=False) if remove else None,
        )

    def describe(self) -> str:
        removal = f"; {self.remove.method} {self.remove.url}" if self.remove else ""
        return f"{self.add.method} {self.add.url} {self.add.body}".rstrip() + removal


async def call(
    template: ApiTemplate,
    name: str,
    camera: str,
    shown: str,
    extra: Mapping[str, str] | None = None,
) -> str:
    """One API request; what it was and how it was answered, in a line (never raising). The
    line shows ``shown`` for the camera's URL, which may hold the case's password."""
    method, url, body = template.render(name, camera, extra)
    headers = {"Content-Type": "application/json"} if template.json else {}
    line = f"{method} {url.replace(quote(camera, safe=''), quote(shown, safe=''))}"
    try:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, url, data=body or None, headers=headers) as response,
        ):
            text = (await response.content.read(ANSWER_CHARS * 4)).decode(errors="replace")
            answer = " ".join(text.split())[:ANSWER_CHARS]
            return f"{line}: HTTP {response.status} {answer}".rstrip()
    except TimeoutError:
        return f"{line}: no answer within {REQUEST_TIMEOUT:g} s"
    except aiohttp.ClientError as exc:
        return f"{line}: {exc or type(exc).__name__}"


def accepted(line: str) -> bool:
    """Whether :func:`call`'s line is a 2xx answer."""
    status = line.rpartition(": HTTP ")[2][:3]
    return status.isdigit() and status.startswith("2")


class ApiScenarioRunner(ScenarioRunner):
    """Runs the scenarios against a server told what to pull through its API.

    The cameras (started, restarted, impaired) are the command mode's; the client is asked to
    pull over HTTP and its output read over HTTP.
    """

    def __init__(
        self,
        api: PullApi,
        samples: dict[Sample, Path],
        workdir: Path,
        *,
        parallel: int = 4,
        progress: Callable[[str], None] = lambda text: None,
    ) -> None:
        # No command: run_one below starts nothing, it asks the server.
        super().__init__(None, samples, workdir, parallel=parallel, progress=progress)
        self.api = api

    async def run_one(self, scenario: Scenario) -> ScenarioResult:
        result = ScenarioResult(scenario)
        password = secrets.token_hex(8)
        fleet = CameraFleet(self._config(scenario, password, 0))
        try:
            await fleet.start()
        except (OSError, ValueError) as exc:
            result.error = f"the suite's camera did not start: {exc}"
            return result
        port = fleet.servers[0].port
        self._impair(fleet, scenario)
        result.frame_count = len(fleet.cameras[0].sample.video_units) or 1
        url = shown = fleet.urls()[0]
        if scenario.auth:
            url = url.replace("://", f"://{USER}:{password}@", 1)
            shown = shown.replace("://", f"://{USER}:***@", 1)
        result.url = url
        name = scenario.slug
        loop = asyncio.get_running_loop()
        started = loop.time()
        result.started_us = time.time_ns() // 1000
        exchanges = [await call(self.api.add, name, url, shown)]
        recorders: list[HlsRecorder] = []
        hls = self.api.hls.replace("{name}", quote(name, safe=""))
        reader = asyncio.create_task(read_hls(hls, started, scenario, recorders))
        try:
            if scenario.restart_at is not None:
                await _sleep_until(started + scenario.restart_at)
                await fleet.close()
                await _sleep_until(started + scenario.restart_at + scenario.restart_down)
                fleet = CameraFleet(self._config(scenario, password, port))
                await fleet.start()
                self._impair(fleet, scenario)
                result.restarted_us = time.time_ns() // 1000
            await _sleep_until(started + scenario.seconds)
        finally:
            if self.api.remove is not None:
                exchanges.append(await call(self.api.remove, name, url, shown))
            await _finish(reader)
            await fleet.close()
        recording = recorders[-1].recording if recorders else None
        result.output = output_of(recording, self.workdir / scenario.slug)
        result.exit_code = 0 if accepted(exchanges[0]) else 1
        result.log_tail = exchanges
        return result


async def _sleep_until(when: float) -> None:
    await asyncio.sleep(max(0.0, when - asyncio.get_running_loop().time()))


async def read_hls(
    url: str, started: float, scenario: Scenario, recorders: list[HlsRecorder]
) -> None:
    """Record the server's HLS of one case from its first playlist to the case's end (or its
    EXT-X-ENDLIST); the recorder that found a playlist is the last of ``recorders``."""
    loop = asyncio.get_running_loop()
    end = started + scenario.seconds
    while (remaining := end - loop.time()) > 0:
        recorder = HlsRecorder(url, duration=remaining + TAIL_SECONDS / 2, analyse=True)
        recorders.append(recorder)
        try:
            await recorder.record()
            return
        except TargetUnreachable:
            recorders.pop()
            await asyncio.sleep(min(RETRY_SECONDS, max(0.0, end - loop.time())))


async def _finish(reader: asyncio.Task[None]) -> None:
    """Give the reading a little time after the case for its last segments, then stop it
    (what it recorded so far stays in its recorder)."""
    try:
        await asyncio.wait_for(asyncio.shield(reader), STOP_GRACE_SECONDS)
    except TimeoutError:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


def output_of(recording: HlsRecording | None, where: Path) -> FolderOutput:
    """The recording as the command mode's output: segments in playlist order, each analysed,
    and those listed but not served as errors."""
    output = FolderOutput(where)
    if recording is None:
        return output
    for record in recording.ordered_segments():
        if record.media is None:
            if record.status is None and not record.error:
                continue  # listed as the reading stopped, never fetched
            reason = f"HTTP {record.status}" if record.status is not None else record.error
            output.errors.append(f"{record.uri}: listed but not readable ({reason})")
            continue
        output.segments.append(OutputSegment(record.uri, record.discontinuity, record.media))
    return output
