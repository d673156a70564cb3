"""HTTP: the HLS files, an index page with an hls.js player per stream, and a JSON API.

Routes::

    GET /                              the index page: a row and an hls.js player per stream,
                                       kept up to date from /api/streams; ``?play=NAME``
                                       starts stream NAME's player as soon as it is listed
    GET /live/<name>/index.m3u8        a stream's media playlist
    GET /live/<name>/<segment>.ts      its segments (MPEG-TS)
    GET /live/<name>/<segment>.m4s     its segments (fMP4), with their init segments <init>.mp4
    GET /api/streams                   every known stream with its stats
    GET /api/streams/<name>            one stream
    GET /static/hls.min.js             the vendored hls.js (scripts/update-hlsjs)
    /api/sources                       pull sources added and removed at run time, when
                                       ``sources_api`` is on (:mod:`refserver.api_sources`)

Only names the registry knows and file names of the packager's own shape are served, and the
final path is checked to lie inside that stream's folder: nothing else on disk is reachable.
A request under ``/live/<name>/`` is what keeps an on-demand source running: the first one starts
it and is held until its first segment is written, or answered 503 when it cannot be in time.
Playlists change on every segment and are never cached (RFC 8216 §6.2.2 relies on clients
reloading them); a segment never changes once written, so caches may keep it for its lifetime.

CORS (which other web sites' scripts may read a response): HLS files allow any origin by
default, the JSON API none; both are lists of origins in :class:`HttpOptions`, ``"*"`` for any.
The API leaves out the addresses of publishers unless ``expose_addresses`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2
from aiohttp import web

from refserver.http_limits import mark_served
from refserver.streams import LiveStream, SourceUnavailable, StreamRegistry, valid_stream_name

MIME_PLAYLIST = "application/vnd.apple.mpegurl"
MIME_SEGMENT = "video/mp2t"
MIME_FMP4 = "video/mp4"
HLS_FILE = re.compile(r"[A-Za-z0-9_\-]{1,64}\.(m3u8|ts|m4s|mp4)")
SEGMENT_TYPES = {"ts": MIME_SEGMENT, "m4s": MIME_FMP4, "mp4": MIME_FMP4}
STATIC_FILES = {
    "hls.min.js": "text/javascript",
    "hls.js.LICENSE": "text/plain",
}
INDEX_REFRESH_SECONDS = 2
"""How often the index page reads /api/streams to follow streams as they come and go."""
SEGMENT_MAX_AGE = 60
"""Seconds: long enough for every client that may still fetch a segment, short enough that a
stream made again from scratch (after its offline timeout) is not shadowed by old copies."""
PLAYLIST_WAIT_SECONDS = 1.0
"""How long a playlist request waits for the stream's queued HLS writes to reach the disk."""
ANY_ORIGIN = "*"
ORIGIN = re.compile(r"https?://[^\s/?#]+")
"""A serialized origin (RFC 6454 §6.2) as browsers send it: scheme, host and optional port."""
CORS_EXPOSE_HEADERS = "Content-Length, Content-Range"
PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range",  # hls.js asks for byte ranges
    "Access-Control-Max-Age": "86400",
}


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """The HTTP side's settings, ``[http]`` in the config file.

    Connections: at most ``max_connections`` (fewer when the file descriptor limit cannot be
    raised to fit them), ``max_connections_per_ip`` from one IPv4 address or IPv6 /64. A
    connection has ``keepalive_timeout`` seconds, from its opening or its previous response,
    to deliver a complete request head (idle and slow-header clients alike), ``body_timeout``
    to send a request body nobody reads, and ``send_timeout`` for what is sent to it to be
    acknowledged (a client that stops reading). See :mod:`refserver.http_limits`.

    ``api_cors_origins`` and ``hls_cors_origins`` list the origins (``https://host[:port]``)
    whose scripts may read the JSON API and the HLS files, ``("*",)`` for any. HLS is open to
    any origin by default: a player on another site (hls.js on a web page) is how HLS is
    usually watched, the files are public media that any non-browser client fetches anyway,
    and no credentials are involved. The API is closed by default: it describes the server's
    inner state, which no other site needs to read. ``expose_addresses`` shows publishers'
    IP:port in the API and on the index page.
    """

    max_connections: int = 1000
    max_connections_per_ip: int = 64
    """A few dozen players behind one NAT, two connections each."""
    keepalive_timeout: float = 15.0
    """Long enough for players, which reload the playlist every target duration (2 s)."""
    body_timeout: float = 5.0
    send_timeout: float = 30.0
    """A live segment is worthless to a client that takes this long to take in any of it."""
    api_cors_origins: tuple[str, ...] = ()
    hls_cors_origins: tuple[str, ...] = (ANY_ORIGIN,)
    expose_addresses: bool = False
    sources_api: bool = False
    """Serve ``/api/sources``, which adds and removes pull sources while the server runs, to
    loopback clients (:mod:`refserver.api_sources`)."""

    def __post_init__(self) -> None:
        for setting in ("max_connections", "max_connections_per_ip"):
            if getattr(self, setting) < 1:
                raise ValueError(f"{setting} {getattr(self, setting)} is below 1")
        for setting in ("keepalive_timeout", "body_timeout", "send_timeout"):
            if not getattr(self, setting) > 0:
                raise ValueError(f"{setting} {getattr(self, setting):g} is not above 0")
        for setting in ("api_cors_origins", "hls_cors_origins"):
            origins = getattr(self, setting)
            if isinstance(origins, str):
                raise ValueError(f"{setting} must be a list of origins, not {origins!r}")
            for origin in origins:
                if origin != ANY_ORIGIN and ORIGIN.fullmatch(origin) is None:
                    raise ValueError(
                        f"{setting}: {origin!r} is not an origin like https://example.com[:port]"
                        ' or "*"'
                    )


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """Which origins may read one family of responses."""

    origins: frozenset[str]

    @classmethod
    def of(cls, origins: tuple[str, ...]) -> CorsPolicy:
        # Scheme and host are case-insensitive; browsers send them in lower case.
        return cls(frozenset(origin.lower().rstrip("/") for origin in origins))

    @property
    def any_origin(self) -> bool:
        return ANY_ORIGIN in self.origins

    def allows(self, origin: str | None) -> bool:
        return self.any_origin or (origin is not None and origin.lower() in self.origins)

    def apply(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        """Add the response's CORS headers for ``request``'s Origin."""
        if not self.origins:
            return
        origin = request.headers.get("Origin")
        if not self.any_origin:
            # The answer depends on the Origin header: caches must keep one copy per origin.
            response.headers.add("Vary", "Origin")
        if not self.allows(origin):
            return
        response.headers["Access-Control-Allow-Origin"] = (
            ANY_ORIGIN if self.any_origin else str(origin)
        )
        response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS


REGISTRY_KEY = web.AppKey("registry", StreamRegistry)
TEMPLATE_KEY = web.AppKey("index_template", jinja2.Template)
OPTIONS_KEY = web.AppKey("http_options", HttpOptions)
CORS_KEY = web.AppKey("cors", Mapping[str, CorsPolicy])

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def static_dir() -> Path:
    """The package's ``static`` folder (hls.js)."""
    return Path(str(resources.files("refserver") / "static"))


def create_app(registry: StreamRegistry, options: HttpOptions | None = None) -> web.Application:
    """The aiohttp application serving ``registry``'s streams."""
    options = options or HttpOptions()
    app = web.Application(middlewares=[_served, _cors])
    app[REGISTRY_KEY] = registry
    app[OPTIONS_KEY] = options
    app[CORS_KEY] = {
        "/live/": CorsPolicy.of(options.hls_cors_origins),
        "/api/": CorsPolicy.of(options.api_cors_origins),
    }
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
async def _served(request: web.Request, handler: Handler) -> web.StreamResponse:
    mark_served(request)  # a client that asks for something is not the first to be closed
    return await handler(request)


def _cors_policy(request: web.Request) -> CorsPolicy | None:
    for prefix, policy in request.app[CORS_KEY].items():
        if request.path.startswith(prefix):
            return policy
    return None


@web.middleware
async def _cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    policy = _cors_policy(request)
    if policy is not None:
        policy.apply(request, response)
    if isinstance(response, web.HTTPException):
        raise response
    return response


async def _preflight(request: web.Request) -> web.StreamResponse:
    """A CORS preflight (Fetch standard, "CORS-preflight request") is answered 204 with what
    may be asked, or 403 when its origin may not read these responses."""
    policy = _cors_policy(request)
    origin = request.headers.get("Origin")
    preflight = origin is not None and "Access-Control-Request-Method" in request.headers
    if preflight and (policy is None or not policy.allows(origin)):
        return web.Response(status=403, text=f"origin {origin} may not read {request.path}\n")
    return web.Response(status=204, headers=PREFLIGHT_HEADERS if preflight else None)


def _described(request: web.Request, streams: list[LiveStream]) -> list[dict[str, object]]:
    now = time.time()
    expose = request.app[OPTIONS_KEY].expose_addresses
    return [stream.describe(now, expose_addresses=expose) for stream in streams]


async def _index(request: web.Request) -> web.StreamResponse:
    registry = request.app[REGISTRY_KEY]
    streams = _described(request, list(registry))
    html = request.app[TEMPLATE_KEY].render(
        streams=streams,
        play=request.query.get("play", ""),
        refresh_seconds=INDEX_REFRESH_SECONDS,
    )
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
    if match.group(1) == "m3u8":
        # The packager's writes reach the disk from a thread: a playlist request (an on-demand
        # start's first one included) sees every segment closed before it, unless the disk is
        # too slow, when it gets the playlist on disk, whose segments are all there.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stream.written(), PLAYLIST_WAIT_SECONDS)
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
    registry = request.app[REGISTRY_KEY]
    streams = _described(request, list(registry))
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
    (described,) = _described(request, [stream])
    return web.json_response(described, headers={"Cache-Control": "no-cache"})


async def _static(request: web.Request) -> web.StreamResponse:
    file = request.match_info["file"]
    content_type = STATIC_FILES.get(file)
    if content_type is None:
        raise web.HTTPNotFound()
    return web.FileResponse(
        static_dir() / file,
        headers={"Content-Type": content_type, "Cache-Control": "public, max-age=86400"},
    )
