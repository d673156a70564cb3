"""refserver settings: TOML over the defaults, and the errors that name the bad setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from refserver.config import (
    ConfigError,
    Limits,
    PullTransport,
    ServerConfig,
    SourceConfig,
    load_config,
    parse_stream_key,
    without_password,
)
from refserver.hls import HlsOptions

FULL = """
bind = "0.0.0.0"
hls_dir = "hls"
state_dir = "/var/lib/refserver"

[rtmp]
port = 1940
app = "ingest"
chunk_size = 8192
merge_reads = true

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
    assert config.merge_reads is False
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
    assert config.merge_reads is True
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
        ("[rtmp]\nmerge_reads = 1", "rtmp.merge_reads must be a bool, not 1"),
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


SOURCES = """
[[source]]
url = "rtsp://192.0.2.10/stream1"

[[source]]
name = "door"
url = "rtsps://192.0.2.11:322/live"
username = "admin"
password = "p@ss:word"
transport = "http"
tls_verify = false
on_demand = true
start_timeout = 4
close_after = 2.5
media_timeout = 12
"""


def test_sources_with_every_setting(tmp_path: Path):
    path = tmp_path / "refserver.toml"
    path.write_text(SOURCES)
    always_on, door = load_config(path).sources
    assert always_on == SourceConfig("stream1", "rtsp://192.0.2.10/stream1")
    assert (always_on.transport, always_on.on_demand, always_on.tls_verify) == ("auto", False, True)
    assert (always_on.username, always_on.password) == (None, None)
    assert (always_on.start_timeout, always_on.close_after) == (10.0, 10.0)
    assert always_on.media_timeout == 5.0
    assert door == SourceConfig(
        "door",
        "rtsps://192.0.2.11:322/live",
        PullTransport.HTTP,
        username="admin",
        password="p@ss:word",
        on_demand=True,
        tls_verify=False,
        start_timeout=4.0,
        close_after=2.5,
        media_timeout=12.0,
    )


def test_a_source_never_shows_its_password():
    source = SourceConfig("door", "rtsp://h/a", username="admin", password="hunter2")
    assert "hunter2" not in repr(source)
    assert "username='admin'" in repr(source)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[source]]\nname = 'a'\n", "source 1 has no url"),
        (
            "[[source]]\nurl = 'rtsp://h'\n",
            "source 1 has no name and 'rtsp://h' has no path to name it",
        ),
        (
            "[[source]]\nurl = 'rtsp://admin:hunter2@h'\n",
            "source 1 has no name and 'rtsp://admin:***@h' has no path to name it",
        ),
        (
            "[[source]]\nurl = 'rtsp://h/a'\non_demand = 'yes'\n",
            "source 1 on_demand must be a bool, not 'yes'",
        ),
        (
            "[[source]]\nurl = 'rtsp://h/a'\ntls_verify = 1\n",
            "source 1 tls_verify must be a bool, not 1",
        ),
        (
            "[[source]]\nurl = 'rtsp://h/a'\npassword = 7\n",
            "source 1 password must be a str, not 7",
        ),
        (
            "[[source]]\nurl = 'rtsp://h/a'\non_demand = true\nclose_after = true\n",
            "source 1 close_after must be a float, not True",
        ),
        ("[[source]]\nurl = 'rtsp://h/a'\nsecure = true\n", "unknown setting source.secure"),
        ("[[source]]\nurl = 'rtsp://h/a'\nuser = 'admin'\n", "unknown setting source.user"),
        (
            "[[source]]\nurl = 'rtsp://u:hunter2@h/a'\nusername = 'admin'\n",
            "source 'a': the URL has credentials and username/password are set too; "
            "give them in one place",
        ),
        (
            "[[source]]\nurl = 'rtsp://u@h/a'\npassword = 'hunter2'\n",
            "source 'a': the URL has credentials and username/password are set too; "
            "give them in one place",
        ),
        (
            "[[source]]\nurl = 'rtsp://h/a'\npassword = 'hunter2'\n",
            "source 'a': a password is set but no username",
        ),
        (
            "[[source]]\nurl = 'rtsp://h/a'\ntls_verify = false\n",
            "source 'a': tls_verify = false needs an rtsps:// URL",
        ),
        (
            "[[source]]\nurl = 'rtsp://h/a'\nclose_after = 5\n",
            "source 'a': close_after needs on_demand = true",
        ),
        (
            "[[source]]\nurl = 'rtsp://h/a'\non_demand = false\nstart_timeout = 5\n",
            "source 'a': start_timeout needs on_demand = true",
        ),
        (
            "[[source]]\nurl = 'rtsp://h/a'\non_demand = true\nstart_timeout = 0\n",
            "source 'a': start_timeout 0 is not above 0",
        ),
        (
            "[[source]]\nurl = 'rtsp://h/a'\non_demand = true\nclose_after = -1.5\n",
            "source 'a': close_after -1.5 is not above 0",
        ),
        (
            "[[source]]\nurl = 'rtsp://h/a'\nmedia_timeout = 0\n",
            "source 'a': media_timeout 0 is not above 0",
        ),
        (
            "[[source]]\nurl = 'rtsp://h/a'\ntransport = 'udp-multicast'\n",
            "source 'a': transport 'udp-multicast' is not one of "
            "('auto', 'tcp', 'udp', 'http', 'multicast')",
        ),
        (
            "[[source]]\nurl = 'http://u:hunter2@h/a'\n",
            "source 'a': 'http://u:***@h/a' is not an rtsp:// or rtsps:// URL",
        ),
        (
            "[[source]]\nurl = 'rtsp://u:hunter2@h:70000/a'\n",
            "source 'a': 'rtsp://u:***@h:70000/a': Port out of range 0-65535",
        ),
        ("[[source]]\nurl = 'rtsp://h:0/a'\n", "source 'a': 'rtsp://h:0/a' has port 0"),
        (
            "[[source]]\nname = 'a'\nurl = 'rtsp://[::1/a'\n",
            "source 'a': 'rtsp://[::1/a': Invalid IPv6 URL",
        ),
        ("[[source]]\nurl = 'rtsp://u:hunter2@[::1/a'\n", "'rtsp://[::1/a': Invalid IPv6 URL"),
        (
            "[[source]]\nname = 'a b'\nurl = 'rtsp://h/a'\n",
            "source name 'a b' is not a valid stream name",
        ),
        ("source = [1]\n", "source 1 must be a table"),
    ],
)
def test_bad_sources_are_refused_by_name(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {message}"
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:hunter2@[::1]:554/a?b=1", "rtsp://admin:***@[::1]:554/a?b=1"),
        ("rtsp://admin@h/a", "rtsp://admin@h/a"),
        ("rtsp://h/a", "rtsp://h/a"),
        ("rtsp://admin:hunter2@[::1/a", "rtsp://[::1/a"),
    ],
)
def test_passwords_are_kept_out_of_messages(url: str, shown: str):
    assert without_password(url) == shown
