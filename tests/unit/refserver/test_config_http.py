"""The ``[http]`` settings (the port, CORS origins, address exposure) and ``[hls] expire_after``."""

from __future__ import annotations

from pathlib import Path

import pytest

from refserver.config import ConfigError, ServerConfig, load_config
from refserver.http import HttpOptions


def load(tmp_path: Path, text: str) -> ServerConfig:
    path = tmp_path / "refserver.toml"
    path.write_text(text)
    return load_config(path)


def test_defaults_keep_the_api_closed_and_hls_open():
    options = ServerConfig().http
    assert options.api_cors_origins == ()
    assert options.hls_cors_origins == ("*",)
    assert options.expose_addresses is False


def test_http_table(tmp_path: Path):
    config = load(
        tmp_path,
        """
[http]
port = 8081
api_cors_origins = ["https://ops.example", "http://127.0.0.1:3000"]
hls_cors_origins = []
expose_addresses = true
max_connections = 300
max_connections_per_ip = 10
keepalive_timeout = 5
body_timeout = 2.5
send_timeout = 20
""",
    )
    assert config.http_port == 8081
    assert config.http == HttpOptions(
        max_connections=300,
        max_connections_per_ip=10,
        keepalive_timeout=5.0,
        body_timeout=2.5,
        send_timeout=20.0,
        api_cors_origins=("https://ops.example", "http://127.0.0.1:3000"),
        hls_cors_origins=(),
        expose_addresses=True,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[http]\napi_cors_origins = "*"', "http.api_cors_origins must be a list of strings"),
        (
            '[http]\nhls_cors_origins = ["https://a.example/path"]',
            "http: hls_cors_origins: 'https://a.example/path' is not an origin",
        ),
        ('[http]\nport = "80"', "http.port must be a int"),
        ("[http]\nwhatever = 1", "unknown setting http.whatever"),
        ("[http]\nmax_connections = 0", "http: max_connections 0 is below 1"),
        ("[http]\nkeepalive_timeout = 0", "http: keepalive_timeout 0 is not above 0"),
    ],
)
def test_errors_name_the_setting(tmp_path: Path, text: str, message: str):
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, text)


def test_hls_expire_after(tmp_path: Path):
    config = load(tmp_path, "[hls]\nexpire_after = 600\nwindow = 3\n")
    assert config.hls_expire_after == 600.0
    assert config.hls.window == 3
    with pytest.raises(ConfigError, match="hls expire_after -1 is below 0"):
        load(tmp_path, "[hls]\nexpire_after = -1\n")
