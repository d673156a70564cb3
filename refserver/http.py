"""HTTP: the HLS files, an index page with an hls.js player per stream, and a JSON API.

Routes::

    GET /                              the index page (``?play=NAME`` starts that player)
    GET /live/<name>/index.m3u8        a stream's media playlist
    GET /live/<name>/<segment>.ts      its segments (MPEG-TS)
    GET /live/<name>/<segment>.m4s     its segments (fMP4), with their init segments <init>.mp4
    GET /api/streams                   every known stream with its stats
    GET /api/streams/<name>            one stream
    GET /static/hls.min.js             the vendored hls.js (scripts/update-hlsjs)

Only names the registry knows and file names of the packager's own shape are served, and the
final path is checked to lie inside that stream's folder: nothing else on disk is reachable.
A request under ``/live/<name>/`` is what keeps an on-demand source running: the first one starts
it and is held until its first segment is written, or answered 503 when it cannot be in time.
Playlists change on every segment and are never cached (RFC 8216 §6.2.2 relies on clients
reloading them); a segment never changes once written, so caches may keep it for its lifetime.
HLS and API responses allow any origin (CORS), so players on other sites can use them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path

import jinja2
from aiohttp import web

from refserver.streams import SourceUnavailable, StreamRegistry, valid_stream_name

MIME_PLAYLIST = "application/vnd.apple.mpegurl"
MIME_SEGMENT = "video/mp2t"
MIME_FMP4 = "video/mp4"
HLS_FILE = re.compile(r"[A-Za-z0-9_\-]{1,64}\.(m3u8|ts|m4s|mp4)")
SEGMENT_TYPES = {"ts": MIME_SEGMENT, "m4s": MIME_FMP4, "mp4": MIME_FMP4}
STATIC_FILES = {
    "hls.min.js": "text/javascript",
    "hls.js.LICENSE": "text/plain",
}
SEGMENT_MAX_AGE = 60
"""Seconds: long enough for every client that may still fetch a segment, short enough that a
stream made again from scratch (after its offline timeout) is not shadowed by old copies."""
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range",
    "Access-Control-Max-Age": "86400",
}

REGISTRY_KEY = web.AppKey("registry", StreamRegistry)
TEMPLATE_KEY = web.AppKey("index_template", jinja2.Template)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def static_dir() -> Path:
    """The package's ``static`` folder (hls.js)."""
    return Path(str(resources.files("refserver") / "static"))


def create_app(registry: StreamRegistry) -> web.Application:
    """The aiohttp application serving ``registry``'s streams."""
    app = web.Application(middlewares=[_cors])
    app[REGISTRY_KEY] = registry
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("refserver", "templates"), autoescape=True
    )
    app[TEMPLATE_KEY] = environment.get_template("index.html")
    app.router.add_get("/", _index)
    app.router.add_get("/live/{name}/{file}", _hls_file)
    app.router.add_route("OPTIONS", "/live/{name}/{file}", _preflight)
    app.router.add_get("/api/streams", _api_streams)
    app.router.add_get("/api/streams/{name}", _api_stream)
    app.router.add_route("OPTIONS", "/api/{tail:.*}", _preflight)
    app.router.add_get("/static/{file}", _static)
    return app


@web.middleware
async def _cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    if request.path.startswith(("/live/", "/api/")):
        response.headers.update(CORS_HEADERS)
    if isinstance(response, web.HTTPException):
        raise response
    return response


async def _preflight(request: web.Request) -> web.StreamResponse:
    return web.Response(status=204)


async def _index(request: web.Request) -> web.StreamResponse:
    registry = request.app[REGISTRY_KEY]
    now = time.time()
    streams = [stream.describe(now) for stream in registry]
    html = request.app[TEMPLATE_KEY].render(streams=streams, play=request.query.get("play", ""))
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-cache"})


async def _hls_file(request: web.Request) -> web.StreamResponse:
    name, file = request.match_info["name"], request.match_info["file"]
    match = HLS_FILE.fullmatch(file)
    stream = request.app[REGISTRY_KEY].get(name) if valid_stream_name(name) else None
    if match is None or stream is None:
        raise web.HTTPNotFound()
    if stream.source is not None:
        try:
            await stream.source.demand()
        except SourceUnavailable as exc:
            return web.Response(status=503, text=str(exc), headers={"Cache-Control": "no-cache"})
    folder = stream.folder.resolve()
    path = (folder / file).resolve()
    if path.parent != folder or not path.is_file():
        raise web.HTTPNotFound()
    if match.group(1) == "m3u8":
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            raise web.HTTPNotFound() from None
        return web.Response(
            body=body,
            content_type=MIME_PLAYLIST,
            headers={"Cache-Control": "no-cache"},
        )
    return web.FileResponse(
        path,
        headers={
            "Content-Type": SEGMENT_TYPES[match.group(1)],
            "Cache-Control": f"public, max-age={SEGMENT_MAX_AGE}",
        },
    )


async def _api_streams(request: web.Request) -> web.StreamResponse:
    now = time.time()
    streams = [stream.describe(now) for stream in request.app[REGISTRY_KEY]]
    return web.json_response({"streams": streams}, headers={"Cache-Control": "no-cache"})


async def _api_stream(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    stream = request.app[REGISTRY_KEY].get(name)
    if stream is None:
        return web.json_response(
            {"error": f"no stream named {name!r}"},
            status=404,
            headers={"Cache-Control": "no-cache"},
        )
    return web.json_response(stream.describe(time.time()), headers={"Cache-Control": "no-cache"})


async def _static(request: web.Request) -> web.StreamResponse:
    file = request.match_info["file"]
    content_type = STATIC_FILES.get(file)
    if content_type is None:
        raise web.HTTPNotFound()
    return web.FileResponse(
        static_dir() / file,
        headers={"Content-Type": content_type, "Cache-Control": "public, max-age=86400"},
    )
