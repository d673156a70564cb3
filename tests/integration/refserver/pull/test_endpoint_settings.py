"""A source's other endpoints as configured: ``alternative_ports`` and ``tunnel_port`` in TOML
and as ``--pull-alternative-port``/``--pull-tunnel-port``, the errors that name them, and the
plan a pulled source builds from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from refserver import cli
from refserver.config import ConfigError, PullTransport, ServerConfig, SourceConfig, load_config
from refserver.hls import HlsOptions
from refserver.pull import PullSource
from refserver.pull.plan import Endpoint
from refserver.streams import StreamRegistry


def refserver(*args: str) -> Result:
    return CliRunner().invoke(cli.main, list(args))


def test_toml_gives_alternative_ports_and_a_tunnel_port(tmp_path: Path) -> None:
    path = tmp_path / "refserver.toml"
    path.write_text(
        '[[source]]\nname = "door"\nurl = "rtsp://10.0.0.5/stream1"\n'
        "alternative_ports = [8554, 10554]\ntunnel_port = 80\n"
    )
    (source,) = load_config(path).sources
    assert source.alternative_ports == (8554, 10554)
    assert source.tunnel_port == 80
    assert source.transport is PullTransport.AUTO


def test_by_default_a_source_has_no_other_endpoint() -> None:
    source = SourceConfig("door", "rtsp://10.0.0.5/stream1")
    assert source.alternative_ports == ()
    assert source.tunnel_port is None


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            'alternative_ports = "8554"',
            "source 1 alternative_ports must be a list of integers, not '8554'",
        ),
        (
            "alternative_ports = [8554, true]",
            "source 1 alternative_ports must be a list of integers, not [8554, True]",
        ),
        ("alternative_ports = [0]", "source 'a': alternative_ports 0 is not a port"),
        ("alternative_ports = [65536]", "source 'a': alternative_ports 65536 is not a port"),
        ("tunnel_port = 70000", "source 'a': tunnel_port 70000 is not a port"),
        ('tunnel_port = "80"', "source 1 tunnel_port must be a int, not '80'"),
        (
            "alternative_ports = [554]",
            "source 'a': alternative_ports [554] repeat a port",
        ),
        (
            "alternative_ports = [8554, 8554]",
            "source 'a': alternative_ports [8554, 8554] repeat a port",
        ),
        (
            'alternative_ports = [8554]\ntransport = "http"',
            "source 'a': alternative_ports are RTSP ports, which the http transport does not "
            "use; set tunnel_port",
        ),
        (
            'tunnel_port = 80\ntransport = "tcp"',
            "source 'a': tunnel_port is for the auto and http transports, not tcp",
        ),
    ],
)
def test_bad_endpoints_are_refused_with_the_setting_named(
    tmp_path: Path, toml: str, message: str
) -> None:
    path = tmp_path / "refserver.toml"
    path.write_text(f'[[source]]\nurl = "rtsp://h/a"\n{toml}\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {message}"


def test_the_pull_flags_give_every_pulled_camera_its_endpoints(
    served: list[ServerConfig],
) -> None:
    result = refserver(
        "--pull",
        "rtsp://10.0.0.5/a",
        "--pull",
        "door=rtsp://10.0.0.6/b",
        "--pull-alternative-port",
        "8554",
        "--pull-alternative-port",
        "10554",
        "--pull-tunnel-port",
        "80",
    )
    assert result.exit_code == 0, result.output
    assert served[0].sources == (
        SourceConfig("a", "rtsp://10.0.0.5/a", alternative_ports=(8554, 10554), tunnel_port=80),
        SourceConfig("door", "rtsp://10.0.0.6/b", alternative_ports=(8554, 10554), tunnel_port=80),
    )


def test_a_flag_port_that_is_a_cameras_own_is_no_alternative_to_it(
    served: list[ServerConfig],
) -> None:
    # One command line for many cameras (a resilience run's template, a fleet on 8554 and
    # 10554): the port of a camera's own URL is left out of that camera's alternatives.
    result = refserver(
        "--pull",
        "a=rtsp://10.0.0.5:8554/a",
        "--pull",
        "b=rtsp://10.0.0.5:10554/b",
        "--pull",
        "c=rtsp://10.0.0.5/c",
        "--pull-alternative-port",
        "8554",
        "--pull-alternative-port",
        "10554",
    )
    assert result.exit_code == 0, result.output
    assert [source.alternative_ports for source in served[0].sources] == [
        (10554,),
        (8554,),
        (8554, 10554),
    ]


@pytest.mark.parametrize(
    "args", [("--pull-tunnel-port", "80"), ("--pull-alternative-port", "8554")]
)
def test_endpoint_flags_without_pull_are_refused(
    served: list[ServerConfig], args: tuple[str, ...]
) -> None:
    result = refserver(*args)
    assert result.exit_code == 1
    assert result.output == (
        "Error: --pull-alternative-port and --pull-tunnel-port apply to --pull cameras\n"
    )
    assert served == []


def test_a_port_out_of_range_is_refused_by_the_command_line(served: list[ServerConfig]) -> None:
    result = refserver("--pull", "rtsp://h/a", "--pull-tunnel-port", "0")
    assert result.exit_code == 2
    assert "--pull-tunnel-port" in result.output
    assert served == []


def test_a_pulled_source_plans_its_endpoints_and_shows_them(tmp_path: Path) -> None:
    config = SourceConfig(
        "door", "rtsp://10.0.0.5:5554/a", alternative_ports=(8554,), tunnel_port=80
    )
    source = PullSource(config, StreamRegistry(tmp_path, HlsOptions()))
    assert source.plan.endpoints == (Endpoint(), Endpoint(8554), Endpoint(80, tunnel=True))
    shown = source.describe()
    assert shown["alternative_ports"] == [8554]
    assert shown["tunnel_port"] == 80
    assert shown["endpoint_in_use"] is None  # nothing played yet
    assert shown["unreached"] == []
