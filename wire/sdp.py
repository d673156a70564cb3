"""Session descriptions (RFC 8866, formerly RFC 4566) as RTSP cameras send them.

Parsing is lenient where real cameras are sloppy (LF or CRLF line ends, trailing whitespace,
blank lines, lines out of the RFC order within a section, a missing ``t=``) and strict about
structure: every line is ``<type>=<value>``, the first is ``v=0``, an unknown type letter
rejects the description (§5), session-only lines may not appear in a media section, and
single-valued lines may not repeat. Errors raise :class:`SdpError` naming the line.

Some rules are bent the way deployed RFC 4566 parsers (FFmpeg, live555, gortsplib) bend them,
because cameras break them and nothing depends on them: an ``o=`` line with more or fewer than
six fields (a username with a space in it, a missing address), no ``o=`` or ``s=`` line at all,
an ``rtpmap`` that does not read. Each bent rule stays visible in
:attr:`SessionDescription.warnings`, naming the line.

Also here: the ``rtpmap``/``fmtp``/``control`` attribute helpers, parameter sets from ``sprop-*``
parameters, and builders for the H.264, H.265 and AAC media a camera announces.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

from wire.codec.nal import (
    H264_NAL_PPS,
    H264_NAL_SPS,
    H265_NAL_PPS,
    H265_NAL_SPS,
    H265_NAL_VPS,
    VideoCodec,
    h264_nal_type,
    h265_nal_type,
)
from wire.digits import UINT16_MAX, UINT32_MAX, UINT64_MAX, bounded_decimal


class SdpError(ValueError):
    """A malformed session description; the message names the line and the problem."""


# The largest values read (RFC 8866 leaves 1*DIGIT unbounded): what gortsplib and pion parse
# into, 64 bits for times and bandwidths; a port, a 7-bit payload type (RFC 3550 §5.1).
MAX_PORT = UINT16_MAX
MAX_PAYLOAD_TYPE = 127
MAX_CLOCK_RATE = UINT32_MAX
MAX_CHANNELS = UINT32_MAX
"""Not 255: cameras write ``smart/1/90000``, the clock rate where the channels go."""
NETTYPE_IN = "IN"


_SESSION_TYPES = frozenset("vosiuepcbtrzkam")
_MEDIA_TYPES = frozenset("icbkam")
_SINGLE_SESSION = frozenset("vosiuczk")
_SINGLE_MEDIA = frozenset("ik")

# RFC 3551 Tables 4 and 5: static payload types (encoding name, clock rate, channels)
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int | None]] = {
    0: ("PCMU", 8000, 1),
    3: ("GSM", 8000, 1),
    4: ("G723", 8000, 1),
    5: ("DVI4", 8000, 1),
    6: ("DVI4", 16000, 1),
    7: ("LPC", 8000, 1),
    8: ("PCMA", 8000, 1),
    9: ("G722", 8000, 1),
    10: ("L16", 44100, 2),
    11: ("L16", 44100, 1),
    12: ("QCELP", 8000, 1),
    13: ("CN", 8000, 1),
    14: ("MPA", 90000, None),
    15: ("G728", 8000, 1),
    16: ("DVI4", 11025, 1),
    17: ("DVI4", 22050, 1),
    18: ("G729", 8000, 1),
    25: ("CELB", 90000, None),
    26: ("JPEG", 90000, None),
    28: ("NV", 90000, None),
    31: ("H261", 90000, None),
    32: ("MPV", 90000, None),
    33: ("MP2T", 90000, None),
    34: ("H263", 90000, None),
}


@dataclass(slots=True)
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>``."""

    username: str = "-"
    session_id: str = "0"
    session_version: str = "0"
    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "0.0.0.0"

    @classmethod
    def parse(cls, value: str) -> Origin:
        """Exactly the six fields of RFC 8866 §5.2."""
        words = value.split()
        if len(words) != 6:
            raise SdpError(f"o= needs 6 fields, got {len(words)}: {value!r}")
        return cls(*words)

    @classmethod
    def read(cls, value: str) -> tuple[Origin, str | None]:
        """The origin, however many fields the line has, and a warning when it had to guess.

        The nettype ``IN`` anchors the reading: what comes before it is username, session id
        and version (a username may hold a space: ``o=RTSP Session 0 0 IN IP4 ...``), what
        follows it addrtype and address. Missing fields take their defaults, as pion's SDP
        parser does for ``o=- 1001 1 IN`` (pion/sdp#217); extra fields are dropped.
        """
        words = value.split()
        if len(words) == 6:
            return cls(*words), None
        defaults = list(cls().as_fields())
        anchor = max((i for i, w in enumerate(words) if w.upper() == NETTYPE_IN), default=None)
        if anchor is None:
            values = words[:6] + defaults[len(words) :]
        else:
            head, tail = words[:anchor], words[anchor + 1 : anchor + 3]
            if len(head) > 3:
                head = [" ".join(head[:-2]), *head[-2:]]
            if not tail:
                tail = [defaults[4]]
            if len(tail) == 1:
                tail.append("::" if tail[0].upper() == "IP6" else defaults[5])
            values = head + defaults[len(head) : 3] + [words[anchor], *tail]
        origin = cls(*values)
        warning = (
            f"o= has {len(words)} fields, not the 6 of RFC 8866 §5.2: read as "
            f"{origin.serialize()!r}"
        )
        return origin, warning

    def as_fields(self) -> tuple[str, str, str, str, str, str]:
        return (
            self.username,
            self.session_id,
            self.session_version,
            self.nettype,
            self.addrtype,
            self.address,
        )

    def serialize(self) -> str:
        return " ".join(self.as_fields())


