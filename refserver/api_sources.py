"""The runtime pull API: cameras added and removed over HTTP while the server runs.

Routes (only when ``[http] sources_api = true`` or ``--api-sources``)::

    GET    /api/sources          every pull source, from the settings or added here
    POST   /api/sources          add one: a JSON object with the fields of a ``[[source]]``
                                 table (``url``; ``name``, ``transport``, ``username``, ...),
                                 checked the same way; 201 with the source, 400 naming the
                                 field that is wrong, 409 when the name is taken
    GET    /api/sources/<name>   one source
    DELETE /api/sources/<name>   TEARDOWN, and the stream's playlist ends with EXT-X-ENDLIST;
                                 204, or 404 for a name no source has

This is what MediaMTX's ``/v3/config/paths/add`` and ``/delete`` do for a path with a
``source``. Anyone who can reach it can make the server connect anywhere, so it is off by
default, and when on it answers loopback peers only, as MediaMTX's does out of the box (its
``api`` is off by default, and its default users grant the ``api`` action to 127.0.0.1 and ::1
only): a request from any other address is refused 403 whatever ``bind`` is. A web page in a
browser on this machine is a loopback peer too, so a request that carries an ``Origin`` the
API's CORS list does not name is refused 403, and a POST must say ``Content-Type:
application/json`` (which a page cannot send to another origin without a CORS preflight, and
the preflight is refused).

A removed source's stream stays listed, ended, for the offline timeout (as a stream whose RTMP
publisher left does), so players read the EXT-X-ENDLIST rather than a 404; adding the name again
starts a new stream whose playlist carries on after a discontinuity.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import json
import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any

from aiohttp import web

from refserver.config import (
    ConfigError,
    SourceConfig,
    default_name,
    source_from_table,
    without_password,
)
from refserver.http import CORS_KEY
from refserver.pull import PullSource
from refserver.streams import StreamRegistry, valid_stream_name

logger = logging.getLogger("refserver.api")

MAX_BODY_BYTES = 64 * 1024
"""A source is a few hundred bytes of JSON; anything much larger is not one."""
MAX_SOURCES = 1000
"""Sources the API may hold in all: each costs a task and a few descriptors."""
SOURCE_FIELDS = frozenset(f.name for f in dataclasses.fields(SourceConfig))
JSON_TYPE = "application/json"
WRITE_WAIT_SECONDS = 5.0
"""How long a removal waits for the ended playlist to be written (a slow disk)."""


class SourceExists(Exception):
    """A source (or a live stream) already has the name."""


class PullSources:
    """Every pull source of one server, by name: those of the settings and those added later."""

    def __init__(self, registry: StreamRegistry, configs: tuple[SourceConfig, ...] = ()) -> None:
        self.registry = registry
        self._sources = {config.name: PullSource(config, registry) for config in configs}
        self._added: set[str] = set()
        self._running = False
        self._changing = asyncio.Lock()

    def __iter__(self) -> Iterator[PullSource]:
        return iter(list(self._sources.values()))

    def __len__(self) -> int:
        return len(self._sources)

    def get(self, name: str) -> PullSource | None:
        return self._sources.get(name)

    def origin(self, name: str) -> str:
        """``"api"`` for a source added over HTTP, ``"settings"`` for one configured."""
        return "api" if name in self._added else "settings"

    def start(self) -> None:
        self._running = True
        for source in self._sources.values():
            source.start()

    async def stop(self) -> None:
        self._running = False
        for source in list(self._sources.values()):
            await source.stop()

    async def add(self, config: SourceConfig) -> PullSource:
        """Start pulling ``config``; :class:`SourceExists` when its name is taken."""
        async with self._changing:
            stream = self.registry.get(config.name)
            if config.name in self._sources:
                raise SourceExists(f"a source named {config.name!r} exists")
            if stream is not None and stream.live:
                raise SourceExists(f"stream {config.name!r} is being published")
            if stream is not None:
                # An ended stream of the name (a source removed before): the new source makes
                # a new stream, whose playlist carries on from the old one's on disk.
                self.registry.forget(config.name)
            source = PullSource(config, self.registry)
            self._sources[config.name] = source
            self._added.add(config.name)
            if self._running:
                source.start()
        logger.info(
            "source added",
            extra={"stream": config.name, "url": without_password(config.url)},
        )
        return source

    async def remove(self, name: str) -> bool:
        """TEARDOWN and end the stream's playlist; False when no source has ``name``."""
        async with self._changing:
            source = self._sources.pop(name, None)
            if source is None:
                return False
            self._added.discard(name)
            await source.stop()
            stream = self.registry.get(name)
            if stream is not None and stream.source is source:
                stream.end()
                # The ended playlist reaches the disk before the name can be added again, so
                # that a new stream's claim of the folder removes it rather than racing it.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stream.written(), WRITE_WAIT_SECONDS)
                # From here on the stream is one whose publisher left: the housekeeping forgets
                # it after the offline timeout, and the ended playlist is served until then.
                stream.source = None
                if stream.offline_since is None:
                    stream.offline_since = self.registry.clock()
        logger.info("source removed", extra={"stream": name})
        return True


