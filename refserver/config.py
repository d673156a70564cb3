"""refserver's settings: defaults, a TOML file (``--config``) and command-line flags on top.

Every flag has a TOML twin, so a deployment can be described in one file::

    bind = "127.0.0.1"
    hls_dir = "/var/lib/refserver/hls"     # default: a temporary folder, removed at exit
                                           # (and at the next start if refserver was killed)
    state_dir = "/var/lib/refserver"       # the generated certificate lives here
    transcode_audio = true                 # the default of every [[source]] below

    [rtmp]
    port = 1935                            # 0 turns the listener off
    app = "live"
    chunk_size = 4096
    merge_reads = false                    # fewer, larger reads: less CPU, up to ~40 ms later

    [rtmps]
    port = 1936
    cert = "cert.pem"                      # both absent: a self-signed one is generated and kept
    key = "key.pem"

    [http]
    port = 8080
    max_connections = 1000                 # fewer if the file descriptor limit cannot fit them
    max_connections_per_ip = 64            # IPv6: per /64
    keepalive_timeout = 15.0               # to send a whole request head, after opening or
                                           # after the previous response
    body_timeout = 5.0                     # to send a request body
    send_timeout = 30.0                    # for what is sent to be acknowledged (TCP)
    api_cors_origins = []                  # origins whose scripts may read /api, or ["*"]
    hls_cors_origins = ["*"]               # the same for the HLS files (any site by default)
    expose_addresses = false               # show publishers' IP:port in /api and on the index
    sources_api = false                    # /api/sources: add and remove pull sources at run
                                           # time (loopback clients only)

    [hls]
    target_duration = 2.0
    window = 6
    segment_format = "mpegts"              # or "fmp4" (CMAF: init-N.mp4 and .m4s segments)
    expire_after = 3600.0                  # a gone stream's folder is removed this long after
                                           # its last write; 0 keeps them

    [limits]
    max_connections = 256
    max_connections_per_ip = 32            # IPv6: per /64
    max_chunk_size = 65536
    max_message_size = 8388608
    max_buffered_bytes = 12582912          # unfinished messages, all chunk streams together
    max_write_buffer = 1048576             # queued for a peer that does not read
    handshake_timeout = 10.0               # from TCP accept, TLS included
    setup_timeout = 30.0
    idle_timeout = 20.0
    write_timeout = 10.0
    offline_timeout = 300.0                # a stream whose publisher left waits this long for
                                           # a republish, then it ends
    key_failure_delay = 1.0                # the first refused key's answer waits this long
    key_failure_limit = 10                 # refused keys in key_failure_window: address banned
    key_failure_window = 600.0

    [publish.keys]                         # stream name = key; "*" is a key for any name
    test = "secret"

    [log]
    format = "text"                        # or "json"
    level = "info"

    [[source]]                             # an RTSP camera to pull; repeatable
    name = "door"                          # default: the URL's last path segment
    url = "rtsp://192.0.2.10:554/stream1"  # or rtsps:// (RTSP over TLS)
    username = "admin"                     # or in the URL (rtsp://user:pass@...), not both
    password = "secret"
    transport = "auto"                     # or "tcp" (interleaved), "udp", "http" (tunnelled)
    alternative_ports = [8554]             # other RTSP ports, tried in order when the URL's
                                           # port does not answer
    tunnel_port = 80                       # RTSP over HTTP here: auto's last resort, and
                                           # where "http" connects (default: the URL's port)
    tls_verify = true                      # rtsps:// only: check the camera's certificate
    on_demand = false                      # true: connect only while viewers ask for it
    start_timeout = 10.0                   # on demand: how long a viewer waits for the start
    close_after = 10.0                     # on demand: stop after this long without a request
    media_timeout = 5.0                    # no RTP for this long: the camera is gone, reconnect
    transcode_audio = true                 # G.711/Opus audio to AAC; false: the track is left out

An on-demand source (MediaMTX's ``sourceOnDemand``) stays idle until an HLS request for its
stream arrives; that request is held until the first segment is written, for at most
``start_timeout`` seconds, and the camera is sent a TEARDOWN once no request has come for
``close_after`` seconds.

A publisher gives its key in the stream name, as OBS's stream key field does:
``rtmp://host/live/test?key=secret``. Without any keys configured every name may publish.
"""

from __future__ import annotations

import enum
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit, urlunsplit

