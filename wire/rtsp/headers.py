"""Header fields: the ordered case-insensitive multi-dict, and the small header values.

RTSP borrows its header syntax from HTTP/1.1 (RFC 2326 §4.2): field names are case-insensitive
tokens, a name may repeat, and order matters for repeated fields such as ``WWW-Authenticate``.
The richer header values live in their own modules (transport, range, rtpinfo, auth); this one
holds ``CSeq``, ``Session`` and ``Public``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import overload

from wire.digits import UINT32_MAX, bounded_decimal, shown_digits
from wire.rtsp.errors import LocalProtocolError, RemoteProtocolError

TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_VALUE = re.compile(r"[\r\n\x00]")

# §12.37: "If the timeout parameter is omitted, the default is 60 seconds".
DEFAULT_SESSION_TIMEOUT = 60
MAX_SESSION_TIMEOUT = 0x7FFF_FFFF
"""The largest ``timeout=`` kept, in seconds (68 years: a 32-bit signed count, as live555 keeps
it); a larger value is reported and the default used instead."""
MAX_CSEQ = UINT32_MAX
"""RFC 2326 sets no limit on CSeq digits (1*DIGIT); 32 bits is what servers count in."""
# session-id = 1*( ALPHA | DIGIT | safe ), safe = "$" | "-" | "_" | "." | "+" (§3.4); servers in
# the field also use other printable characters, so only what would break the syntax is refused.
_SESSION_ID_RE = re.compile(r"[^\s;,\"]+")


class Headers:
    """An ordered multi-dict of header fields whose names compare case-insensitively.

    Names keep the spelling they were added with, so a parsed message serialises back to the
    same bytes.
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: list[tuple[str, str]] = []
        for name, value in fields:
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        """Append a field, keeping any earlier fields of the same name."""
        if not TOKEN_RE.fullmatch(name):
            raise LocalProtocolError(f"header name {name!r} is not a token")
        if _FORBIDDEN_IN_VALUE.search(value):
            raise LocalProtocolError(f"header {name} value {value!r} contains CR, LF or NUL")
        self._fields.append((name, value))

    def set(self, name: str, value: str) -> None:
        """Replace every field called ``name`` by one, at the position of the first."""
        key = name.lower()
        position = next((i for i, (n, _) in enumerate(self._fields) if n.lower() == key), None)
        self.remove(name)
        self.add(name, value)
        if position is not None:
            self._fields.insert(position, self._fields.pop())

    def remove(self, name: str) -> None:
        """Drop every field called ``name``; absent names are fine."""
        key = name.lower()
        self._fields = [(n, v) for n, v in self._fields if n.lower() != key]

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``, or ``default``."""
        key = name.lower()
        return next((v for n, v in self._fields if n.lower() == key), default)

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in order."""
        key = name.lower()
        return [v for n, v in self._fields if n.lower() == key]

    def copy(self) -> Headers:
        return Headers(self._fields)

    def serialize(self) -> bytes:
        """The fields as ``Name: value`` lines, each ended by CRLF."""
        return "".join(f"{n}: {v}\r\n" for n, v in self._fields).encode("utf-8", "surrogateescape")

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._fields))

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(n.lower(), v) for n, v in self._fields] == [
            (n.lower(), v) for n, v in other._fields
        ]

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"


def parse_cseq(value: str | None) -> int | None:
    """The CSeq number, tolerating surrounding whitespace (gortsplib#437, retina#77).

    Returns None for a missing or unreadable value; whether that is an error depends on who asks.
    """
    if value is None:
        return None
    return bounded_decimal(value.strip(), MAX_CSEQ)


@dataclass(frozen=True)
class SessionHeader:
    """``Session: id[;timeout=delta-seconds]`` (RFC 2326 §12.37).

    A timeout that is not a number, or is absurdly large, does not cost the session id: it is
    left out (the 60 s default applies) and named in ``problems``.
    """

    session_id: str
    timeout: int | None = None
    problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def effective_timeout(self) -> int:
        """The timeout in seconds, 60 when the server did not say (§12.37)."""
        return DEFAULT_SESSION_TIMEOUT if self.timeout is None else self.timeout

    @classmethod
    def parse(cls, value: str) -> SessionHeader:
        session_id, *params = (part.strip() for part in value.split(";"))
        if not _SESSION_ID_RE.fullmatch(session_id):
            raise RemoteProtocolError(f"Session: invalid session id {session_id!r}")
        timeout = None
        problems: list[str] = []
        for param in params:
            name, _, raw = (s.strip() for s in param.partition("="))
            if name.lower() != "timeout":
                continue  # unknown parameters are ignored, as in RFC 7826 §18.49
            timeout = bounded_decimal(raw, MAX_SESSION_TIMEOUT)
            if timeout is None:
                problems.append(
                    f"Session: invalid timeout {shown_digits(raw)}, "
                    f"the default of {DEFAULT_SESSION_TIMEOUT} s applies"
                )
        return cls(session_id, timeout, tuple(problems))

    def serialize(self) -> str:
        if self.timeout is None:
            return self.session_id
        return f"{self.session_id};timeout={self.timeout}"


@dataclass(frozen=True)
class Public:
    """``Public: OPTIONS, DESCRIBE, ...``: the methods a server supports (§12.28)."""

    methods: tuple[str, ...]

    @classmethod
    def parse(cls, value: str) -> Public:
        methods = tuple(m.strip() for m in value.split(",") if m.strip())
        for method in methods:
            if not TOKEN_RE.fullmatch(method):
                raise RemoteProtocolError(f"Public: {method!r} is not a method name")
        return cls(methods)

    def serialize(self) -> str:
        return ", ".join(self.methods)

    def __contains__(self, method: object) -> bool:
        return method in self.methods
