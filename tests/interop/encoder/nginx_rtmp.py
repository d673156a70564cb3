"""nginx with libnginx-mod-rtmp as a real RTMP ingest (RTMP → HLS), and RTMPS through nginx's TLS
stream proxy, run in the foreground on free loopback ports under the caller's control."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

MODULES_DIR = Path("/usr/lib/nginx/modules")
RTMP_MODULE = MODULES_DIR / "ngx_rtmp_module.so"
STREAM_MODULE = MODULES_DIR / "ngx_stream_module.so"

_CONFIG = """\
load_module {rtmp_module};
{stream_module_line}
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 1024; }}
rtmp {{
  server {{
    listen 127.0.0.1:{rtmp_port};
    chunk_size 4096;
    application live {{
      live on;
      record off;
      hls on;
      hls_path {prefix}/hls;
      hls_fragment {hls_fragment}s;
      hls_playlist_length 12s;
    }}
  }}
}}
{stream_block}
"""

_STREAM_BLOCK = """\
stream {{
  server {{
    listen 127.0.0.1:{rtmps_port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    proxy_pass 127.0.0.1:{rtmp_port};
  }}
}}
"""


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def available() -> bool:
    return shutil.which("nginx") is not None and RTMP_MODULE.exists()


class NginxRtmp:
    """One nginx process (no master, no daemon): ``start()``, push, ``stop()``."""

    def __init__(
        self,
        prefix: Path,
        *,
        cert: Path | None = None,
        key: Path | None = None,
        hls_fragment: int = 2,
    ) -> None:
        self.prefix = prefix
        self.cert = cert
        self.key = key
        self.hls_fragment = hls_fragment
        self.rtmp_port = 0
        self.rtmps_port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def hls_dir(self) -> Path:
        return self.prefix / "hls"

    @property
    def error_log(self) -> Path:
        return self.prefix / "logs" / "error.log"

    def rtmp_url(self, name: str) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live/{name}"

    def rtmps_url(self, name: str, host: str = "127.0.0.1") -> str:
        return f"rtmps://{host}:{self.rtmps_port}/live/{name}"

    def start(self, attempts: int = 3) -> None:
        """Start on fresh free ports; try again when another process took a port meanwhile."""
        for _ in range(attempts):
            if self._try_start():
                return
        raise RuntimeError(f"nginx did not start: {self._log_tail()}")

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        self.process = None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    def __enter__(self) -> NginxRtmp:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _try_start(self) -> bool:
        for folder in ("hls", "logs"):
            (self.prefix / folder).mkdir(parents=True, exist_ok=True)
        self.rtmp_port = free_port()
        tls = self.cert is not None and self.key is not None
        self.rtmps_port = free_port() if tls else 0
        config = self.prefix / "nginx.conf"
        config.write_text(
            _CONFIG.format(
                rtmp_module=RTMP_MODULE,
                stream_module_line=f"load_module {STREAM_MODULE};" if tls else "",
                prefix=self.prefix,
                rtmp_port=self.rtmp_port,
                hls_fragment=self.hls_fragment,
                stream_block=_STREAM_BLOCK.format(
                    rtmps_port=self.rtmps_port,
                    rtmp_port=self.rtmp_port,
                    cert=self.cert,
                    key=self.key,
                )
                if tls
                else "",
            )
        )
        self.process = subprocess.Popen(
            ["nginx", "-p", str(self.prefix), "-c", str(config), "-e", str(self.error_log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        ports = [p for p in (self.rtmp_port, self.rtmps_port) if p]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                return False
            if all(_listening(port) for port in ports):
                return True
            time.sleep(0.05)
        self.stop()
        return False

    def _log_tail(self) -> str:
        try:
            return self.error_log.read_text()[-2000:]
        except OSError:
            return "(no error log)"


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