from refserver.hls import HlsOptions
from refserver.http import HttpOptions
from refserver.streams import valid_stream_name

DEFAULT_BIND = "127.0.0.1"
DEFAULT_RTMP_PORT = 1935
DEFAULT_RTMPS_PORT = 1936
DEFAULT_HTTP_PORT = 8080
DEFAULT_APP = "live"
DEFAULT_HLS_EXPIRE_AFTER = 3600.0
"""Seconds: an hour after its last write, a stream that has not come back is not coming back
for the players of its old playlist either (they gave up after a few target durations)."""
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")


class PullTransport(enum.StrEnum):
    """How RTP travels from a camera."""

    AUTO = "auto"
    """UDP first, TCP when UDP does not work (TCP only under ``rtsps://``)."""
    TCP = "tcp"
    """Interleaved on the RTSP connection (RFC 2326 §10.12)."""
    UDP = "udp"
    """A pair of UDP ports per stream."""
    HTTP = "http"
    """RTSP and interleaved RTP tunnelled in HTTP (QuickTime's method)."""
    MULTICAST = "multicast"
    """RTP over UDP multicast, on the group the camera names (RFC 2326 §12.39). Never tried
    by ``auto``: a camera sends a group to its whole link, not just to us, and a network that
    does not carry multicast (no IGMP snooping or routing) looks the same as one that drops it,
    so it is used only where asked for."""


PULL_TRANSPORTS = tuple(transport.value for transport in PullTransport)
"""The names of :class:`PullTransport`, as the command line and the settings file take them."""
PULL_SCHEMES = ("rtsp", "rtsps")
PULL_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322}
"""RFC 2326 §3.2, and IANA's port for RTSP over TLS (RFC 7826 §19.2)."""
DEFAULT_PULL_TRANSPORT = PullTransport.AUTO
DEFAULT_START_TIMEOUT = 10.0
DEFAULT_CLOSE_AFTER = 10.0
"""Seconds, as MediaMTX's ``sourceOnDemandStartTimeout`` and ``sourceOnDemandCloseAfter``."""
DEFAULT_MEDIA_TIMEOUT = 5.0