@dataclass(slots=True)
class Connection:
    """``c=<nettype> <addrtype> <connection-address>`` (address may carry /ttl/count)."""

    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "0.0.0.0"

    @classmethod
    def parse(cls, value: str) -> Connection:
        fields = value.split()
        if len(fields) != 3:
            raise SdpError(f"c= needs 3 fields, got {len(fields)}: {value!r}")
        return cls(*fields)

    def serialize(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


@dataclass(slots=True)
class Bandwidth:
    """``b=<bwtype>:<bandwidth>`` in kbit/s for AS and CT."""

    bwtype: str
    bandwidth: int

    @classmethod
    def parse(cls, value: str) -> Bandwidth:
        bwtype, sep, amount = value.partition(":")
        bandwidth = bounded_decimal(amount.strip(), UINT64_MAX)
        if not sep or bandwidth is None:
            raise SdpError(f"b= must be <bwtype>:<bandwidth>, got {value!r}")
        return cls(bwtype, bandwidth)

    def serialize(self) -> str:
        return f"{self.bwtype}:{self.bandwidth}"


@dataclass(slots=True)
class Timing:
    """``t=<start-time> <stop-time>`` and the ``r=`` lines that follow it (kept as text)."""

    start: int = 0
    stop: int = 0
    repeats: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, value: str) -> Timing:
        times = [bounded_decimal(f, UINT64_MAX) for f in value.split()]
        match times:
            case [int(start), int(stop)]:
                return cls(start, stop)
        raise SdpError(f"t= needs two decimal times, got {value!r}")


@dataclass(slots=True)
class Attribute:
    """``a=<name>:<value>``, or ``a=<name>`` (a property attribute, ``value`` None)."""

    name: str
    value: str | None = None

    @classmethod
    def parse(cls, value: str) -> Attribute:
        name, sep, rest = value.partition(":")
        return cls(name, rest if sep else None)

    def serialize(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True, slots=True)
class RtpMap:
    """``a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]``."""

    payload_type: int
    encoding_name: str
    clock_rate: int
    channels: int | None = None

    @classmethod
    def parse(cls, value: str) -> RtpMap:
        pt, _, encoding = value.strip().partition(" ")
        name, *numbers = encoding.strip().split("/")
        payload_type = bounded_decimal(pt, MAX_PAYLOAD_TYPE)
        maxima = (MAX_CLOCK_RATE, MAX_CHANNELS)
        values = [bounded_decimal(n.strip(), m) for n, m in zip(numbers, maxima, strict=False)]
        match payload_type, values:
            case int(), [int(rate)]:
                return cls(payload_type, name.strip(), rate)
            case int(), [int(rate), int(channels)] if len(numbers) == 2:
                return cls(payload_type, name.strip(), rate, channels)
        raise SdpError(f"rtpmap must be '<pt> <name>/<rate>[/<channels>]', got {value!r}")

    def serialize(self) -> str:
        text = f"{self.payload_type} {self.encoding_name}/{self.clock_rate}"
        return text if self.channels is None else f"{text}/{self.channels}"


