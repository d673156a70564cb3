"""Pull sources as configured (flags and TOML), camera URLs, and the reconnect backoff."""

from __future__ import annotations

from pathlib import Path

import pytest

from refserver.config import ConfigError, SourceConfig, load_config
from refserver.pull import Backoff, CameraAddress


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
        ("cam=http://10.0.0.5/x", "source 'cam': 'http://10.0.0.5/x' is not an rtsp:// URL"),
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
        SourceConfig("door", "rtsp://h/a"),
        SourceConfig("b", "rtsp://h/b"),
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[[source]]\nurl = "rtsp://h/a"\ntransport = "multicast"\n',
            "source 'a': transport 'multicast' is not one of ('tcp', 'udp')",
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
    highs = Backoff(initial=1.0, maximum=8.0, random=lambda: 1.0)
    assert [highs.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    lows = Backoff(initial=1.0, maximum=8.0, random=lambda: 0.0)
    assert [lows.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    lows.reset()
    assert lows.next_delay() == 0.5
