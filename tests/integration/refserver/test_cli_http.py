"""refserver's HTTP and HLS-folder flags become the configuration it serves (nothing is bound)."""

from __future__ import annotations

from click.testing import CliRunner

from refserver import cli
from refserver.config import ServerConfig


def test_cors_origins_and_addresses(served: list[ServerConfig]) -> None:
    assert CliRunner().invoke(cli.main, []).exit_code == 0
    result = CliRunner().invoke(
        cli.main,
        ["--cors-origin", "https://ops.example", "--cors-origin", "*", "--expose-addresses"],
    )
    assert result.exit_code == 0, result.output
    default, flagged = (config.http for config in served)
    assert (default.api_cors_origins, default.expose_addresses) == ((), False)
    assert flagged.api_cors_origins == ("https://ops.example", "*")
    assert flagged.expose_addresses is True
    assert flagged.hls_cors_origins == ("*",)


def test_a_bad_origin_is_refused_by_name(served: list[ServerConfig]) -> None:
    result = CliRunner().invoke(cli.main, ["--cors-origin", "ops.example"])
    assert result.exit_code != 0
    assert "'ops.example' is not an origin" in result.output
    assert served == []


def test_hls_expire_after(served: list[ServerConfig]) -> None:
    assert CliRunner().invoke(cli.main, []).exit_code == 0
    assert CliRunner().invoke(cli.main, ["--hls-expire-after", "0"]).exit_code == 0
    assert CliRunner().invoke(cli.main, ["--hls-expire-after", "-1"]).exit_code != 0
    assert [config.hls_expire_after for config in served] == [3600.0, 0.0]


def test_http_connection_caps(served: list[ServerConfig]) -> None:
    flags = ["--http-max-connections", "200", "--http-max-connections-per-ip", "8"]
    assert CliRunner().invoke(cli.main, flags).exit_code == 0
    assert (served[0].http.max_connections, served[0].http.max_connections_per_ip) == (200, 8)
    assert CliRunner().invoke(cli.main, ["--http-max-connections", "0"]).exit_code != 0