class ConfigError(ValueError):
    """A configuration file or flag value that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one peer may cost the server; every phase of a connection has a deadline.

    Connections count from TCP accept, before TLS: a handshake in progress holds a slot like
    any other connection, and only for ``handshake_timeout``.
    """

    max_connections: int = 256
    max_connections_per_ip: int = 32
    """Connections from one IPv4 address or IPv6 /64 (a host usually has a whole /64), so that
    one peer cannot fill ``max_connections`` with idle sockets (nginx's ``limit_conn``)."""
    max_chunk_size: int = 65536
    """Largest Set Chunk Size a publisher may announce (SRS allows 128-65536)."""
    max_message_size: int = 8 * 1024 * 1024
    max_buffered_bytes: int = 12 * 1024 * 1024
    """Bytes of unfinished messages one connection may hold, all its chunk streams together:
    one ``max_message_size`` message plus half as much for what is interleaved with it."""
    max_write_buffer: int = 1024 * 1024
    """Bytes queued for a peer that is not reading, past which its connection is dropped. Reading
    from it stops as soon as the transport asks us to pause, so this is rarely reached."""
    handshake_timeout: float = 10.0
    """From TCP accept to the end of the RTMP handshake, the TLS handshake included."""
    setup_timeout: float = 30.0
    """From TCP accept to ``publish``."""
    idle_timeout: float = 20.0
    """Silence after which a connection is dropped, in any phase."""
    write_timeout: float = 10.0
    """How long a peer may leave our writes unread (MediaMTX's ``writeTimeout``)."""
    offline_timeout: float = 300.0
    """How long a stream whose publisher left waits for a republish before it is ended."""
    key_failure_delay: float = 1.0
    """Seconds before a refused stream key is answered; it doubles with each further refusal of
    the same address (up to 16 times as long), and until it has passed, that address's next
    publish is refused whatever its key."""
    key_failure_limit: int = 10
    """Refused stream keys within ``key_failure_window`` after which the address is banned, for
    ``key_failure_window`` again; 0 never bans."""
    key_failure_window: float = 600.0
    """Seconds over which refused keys are counted, and how long a ban lasts."""

    def __post_init__(self) -> None:
        for name in ("max_connections", "max_connections_per_ip", "max_write_buffer"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} {getattr(self, name)} is below 1")
        for name in ("handshake_timeout", "setup_timeout", "idle_timeout", "write_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} {getattr(self, name):g} is not above 0")
        if self.max_buffered_bytes < self.max_message_size:
            raise ValueError(
                f"max_buffered_bytes {self.max_buffered_bytes} cannot hold one message of "
                f"max_message_size {self.max_message_size}"
            )
        if self.key_failure_delay < 0 or self.key_failure_limit < 0:
            raise ValueError("key_failure_delay and key_failure_limit cannot be negative")
        if not self.key_failure_window > 0:
            raise ValueError(f"key_failure_window {self.key_failure_window:g} is not above 0")


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """An RTSP camera the server pulls and packages as stream ``name``."""

    name: str
    url: str
    transport: PullTransport = DEFAULT_PULL_TRANSPORT
    """Given as a :class:`PullTransport` or its name; kept as the enum."""
    username: str | None = None
    """For a URL without user information; the URL's own credentials otherwise."""
    password: str | None = field(default=None, repr=False)
    on_demand: bool = False
    """Connect only while viewers ask for the stream (MediaMTX's ``sourceOnDemand``)."""
    tls_verify: bool = True
    """For ``rtsps://``: check the camera's certificate and name."""
    start_timeout: float = DEFAULT_START_TIMEOUT
    """On demand: how long a viewer's request waits for the first segment."""
    close_after: float = DEFAULT_CLOSE_AFTER
    """On demand: seconds without any request for the stream after which it is stopped."""
    media_timeout: float = DEFAULT_MEDIA_TIMEOUT
    """Seconds without RTP after which the session is given up and the camera reconnected."""
    transcode_audio: bool = True
    """G.711 (PCMU, PCMA) and Opus audio, which HLS cannot carry, transcoded to AAC; when false
    such a track is left out (and the API says so)."""
    alternative_ports: tuple[int, ...] = ()
    """Other ports the camera answers RTSP on, tried in order when the URL's port does not
    answer at all (refused, timed out, reset or silent before any answer); not under ``http``."""
    tunnel_port: int | None = None
    """The port of the camera's RTSP-over-HTTP tunnel: where ``http`` connects (the URL's port
    when unset) and, under ``auto``, the endpoint tried after every RTSP port."""

    def __post_init__(self) -> None:
        if not valid_stream_name(self.name):
            raise ConfigError(f"source name {self.name!r} is not a valid stream name")
        shown = without_password(self.url)
        try:
            parts = urlsplit(self.url)
            port = parts.port  # raises ValueError for a port that is not a number in range
        except ValueError as exc:
            raise ConfigError(f"source {self.name!r}: {shown!r}: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in PULL_SCHEMES or not parts.hostname:
            raise ConfigError(f"source {self.name!r}: {shown!r} is not an rtsp:// or rtsps:// URL")
        if port == 0:
            raise ConfigError(f"source {self.name!r}: {shown!r} has port 0")
        try:
            # The command line and the settings file give a name; the enum is kept.
            object.__setattr__(self, "transport", PullTransport(self.transport))
        except ValueError:
            raise ConfigError(
                f"source {self.name!r}: transport {self.transport!r} is not one of "
                f"{PULL_TRANSPORTS}"
            ) from None
        if "@" in parts.netloc and (self.username is not None or self.password is not None):
            raise ConfigError(
                f"source {self.name!r}: the URL has credentials and username/password are "
                "set too; give them in one place"
            )
        if self.password is not None and self.username is None:
            raise ConfigError(f"source {self.name!r}: a password is set but no username")
        if not self.tls_verify and scheme != "rtsps":
            raise ConfigError(f"source {self.name!r}: tls_verify = false needs an rtsps:// URL")
        for setting in ("start_timeout", "close_after", "media_timeout"):
            seconds = getattr(self, setting)
            if not seconds > 0:
                raise ConfigError(f"source {self.name!r}: {setting} {seconds:g} is not above 0")
        self._check_endpoints(port or PULL_DEFAULT_PORTS[scheme])

    def _check_endpoints(self, url_port: int) -> None:
        """``alternative_ports`` and ``tunnel_port`` are ports the transport uses."""
        alternatives = tuple(self.alternative_ports)
        object.__setattr__(self, "alternative_ports", alternatives)  # a list from code, kept
        given = [("alternative_ports", port) for port in alternatives]
        if self.tunnel_port is not None:
            given.append(("tunnel_port", self.tunnel_port))
        for setting, port in given:
            if not (isinstance(port, int) and 0 < port < 65536):
                raise ConfigError(f"source {self.name!r}: {setting} {port!r} is not a port")
        if url_port in alternatives or len(set(alternatives)) != len(alternatives):
            raise ConfigError(
                f"source {self.name!r}: alternative_ports {list(alternatives)} repeat a port"
            )
        if alternatives and self.transport is PullTransport.HTTP:
            raise ConfigError(
                f"source {self.name!r}: alternative_ports are RTSP ports, which the http "
                "transport does not use; set tunnel_port"
            )
        if self.tunnel_port is not None and self.transport in (
            PullTransport.TCP,
            PullTransport.UDP,
            PullTransport.MULTICAST,
        ):
            raise ConfigError(
                f"source {self.name!r}: tunnel_port is for the auto and http transports, "
                f"not {self.transport.value}"
            )

    @classmethod
    def from_text(
        cls,
        text: str,
        *,
        transport: PullTransport | str = DEFAULT_PULL_TRANSPORT,
        on_demand: bool = False,
        alternative_ports: tuple[int, ...] = (),
        tunnel_port: int | None = None,
    ) -> SourceConfig:
        """``URL`` or ``NAME=URL`` from the command line; the name defaults to the URL's last
        path segment."""
        name, sep, url = text.partition("=")
        if not sep or "://" in name:
            name, url = "", text
        name = name or default_name(url)
        if not name:
            shown = without_password(text)
            raise ConfigError(f"pull URL {shown!r} has no path to name the stream; use NAME=URL")
        # The flags apply to every --pull camera: a port that is this camera's own is no
        # alternative to it, so it is left out here rather than refused.
        own_port = _url_port(url)
        return cls(
            name,
            url,
            PullTransport(transport),
            on_demand=on_demand,
            alternative_ports=tuple(port for port in alternative_ports if port != own_port),
            tunnel_port=tunnel_port,
        )


def _url_port(url: str) -> int | None:
    """The port an rtsp:// or rtsps:// URL connects to, None when the URL says no such thing
    (the source's own checks then say what is wrong)."""
    try:
        parts = urlsplit(url)
        return parts.port or PULL_DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None


def default_name(url: str) -> str:
    """A source's stream name when none is given: the URL's last path segment (may be empty)."""
    try:
        path = urlsplit(url).path
    except ValueError as exc:
        raise ConfigError(f"{without_password(url)!r}: {exc}") from None
    return path.rstrip("/").rpartition("/")[2]


def without_password(url: str) -> str:
    """``url`` fit to show in a message: a password in it is replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        scheme, separator, rest = url.partition("://")
        return scheme + separator + rest.rpartition("@")[2]  # unreadable: no user information
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything ``refserver`` needs to run; ``None`` ports are turned off."""

    bind: str = DEFAULT_BIND
    rtmp_port: int | None = DEFAULT_RTMP_PORT
    rtmps_port: int | None = DEFAULT_RTMPS_PORT
    http_port: int | None = DEFAULT_HTTP_PORT
    app: str = DEFAULT_APP
    chunk_size: int = 4096
    merge_reads: bool = False
    """Read publishers in fewer, larger pieces (``SO_RCVLOWAT``, see :mod:`refserver.coalescing`),
    as SRS's ``mr`` (merged read) does: about a third less CPU per stream, for up to a delayed
    ACK (~40 ms) of latency with senders that use Nagle's algorithm, as FFmpeg does."""
    cert: Path | None = None
    key: Path | None = None
    hls_dir: Path | None = None
    state_dir: Path | None = None
    stream_keys: Mapping[str, str] = field(default_factory=dict)
    hls: HlsOptions = field(default_factory=HlsOptions)
    hls_expire_after: float = DEFAULT_HLS_EXPIRE_AFTER
    """Seconds after its last write that the folder of a stream refserver no longer knows is
    removed (``[hls] expire_after``); 0 keeps them."""
    limits: Limits = field(default_factory=Limits)
    http: HttpOptions = field(default_factory=HttpOptions)
    sources: tuple[SourceConfig, ...] = ()
    log_format: str = "text"
    log_level: str = "info"
    capture: Path | None = None
    """Write the publishers' connections to this pcapng file (``--capture``)."""

    def __post_init__(self) -> None:
        for name in ("rtmp_port", "rtmps_port", "http_port"):
            port = getattr(self, name)
            if port is not None and not 0 <= port <= 65535:
                raise ConfigError(f"{name} {port} is outside 0-65535")
        if (self.cert is None) != (self.key is None):
            raise ConfigError("give both a certificate and its key, or neither")
        if not 128 <= self.chunk_size <= self.limits.max_chunk_size:
            raise ConfigError(
                f"chunk_size {self.chunk_size} is outside 128-{self.limits.max_chunk_size}"
            )
        if not self.hls_expire_after >= 0:
            raise ConfigError(f"hls expire_after {self.hls_expire_after:g} is below 0")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"log format {self.log_format!r} is not one of {LOG_FORMATS}")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"log level {self.log_level!r} is not one of {LOG_LEVELS}")
        if not self.app or "/" in self.app:
            raise ConfigError(f"application name {self.app!r} is empty or has a '/'")
        for name, key in self.stream_keys.items():
            if not key:
                raise ConfigError(f"stream key for {name!r} is empty")
        names = [source.name for source in self.sources]
        for name in names:
            if names.count(name) > 1:
                raise ConfigError(f"two sources are named {name!r}")

    def with_changes(self, **changes: Any) -> ServerConfig:
        """A copy with top-level fields changed; ``None`` values are left out (flag not given)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


# TOML layout: table -> key -> (field, converter). Top-level keys live in table "".
_Converter = Any
_TOP: dict[str, tuple[str, _Converter]] = {
    "bind": ("bind", str),
    "hls_dir": ("hls_dir", Path),
    "state_dir": ("state_dir", Path),
}
_TABLES: dict[str, dict[str, tuple[str, _Converter]]] = {
    "rtmp": {
        "port": ("rtmp_port", int),
        "app": ("app", str),
        "chunk_size": ("chunk_size", int),
        "merge_reads": ("merge_reads", bool),
    },
    "rtmps": {"port": ("rtmps_port", int), "cert": ("cert", Path), "key": ("key", Path)},
    "log": {"format": ("log_format", str), "level": ("log_level", str)},
}
_HLS_KEYS = {"target_duration": float, "window": int, "segment_format": str}
_HTTP_KEYS: dict[str, _Converter] = {
    "max_connections": int,
    "max_connections_per_ip": int,
    "keepalive_timeout": float,
    "body_timeout": float,
    "send_timeout": float,
    "api_cors_origins": tuple,
    "hls_cors_origins": tuple,
    "expose_addresses": bool,
    "sources_api": bool,
}


def _field_types(kind: type) -> dict[str, _Converter]:
    """Each field of the dataclass ``kind`` with the type its settings key takes, read from
    the real annotations: ``X | None`` takes an ``X`` (leaving the key out gives the None)."""
    hints = get_type_hints(kind)
    types_: dict[str, _Converter] = {}
    for f in fields(kind):
        hint = hints[f.name]
        if get_origin(hint) in (Union, types.UnionType):
            (hint,) = [arg for arg in get_args(hint) if arg is not type(None)]
        types_[f.name] = hint
    return types_


_LIMIT_KEYS = _field_types(Limits)
_SOURCE_KEYS = _field_types(SourceConfig)
_ON_DEMAND_KEYS = {"start_timeout", "close_after"}


def load_config(path: Path, base: ServerConfig | None = None) -> ServerConfig:
    """Read a TOML file over ``base`` (the defaults); relative paths are taken from its folder."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        return from_mapping(data, base or ServerConfig(), root=path.parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def from_mapping(data: Mapping[str, Any], base: ServerConfig, *, root: Path) -> ServerConfig:
    """Apply a parsed TOML document to ``base``."""
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key in _TOP:
            field_name, convert = _TOP[key]
            changes[field_name] = _convert(key, value, convert)
        elif key in _TABLES:
            for sub, sub_value in _table(key, value).items():
                if sub not in _TABLES[key]:
                    raise ConfigError(f"unknown setting {key}.{sub}")
                field_name, convert = _TABLES[key][sub]
                changes[field_name] = _convert(f"{key}.{sub}", sub_value, convert)
        elif key == "hls":
            table = dict(_table(key, value))
            if "expire_after" in table:
                expire_after = table.pop("expire_after")
                changes["hls_expire_after"] = _convert("hls.expire_after", expire_after, float)
            changes["hls"] = _options(key, table, _HLS_KEYS, HlsOptions, base.hls)
        elif key == "limits":
            changes["limits"] = _options(key, value, _LIMIT_KEYS, Limits, base.limits)
        elif key == "http":
            table = dict(_table(key, value))
            if "port" in table:
                changes["http_port"] = _convert("http.port", table.pop("port"), int)
            changes["http"] = _options(key, table, _HTTP_KEYS, HttpOptions, base.http)
        elif key == "publish":
            changes["stream_keys"] = _stream_keys(value)
        elif key == "source":
            changes["sources"] = _sources(value, data.get("transcode_audio", True))
        elif key == "transcode_audio":  # the default of every [[source]]
            _convert(key, value, bool)
        else:
            raise ConfigError(f"unknown setting {key}")
    for name in ("hls_dir", "state_dir", "cert", "key"):
        if isinstance(changes.get(name), Path):
            changes[name] = root / changes[name]
    try:
        return replace(base, **changes)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None


