"""Settings keys take the types their fields are annotated with, and transports are an enum."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from refserver.config import (
    PULL_TRANSPORTS,
    ConfigError,
    Limits,
    PullTransport,
    SourceConfig,
    _field_types,
    load_config,
)


def test_a_source_keeps_its_transport_as_the_enum_whether_given_by_name_or_member() -> None:
    by_name = SourceConfig("door", "rtsp://192.0.2.10/door", "udp")  # type: ignore[arg-type]
    assert by_name.transport is PullTransport.UDP
    assert SourceConfig.from_text("rtsp://192.0.2.10/door", transport="http").transport is (
        PullTransport.HTTP
    )
    assert SourceConfig("door", "rtsp://192.0.2.10/door").transport is PullTransport.AUTO
    assert PULL_TRANSPORTS == ("auto", "tcp", "udp", "http", "multicast")


def test_a_transport_from_the_settings_file_is_the_enum(tmp_path: Path) -> None:
    path = tmp_path / "refserver.toml"
    path.write_text('[[source]]\nurl = "rtsp://192.0.2.10/door"\ntransport = "tcp"\n')
    (source,) = load_config(path).sources
    assert source.transport is PullTransport.TCP
    path.write_text('[[source]]\nurl = "rtsp://192.0.2.10/door"\ntransport = 4\n')
    with pytest.raises(ConfigError, match="source 1 transport must be a str, not 4"):
        load_config(path)


@dataclass(frozen=True)
class Typed:
    seconds: float = 1.0
    count: int = 2
    name: str | None = None
    transport: PullTransport = PullTransport.AUTO


def test_field_types_come_from_the_annotations_not_their_spelling() -> None:
    # Under ``from __future__ import annotations`` a field's ``type`` is the string
    # "str | None"; the real annotation is read instead, and ``X | None`` takes an X.
    assert _field_types(Typed) == {
        "seconds": float,
        "count": int,
        "name": str,
        "transport": PullTransport,
    }
    limits = _field_types(Limits)
    assert limits["idle_timeout"] is float
    assert limits["max_connections"] is int
