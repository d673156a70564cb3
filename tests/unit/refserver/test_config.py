"""refserver settings: TOML over the defaults, and the errors that name the bad setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from refserver.config import ConfigError, Limits, ServerConfig, load_config, parse_stream_key
from refserver.hls import HlsOptions

FULL = """
bind = "0.0.0.0"
hls_dir = "hls"
state_dir = "/var/lib/refserver"

[rtmp]
port = 1940
app = "ingest"
chunk_size = 8192

[rtmps]
port = 0
cert = "cert.pem"
key = "key.pem"

[http]
port = 8081

[hls]
target_duration = 4
window = 5

[limits]
max_connections = 10
idle_timeout = 5
max_message_size = 1048576

[publish.keys]
test = "secret"
"*" = "master"

[log]
format = "json"
level = "debug"
"""


def test_defaults_match_the_command_line_contract():
    config = ServerConfig()
    assert (config.bind, config.rtmp_port, config.rtmps_port, config.http_port) == (
        "127.0.0.1",
        1935,
        1936,
        8080,
    )
    assert config.app == "live"
    assert config.stream_keys == {}
    assert config.hls == HlsOptions()


def test_full_file(tmp_path: Path):
    path = tmp_path / "refserver.toml"
    path.write_text(FULL)
    config = load_config(path)
    assert config.bind == "0.0.0.0"
    assert config.hls_dir == tmp_path / "hls"
    assert config.state_dir == Path("/var/lib/refserver")
    assert (config.rtmp_port, config.app, config.chunk_size) == (1940, "ingest", 8192)
    assert (config.rtmps_port, config.cert, config.key) == (
        0,
        tmp_path / "cert.pem",
        tmp_path / "key.pem",
    )
    assert config.http_port == 8081
    assert config.hls == HlsOptions(target_duration=4.0, window=5)
    assert config.limits == Limits(max_connections=10, idle_timeout=5.0, max_message_size=1 << 20)
    assert config.stream_keys == {"test": "secret", "*": "master"}
    assert (config.log_format, config.log_level) == ("json", "debug")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 1", "unknown setting colour"),
        ("[rtmp]\nport = 'x'", "rtmp.port must be a int, not 'x'"),
        ("[rtmp]\nspeed = 1", "unknown setting rtmp.speed"),
        ("[http]\nport = 70000", "http_port 70000 is outside 0-65535"),
        ("[hls]\nwindow = 0", "hls: HLS window of 0 segments"),
        ("[limits]\nidle_timeout = true", "limits.idle_timeout must be a float, not True"),
        ("[rtmps]\ncert = 'a.pem'", "give both a certificate and its key, or neither"),
        ("[publish.keys]\ntest = 1", "publish.keys.test must be a string"),
        ("[publish.keys]\ntest = ''", "stream key for 'test' is empty"),
        ("[log]\nformat = 'xml'", "log format 'xml' is not one of ('text', 'json')"),
        ("rtmp = 3", "rtmp must be a table"),
        ("bind = ", "Invalid value (at end of document)"),
    ],
)
def test_errors_name_the_setting(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {message}"


def test_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="No such file or directory"):
        load_config(tmp_path / "absent.toml")


def test_with_changes_skips_flags_not_given():
    config = ServerConfig().with_changes(bind=None, rtmp_port=2000)
    assert (config.bind, config.rtmp_port) == ("127.0.0.1", 2000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("test=secret", ("test", "secret")), ("*=a=b", ("*", "a=b"))],
)
def test_stream_key_flag(text: str, expected: tuple[str, str]):
    assert parse_stream_key(text) == expected


@pytest.mark.parametrize("text", ["test", "=secret", "test="])
def test_stream_key_flag_errors(text: str):
    with pytest.raises(ConfigError, match=f"stream key {text!r} is not NAME=KEY"):
        parse_stream_key(text)