@dataclass(frozen=True, slots=True)
class PayloadFormat:
    """One payload type of a media description with its rtpmap and fmtp parameters."""

    payload_type: int
    encoding_name: str
    clock_rate: int
    channels: int | None
    parameters: dict[str, str]

    @property
    def codec(self) -> str:
        """The upper-case encoding name, recognising H.264/H.265 behind non-standard names.

        Cameras announce H.264 as ``smart/1/90000`` or under odd payload types; their fmtp
        parameters still give them away.
        """
        name = self.encoding_name.upper()
        if name == "HEVC":
            return "H265"
        if name in ("H264", "H265") or name in {n for n, _, _ in STATIC_PAYLOAD_TYPES.values()}:
            return name
        if any(key in self.parameters for key in ("sprop-vps", "sprop-sps", "sprop-pps")):
            return "H265"
        if any(key in self.parameters for key in ("sprop-parameter-sets", "packetization-mode")):
            return "H264"
        return name


class _WithAttributes:
    __slots__ = ()
    attributes: list[Attribute]

    def attribute(self, name: str) -> str | None:
        """The value of the first ``a=<name>`` (``""`` for a property attribute), or None."""
        for attribute in self.attributes:
            if attribute.name == name:
                return "" if attribute.value is None else attribute.value
        return None

    def attribute_values(self, name: str) -> list[str]:
        return [a.value or "" for a in self.attributes if a.name == name]

    @property
    def control(self) -> str | None:
        """The ``a=control`` URL, as written (resolving it is RTSP's business)."""
        value = self.attribute("control")
        return None if value is None else value.strip()


@dataclass(slots=True)
class MediaDescription(_WithAttributes):
    """An ``m=`` section: ``m=<media> <port>[/<count>] <proto> <fmt> ...`` and its lines."""

    media: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    information: str | None = None
    connections: list[Connection] = field(default_factory=list)
    bandwidths: list[Bandwidth] = field(default_factory=list)
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)

    @classmethod
    def parse_m_line(cls, value: str) -> MediaDescription:
        fields = value.split()
        if len(fields) < 3:
            raise SdpError(f"m= needs <media> <port> <proto> <fmt>..., got {value!r}")
        port_text, slash, count_text = fields[1].partition("/")
        port = bounded_decimal(port_text, MAX_PORT)
        count = bounded_decimal(count_text, MAX_PORT) if slash else None
        if port is None or (slash and count is None):
            raise SdpError(f"m= port must be <port>[/<count>], got {fields[1]!r}")
        return cls(fields[0], port, fields[2], fields[3:], count)

    def rtpmap(self, payload_type: int) -> RtpMap | None:
        """The first ``a=rtpmap`` of ``payload_type`` that reads; unreadable ones are passed
        over (the parser warned of them)."""
        for value in self.attribute_values("rtpmap"):
            try:
                rtpmap = RtpMap.parse(value)
            except SdpError:
                continue
            if rtpmap.payload_type == payload_type:
                return rtpmap
        return None

    def fmtp(self, payload_type: int) -> dict[str, str]:
        """The ``a=fmtp`` parameters of a payload type, in order, keys lower-cased."""
        for value in self.attribute_values("fmtp"):
            pt, _, params = value.strip().partition(" ")
            if pt == str(payload_type):
                return parse_fmtp_parameters(params)
        return {}

    def payload_format(self, payload_type: int) -> PayloadFormat | None:
        """rtpmap (or the static table) and fmtp of one payload type; None if unknown."""
        rtpmap = self.rtpmap(payload_type)
        if rtpmap is None:
            static = STATIC_PAYLOAD_TYPES.get(payload_type)
            if static is None:
                return None
            rtpmap = RtpMap(payload_type, *static)
        name, rate, channels = rtpmap.encoding_name, rtpmap.clock_rate, rtpmap.channels
        return PayloadFormat(payload_type, name, rate, channels, self.fmtp(payload_type))

    def payload_formats(self) -> list[PayloadFormat]:
        """The known payload formats listed on the ``m=`` line, in its order."""
        numbers = (bounded_decimal(f, MAX_PAYLOAD_TYPE) for f in self.formats)
        formats = (self.payload_format(n) for n in numbers if n is not None)
        return [f for f in formats if f is not None]

    def serialize_lines(self) -> list[str]:
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        lines = ["m=" + " ".join([self.media, port, self.proto, *self.formats])]
        if self.information is not None:
            lines.append(f"i={self.information}")
        lines += [f"c={c.serialize()}" for c in self.connections]
        lines += [f"b={b.serialize()}" for b in self.bandwidths]
        if self.key is not None:
            lines.append(f"k={self.key}")
        lines += [f"a={a.serialize()}" for a in self.attributes]
        return lines


