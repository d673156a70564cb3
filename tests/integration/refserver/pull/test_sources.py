"""Pull sources as configured (flags and TOML), camera URLs, and the reconnect backoff."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from refserver import cli
from refserver.config import (
    ConfigError,
    PullTransport,
    ServerConfig,
    SourceConfig,
    load_config,
)
from refserver.hls import HlsOptions
from refserver.pull import Backoff, CameraAddress, PullSource
from refserver.streams import StreamRegistry


def refserver(*args: str) -> Result:
    return CliRunner().invoke(cli.main, list(args))


def test_the_stream_name_defaults_to_the_last_path_segment() -> None:
    assert SourceConfig.from_text("rtsp://10.0.0.5/live/cam7/") == SourceConfig(
        "cam7", "rtsp://10.0.0.5/live/cam7/"
    )
    assert SourceConfig.from_text("door=rtsp://u:p@10.0.0.5/s?a=1") == SourceConfig(
        "door", "rtsp://u:p@10.0.0.5/s?a=1"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rtsp://10.0.0.5",
            "pull URL 'rtsp://10.0.0.5' has no path to name the stream; use NAME=URL",
        ),
        (
            "cam=http://10.0.0.5/x",
            "source 'cam': 'http://10.0.0.5/x' is not an rtsp:// or rtsps:// URL",
        ),
        (
            "rtsp://admin:hunter2@10.0.0.5",
            "pull URL 'rtsp://admin:***@10.0.0.5' has no path to name the stream; use NAME=URL",
        ),
        ("c/d=rtsp://h/x", "source name 'c/d' is not a valid stream name"),
    ],
)
def test_bad_pull_sources_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SourceConfig.from_text(text)
    assert str(caught.value) == message


def test_sources_come_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "refserver.toml"
    path.write_text(
        '[[source]]\nname = "door"\nurl = "rtsp://h/a"\n\n'
        '[[source]]\nurl = "rtsp://h/b"\ntransport = "tcp"\n'
    )
    assert load_config(path).sources == (
        SourceConfig("door", "rtsp://h/a", PullTransport.AUTO),
        SourceConfig("b", "rtsp://h/b", PullTransport.TCP),
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[[source]]\nurl = "rtsp://h/a"\ntransport = "sctp"\n',
            "source 'a': transport 'sctp' is not one of "
            "('auto', 'tcp', 'udp', 'http', 'multicast')",
        ),
        ('[[source]]\nurl = "rtsp://h/a"\nport = 1\n', "unknown setting source.port"),
        (
            '[[source]]\nurl = "rtsp://h/a"\n[[source]]\nurl = "rtsp://i/a"\n',
            "two sources are named 'a'",
        ),
        ("[source]\nurl = 1\n", "source must be an array of tables ([[source]])"),
    ],
)
def test_bad_toml_sources_are_refused(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "refserver.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {message}"


def test_camera_addresses_keep_credentials_out_of_the_url() -> None:
    address = CameraAddress.parse("rtsp://ad%40min:p%3Ass@[::1]:8554/cam1?x=1")
    assert address == CameraAddress("rtsp://[::1]:8554/cam1?x=1", "::1", 8554, "ad@min", "p:ss")
    assert CameraAddress.parse("rtsp://cam.local/s").port == 554
    with pytest.raises(ValueError, match="is not an rtsp:// URL"):
        CameraAddress.parse("rtmp://cam.local/s")


def test_backoff_doubles_up_to_its_cap_with_jitter_in_the_upper_half() -> None:
    highs = Backoff(initial=1.0, cap=8.0, random=lambda: 1.0)
    assert [highs.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    lows = Backoff(initial=1.0, cap=8.0, random=lambda: 0.0)
    assert [lows.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    lows.reset()
    assert lows.next_delay() == 0.5


def test_pull_flags_apply_to_every_pulled_camera(served: list[ServerConfig]) -> None:
    result = refserver(
        "--pull",
        "rtsp://10.0.0.5/a",
        "--pull",
        "door=rtsp://u:p@10.0.0.6/b",
        "--pull-transport",
        "udp",
        "--pull-on-demand",
    )
    assert result.exit_code == 0, result.output
    assert served[0].sources == (
        SourceConfig("a", "rtsp://10.0.0.5/a", PullTransport.UDP, on_demand=True),
        SourceConfig("door", "rtsp://u:p@10.0.0.6/b", PullTransport.UDP, on_demand=True),
    )


def test_pulled_cameras_are_always_on_and_auto_by_default(served: list[ServerConfig]) -> None:
    result = refserver("--pull", "rtsp://10.0.0.5/a")
    assert result.exit_code == 0, result.output
    (source,) = served[0].sources
    assert (source.transport, source.on_demand, source.tls_verify) == ("auto", False, True)


def test_pull_flags_leave_the_config_files_sources_alone(
    served: list[ServerConfig], tmp_path: Path
) -> None:
    path = tmp_path / "refserver.toml"
    path.write_text(
        '[[source]]\nname = "door"\nurl = "rtsp://h/a"\nusername = "admin"\n'
        'password = "s3cret"\non_demand = true\nclose_after = 3\n'
    )
    result = refserver("--config", str(path), "--pull", "rtsp://h/b", "--pull-transport", "tcp")
    assert result.exit_code == 0, result.output
    assert served[0].sources == (
        SourceConfig(
            "door", "rtsp://h/a", username="admin", password="s3cret", on_demand=True, close_after=3
        ),
        SourceConfig("b", "rtsp://h/b", PullTransport.TCP),
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("--pull-transport", "tcp"),
            1,
            "Error: --pull-transport and --pull-on-demand apply to --pull cameras\n",
        ),
        (
            ("--pull-on-demand",),
            1,
            "Error: --pull-transport and --pull-on-demand apply to --pull cameras\n",
        ),
        (
            ("--pull", "http://admin:hunter2@h/a"),
            1,
            "Error: source 'a': 'http://admin:***@h/a' is not an rtsp:// or rtsps:// URL\n",
        ),
        (
            ("--pull", "rtsp://h/a", "--pull-transport", "sctp"),
            2,
            "Invalid value for '--pull-transport': 'sctp' is not one of "
            "'auto', 'tcp', 'udp', 'http', 'multicast'.",
        ),
    ],
)
def test_bad_pull_flags_are_refused(
    served: list[ServerConfig], args: tuple[str, ...], code: int, message: str
) -> None:
    result = refserver(*args)
    assert result.exit_code == code
    assert message in result.output
    assert "hunter2" not in result.output
    assert served == []


def test_credentials_from_the_settings_go_to_the_camera_not_the_url(tmp_path: Path) -> None:
    registry = StreamRegistry(tmp_path, HlsOptions())
    config = SourceConfig("door", "rtsp://10.0.0.5/s", username="ad@min", password="p:ss")
    source = PullSource(config, registry)
    assert source.address == CameraAddress("rtsp://10.0.0.5/s", "10.0.0.5", 554, "ad@min", "p:ss")
    assert source.describe()["url"] == "rtsp://10.0.0.5/s"
    assert source.describe()["state"] == "connecting"
    no_password = PullSource(SourceConfig("door", "rtsp://10.0.0.5/s", username="ad"), registry)
    assert (no_password.address.username, no_password.address.password) == ("ad", "")
    secure = SourceConfig("door", "rtsps://cam/s", username="ad", password="pw", tls_verify=False)
    assert PullSource(secure, registry).address == CameraAddress(
        "rtsps://cam/s", "cam", 322, "ad", "pw", secure=True
    )


def test_an_on_demand_source_is_idle_until_asked(tmp_path: Path) -> None:
    registry = StreamRegistry(tmp_path, HlsOptions())
    source = PullSource(SourceConfig("door", "rtsp://10.0.0.5/s", on_demand=True), registry)
    assert source.describe()["state"] == "idle"
    assert source.describe()["on_demand"] is True