SOURCES_KEY = web.AppKey("pull_sources", PullSources)


def install(app: web.Application, sources: PullSources) -> None:
    """Add the sources API's routes to the HTTP application (before it starts)."""
    app[SOURCES_KEY] = sources
    app.router.add_get("/api/sources", _list)
    app.router.add_post("/api/sources", _add)
    app.router.add_get("/api/sources/{name}", _one)
    app.router.add_delete("/api/sources/{name}", _remove)


def _error(status: int, message: str, field: str | None = None) -> web.Response:
    body: dict[str, object] = {"error": message}
    if field is not None:
        body["field"] = field
    return web.json_response(body, status=status, headers={"Cache-Control": "no-cache"})


def _refusal(request: web.Request) -> web.Response | None:
    """403 for a peer that is not on this machine, or a page of an origin not allowed."""
    try:
        peer = ipaddress.ip_address((request.remote or "").partition("%")[0])
    except ValueError:
        return _error(403, "the sources API answers clients on this machine only")
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    if not peer.is_loopback:
        return _error(403, "the sources API answers clients on this machine only")
    origin = request.headers.get("Origin")
    policy = request.app[CORS_KEY].get("/api/")
    if origin is not None and (policy is None or not policy.allows(origin)):
        return _error(403, f"origin {origin} may not change the sources")
    return None


def _described(sources: PullSources, source: PullSource) -> dict[str, object]:
    return {"name": source.name, "added_by": sources.origin(source.name), **source.describe()}


async def _list(request: web.Request) -> web.StreamResponse:
    refused = _refusal(request)
    if refused is not None:
        return refused
    sources = request.app[SOURCES_KEY]
    listed = [_described(sources, source) for source in sorted(sources, key=lambda s: s.name)]
    return web.json_response({"sources": listed}, headers={"Cache-Control": "no-cache"})


async def _one(request: web.Request) -> web.StreamResponse:
    refused = _refusal(request)
    if refused is not None:
        return refused
    sources = request.app[SOURCES_KEY]
    source = sources.get(request.match_info["name"])
    if source is None:
        return _error(404, f"no source named {request.match_info['name']!r}")
    return web.json_response(_described(sources, source), headers={"Cache-Control": "no-cache"})


async def _add(request: web.Request) -> web.StreamResponse:
    refused = _refusal(request)
    if refused is not None:
        return refused
    if request.content_type != JSON_TYPE:
        return _error(415, f"the body must be {JSON_TYPE}, not {request.content_type or 'none'}")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    body = await request.content.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        table = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _error(400, f"the body is not JSON: {exc}")
    if not isinstance(table, dict):
        return _error(400, "the body must be a JSON object with the fields of a [[source]]")
    try:
        config = parse_source(table)
    except FieldError as exc:
        return _error(400, str(exc), exc.field)
    sources = request.app[SOURCES_KEY]
    if len(sources) >= MAX_SOURCES:
        return _error(503, f"the server holds {MAX_SOURCES} sources already")
    try:
        source = await sources.add(config)
    except SourceExists as exc:
        return _error(409, str(exc), "name")
    return web.json_response(
        _described(sources, source),
        status=201,
        headers={"Location": f"/api/sources/{config.name}", "Cache-Control": "no-cache"},
    )


async def _remove(request: web.Request) -> web.StreamResponse:
    refused = _refusal(request)
    if refused is not None:
        return refused
    name = request.match_info["name"]
    if not await request.app[SOURCES_KEY].remove(name):
        return _error(404, f"no source named {name!r}")
    return web.Response(status=204)


class FieldError(ValueError):
    """A source's JSON that cannot be used, and the field that is wrong."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def parse_source(table: Mapping[str, Any]) -> SourceConfig:
    """A source from the API's JSON, checked as a ``[[source]]`` table is; the error names the
    field at fault (``url`` when the URL cannot be pulled, ``transport`` for an unknown one)."""
    for key in table:
        if key not in SOURCE_FIELDS:
            raise FieldError(f"unknown field {key!r}", key)
    url = table.get("url")
    if not isinstance(url, str):
        raise FieldError("url must be a string (an rtsp:// or rtsps:// URL)", "url")
    name = table.get("name")
    if name is None:
        try:
            name = default_name(url)
        except ConfigError as exc:
            raise FieldError(str(exc), "url") from None
        if not name:
            raise FieldError(
                f"{without_password(url)!r} has no path to name it; give a name", "name"
            )
    if not isinstance(name, str) or not valid_stream_name(name):
        raise FieldError(f"name {name!r} is not a valid stream name", "name")
    try:
        SourceConfig(name, url)  # the URL alone first, so that its faults are named as its own
    except ConfigError as exc:
        raise FieldError(str(exc), "url") from None
    try:
        return source_from_table({**table, "name": name})
    except ConfigError as exc:
        raise FieldError(str(exc), _named_field(str(exc), table)) from None


def _named_field(message: str, table: Mapping[str, Any]) -> str:
    """The field a settings error is about: the longest field name the message mentions."""
    for key in sorted(table, key=len, reverse=True):
        if re.search(rf"(?<![\w.]){re.escape(key)}(?!\w)", message):
            return key
    return "source"