@dataclass(slots=True)
class SessionDescription(_WithAttributes):
    """A whole session description."""

    origin: Origin = field(default_factory=Origin)
    session_name: str = "-"
    version: int = 0
    information: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=list)
    time_zones: str | None = None
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list, compare=False)
    """The rules the parser bent to read the description (see the module docstring)."""

    @classmethod
    def parse(cls, data: str | bytes) -> SessionDescription:
        """Parse a session description; raises :class:`SdpError`."""
        return _Parser(data).parse()

    def serialize(self) -> str:
        """The description in RFC order with CRLF line ends."""
        lines = [f"v={self.version}", f"o={self.origin.serialize()}", f"s={self.session_name}"]
        for kind, value in (("i", self.information), ("u", self.uri)):
            if value is not None:
                lines.append(f"{kind}={value}")
        lines += [f"e={e}" for e in self.emails] + [f"p={p}" for p in self.phones]
        if self.connection is not None:
            lines.append(f"c={self.connection.serialize()}")
        lines += [f"b={b.serialize()}" for b in self.bandwidths]
        for timing in self.timings:
            lines.append(f"t={timing.start} {timing.stop}")
            lines += [f"r={r}" for r in timing.repeats]
        for kind, value in (("z", self.time_zones), ("k", self.key)):
            if value is not None:
                lines.append(f"{kind}={value}")
        lines += [f"a={a.serialize()}" for a in self.attributes]
        for media in self.media:
            lines += media.serialize_lines()
        return "\r\n".join(lines) + "\r\n"

    def __bytes__(self) -> bytes:
        return self.serialize().encode()