def _table(name: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a table")
    return value


def _convert(name: str, value: object, convert: _Converter) -> Any:
    if convert is tuple:  # a list of strings
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{name} must be a list of strings, not {value!r}")
        return tuple(value)
    if convert == tuple[int, ...]:  # a list of ports
        if not isinstance(value, list) or not all(_is_int(item) for item in value):
            raise ConfigError(f"{name} must be a list of integers, not {value!r}")
        return tuple(value)
    if isinstance(convert, enum.EnumMeta):  # by name; the dataclass says which names are valid
        convert = str
    expected = str if convert is Path else convert
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
        raise ConfigError(f"{name} must be a {expected.__name__}, not {value!r}")
    return convert(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _options(name: str, value: object, keys: Mapping[str, type], kind: Any, base: Any) -> Any:
    changes = {}
    for key, item in _table(name, value).items():
        if key not in keys:
            raise ConfigError(f"unknown setting {name}.{key}")
        changes[key] = _convert(f"{name}.{key}", item, keys[key])
    try:
        return replace(base, **changes)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def _stream_keys(value: object) -> dict[str, str]:
    publish = _table("publish", value)
    unknown = set(publish) - {"keys"}
    if unknown:
        raise ConfigError(f"unknown setting publish.{sorted(unknown)[0]}")
    keys = _table("publish.keys", publish.get("keys", {}))
    for name, key in keys.items():
        if not isinstance(key, str):
            raise ConfigError(f"publish.keys.{name} must be a string")
    return dict(keys)


def _sources(value: object, transcode_audio: object = True) -> tuple[SourceConfig, ...]:
    if not isinstance(value, list):
        raise ConfigError("source must be an array of tables ([[source]])")
    default = {"transcode_audio": _convert("transcode_audio", transcode_audio, bool)}
    return tuple(_source(index, item, default) for index, item in enumerate(value, start=1))


def _source(index: int, value: object, default: Mapping[str, Any]) -> SourceConfig:
    settings: dict[str, Any] = dict(default)
    for key, item in _table(f"source {index}", value).items():
        if key not in _SOURCE_KEYS:
            raise ConfigError(f"unknown setting source.{key}")
        settings[key] = _convert(f"source {index} {key}", item, _SOURCE_KEYS[key])
    url = settings.get("url")
    if url is None:
        raise ConfigError(f"source {index} has no url")
    if "name" not in settings:
        settings["name"] = default_name(url)
    name = settings["name"]
    if not name:
        raise ConfigError(
            f"source {index} has no name and {without_password(url)!r} has no path to name it"
        )
    misplaced = sorted(_ON_DEMAND_KEYS & settings.keys())
    if misplaced and not settings.get("on_demand", False):
        raise ConfigError(f"source {name!r}: {misplaced[0]} needs on_demand = true")
    return SourceConfig(**settings)


def source_from_table(value: Mapping[str, Any]) -> SourceConfig:
    """One source given as a ``[[source]]`` table's keys and values (the sources API's JSON),
    checked as the settings file checks them."""
    return _source(1, dict(value), {"transcode_audio": True})


def parse_stream_key(text: str) -> tuple[str, str]:
    """``NAME=KEY`` from the command line; ``*=KEY`` is a key for every name."""
    name, sep, key = text.partition("=")
    if not sep or not name or not key:
        raise ConfigError(f"stream key {text!r} is not NAME=KEY")
    return name, key