class _Parser:
    def __init__(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("latin-1")  # some cameras write their names in Latin-1
        else:
            text = data
        self._lines = [
            (number, line.strip())
            for number, line in enumerate(text.split("\n"), start=1)
            if line.strip()
        ]
        self._session_seen: set[str] = set()
        self._media_seen: set[str] = set()
        self._warning: str | None = None  # what reading the current line had to overlook

    def parse(self) -> SessionDescription:
        if not self._lines:
            raise SdpError("SDP: empty description")
        session = SessionDescription()
        media: MediaDescription | None = None
        for number, line in self._lines:
            kind, value = self._split(number, line)
            try:
                if kind == "m":
                    media = MediaDescription.parse_m_line(value)
                    session.media.append(media)
                    self._media_seen = set()
                elif media is None:
                    self._session_line(session, kind, value)
                else:
                    self._media_line(media, kind, value)
            except SdpError as exc:
                raise SdpError(f"SDP line {number}: {exc}") from None
            if self._warning is not None:
                session.warnings.append(f"SDP line {number}: {self._warning}")
                self._warning = None
        for kind in "os":
            if kind not in self._session_seen:
                # RFC 8866 §9 makes both mandatory; nothing a client does depends on them.
                session.warnings.append(f"SDP: no {kind}= line, RFC 8866 §5 requires one")
        return session

    def _split(self, number: int, line: str) -> tuple[str, str]:
        if len(line) < 2 or line[1] != "=":
            raise SdpError(f"SDP line {number}: expected '<type>=<value>', got {line!r}")
        kind = line[0]
        if number == self._lines[0][0] and kind != "v":
            raise SdpError(f"SDP line {number}: the first line must be v=, got {kind}=")
        if kind not in _SESSION_TYPES:
            # §5: a description with a type letter the parser does not understand is rejected.
            raise SdpError(f"SDP line {number}: unknown type {kind!r}")
        return kind, line[2:]

    @staticmethod
    def _count(kind: str, seen: set[str], single: frozenset[str]) -> None:
        if kind in single and kind in seen:
            raise SdpError(f"more than one {kind}= line")
        seen.add(kind)

    def _session_line(self, session: SessionDescription, kind: str, value: str) -> None:
        self._count(kind, self._session_seen, _SINGLE_SESSION)
        if kind == "v":
            if value.strip() != "0":
                raise SdpError(f"unsupported version v={value}")
        elif kind == "o":
            session.origin, self._warning = Origin.read(value)
        elif kind == "s":
            session.session_name = value
        elif kind == "i":
            session.information = value
        elif kind == "u":
            session.uri = value
        elif kind == "e":
            session.emails.append(value)
        elif kind == "p":
            session.phones.append(value)
        elif kind == "c":
            session.connection = Connection.parse(value)
        elif kind == "b":
            session.bandwidths.append(Bandwidth.parse(value))
        elif kind == "t":
            session.timings.append(Timing.parse(value))
        elif kind == "r":
            if not session.timings:
                raise SdpError("r= without a preceding t=")
            session.timings[-1].repeats.append(value)
        elif kind == "z":
            session.time_zones = value
        elif kind == "k":
            session.key = value
        else:
            session.attributes.append(self._attribute(value))

    def _media_line(self, media: MediaDescription, kind: str, value: str) -> None:
        if kind not in _MEDIA_TYPES:
            raise SdpError(f"{kind}= is not allowed in a media description")
        self._count(kind, self._media_seen, _SINGLE_MEDIA)
        if kind == "i":
            media.information = value
        elif kind == "c":
            media.connections.append(Connection.parse(value))
        elif kind == "b":
            media.bandwidths.append(Bandwidth.parse(value))
        elif kind == "k":
            media.key = value
        else:
            media.attributes.append(self._attribute(value))

    def _attribute(self, value: str) -> Attribute:
        """An attribute, checked when it is an ``rtpmap``: a bad one is kept as written (and
        passed over by :meth:`MediaDescription.rtpmap`) with a warning."""
        attribute = Attribute.parse(value)
        if attribute.name == "rtpmap":
            try:
                RtpMap.parse(attribute.value or "")
            except SdpError as exc:
                self._warning = f"{exc}, ignored"
        return attribute


def parse_fmtp_parameters(params: str) -> dict[str, str]:
    """``key=value;key=value`` into an ordered dict; keys lower-cased, spaces trimmed.

    Values keep any ``=`` (base64 padding); a bare key maps to ``""``.
    """
    result: dict[str, str] = {}
    for item in params.split(";"):
        key, _, value = item.strip().partition("=")
        if key.strip():
            result[key.strip().lower()] = value.strip()
    return result


def format_fmtp(payload_type: int, parameters: Mapping[str, str]) -> str:
    """The value of an ``a=fmtp`` attribute."""
    return f"{payload_type} " + ";".join(f"{k}={v}" for k, v in parameters.items())


@dataclass(frozen=True, slots=True)
class ParameterSets:
    """Parameter sets decoded from ``sprop-*`` parameters, and what was wrong with them.

    Cameras omit them, omit the PPS, or send garbage; none of that is fatal because the same
    NAL units usually come in band, so problems are reported rather than raised.
    """

    nal_units: tuple[bytes, ...]
    problems: tuple[str, ...]


def h264_parameter_sets(parameters: Mapping[str, str]) -> ParameterSets:
    """SPS and PPS from ``sprop-parameter-sets`` (RFC 6184 §8.1)."""
    key = "sprop-parameter-sets"
    if key not in parameters:
        return ParameterSets((), (f"no {key}",))
    names = {H264_NAL_SPS: "SPS", H264_NAL_PPS: "PPS"}
    return _decode_sprop(VideoCodec.H264, key, [(key, parameters[key])], names)


def h265_parameter_sets(parameters: Mapping[str, str]) -> ParameterSets:
    """VPS, SPS and PPS from ``sprop-vps``/``sprop-sps``/``sprop-pps`` (RFC 7798 §7.1)."""
    keys = ("sprop-vps", "sprop-sps", "sprop-pps")
    present = [(key, parameters[key]) for key in keys if key in parameters]
    if not present:
        return ParameterSets((), ("no sprop-vps, sprop-sps or sprop-pps",))
    names = {H265_NAL_VPS: "VPS", H265_NAL_SPS: "SPS", H265_NAL_PPS: "PPS"}
    return _decode_sprop(VideoCodec.H265, "sprop-vps/sps/pps", present, names)


def _decode_sprop(
    codec: VideoCodec, label: str, values: list[tuple[str, str]], names: dict[int, str]
) -> ParameterSets:
    header_size = 1 if codec is VideoCodec.H264 else 2
    nal_units: list[bytes] = []
    problems: list[str] = []
    found: set[int] = set()
    for key, value in values:
        for position, item in enumerate(value.split(","), start=1):
            where = f"{key} item {position}"
            text = "".join(item.split())
            try:
                nal = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
            except ValueError:  # binascii.Error, or characters outside ASCII
                problems.append(f"{where} is not base64: {item!r}")
                continue
            if len(nal) < header_size:
                problems.append(f"{where} is shorter than a NAL unit header")
                continue
            kind = h264_nal_type(nal) if codec is VideoCodec.H264 else h265_nal_type(nal)
            if kind not in names:
                problems.append(f"{where} is NAL unit type {kind}, not a parameter set")
                continue
            found.add(kind)
            nal_units.append(nal)
    problems += [f"no {name} in {label}" for kind, name in names.items() if kind not in found]
    return ParameterSets(tuple(nal_units), tuple(problems))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def h264_media(
    payload_type: int, sps: bytes, pps: bytes, *, control: str, port: int = 0
) -> MediaDescription:
    """An H.264 video section: packetization mode 1, profile-level-id from the SPS."""
    parameters = {
        "packetization-mode": "1",
        "profile-level-id": sps[1:4].hex().upper(),
        "sprop-parameter-sets": f"{_b64(sps)},{_b64(pps)}",
    }
    return _rtp_media("video", RtpMap(payload_type, "H264", 90000), parameters, control, port)


def h265_media(
    payload_type: int, vps: bytes, sps: bytes, pps: bytes, *, control: str, port: int = 0
) -> MediaDescription:
    """An H.265 video section with the parameter sets in ``sprop-vps/sps/pps``."""
    parameters = {"sprop-vps": _b64(vps), "sprop-sps": _b64(sps), "sprop-pps": _b64(pps)}
    return _rtp_media("video", RtpMap(payload_type, "H265", 90000), parameters, control, port)


def aac_media(
    payload_type: int,
    audio_specific_config: bytes,
    sample_rate: int,
    channels: int,
    *,
    control: str,
    port: int = 0,
) -> MediaDescription:
    """An ``mpeg4-generic`` AAC-hbr section (RFC 3640 §3.3.6); ``config`` is the ASC in hex."""
    parameters = {
        "streamtype": "5",  # audio; RFC 3640 §4.1 lists streamType as required
        "profile-level-id": "1",
        "mode": "AAC-hbr",
        "sizelength": "13",
        "indexlength": "3",
        "indexdeltalength": "3",
        "config": audio_specific_config.hex(),
    }
    rtpmap = RtpMap(payload_type, "MPEG4-GENERIC", sample_rate, channels)
    return _rtp_media("audio", rtpmap, parameters, control, port)


def _rtp_media(
    kind: str, rtpmap: RtpMap, parameters: dict[str, str], control: str, port: int
) -> MediaDescription:
    attributes = [
        Attribute("rtpmap", rtpmap.serialize()),
        Attribute("fmtp", format_fmtp(rtpmap.payload_type, parameters)),
        Attribute("control", control),
    ]
    return MediaDescription(
        kind, port, "RTP/AVP", [str(rtpmap.payload_type)], attributes=attributes
    )


def camera_session(
    media: list[MediaDescription],
    *,
    session_id: int,
    address: str = "0.0.0.0",
    session_name: str = "camsim",
) -> SessionDescription:
    """A session as an RTSP camera describes it: aggregate control ``*``, live range."""
    return SessionDescription(
        origin=Origin("-", str(session_id), str(session_id), "IN", "IP4", address),
        session_name=session_name,
        connection=Connection("IN", "IP4", "0.0.0.0"),
        timings=[Timing(0, 0)],
        attributes=[Attribute("control", "*"), Attribute("range", "npt=now-")],
        media=media,
    )
