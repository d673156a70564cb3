"""Third-party HLS origins for the hls-output suite: FFmpeg's HLS muxer writing into a folder
served by a small static HTTP server, and nginx-rtmp (its HLS served by nginx's own HTTP, as
deployed). Loopback only, on free ports, each stopped by its owner."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.interop.encoder.nginx_rtmp import RTMP_MODULE, free_port

# What nginx's peer configuration and every HLS origin serve (RFC 8216 §4, RFC 3555, RFC 4337).
HLS_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/mp4",
    ".mp4": "video/mp4",
}


class StaticHlsServer:
    """A folder over HTTP with the HLS MIME types and ``Cache-Control: no-cache`` on
    playlists, nothing else: whatever the suite finds is the writer's doing."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def _file(self, request: web.Request) -> web.StreamResponse:
        path = (self.folder / request.match_info["file"]).resolve()
        if path.parent != self.folder or not path.is_file():
            raise web.HTTPNotFound()
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            raise web.HTTPNotFound() from None
        headers = {"Content-Type": HLS_TYPES.get(path.suffix, "application/octet-stream")}
        if path.suffix == ".m3u8":
            headers["Cache-Control"] = "no-cache"
        return web.Response(body=body, headers=headers)

    def _call(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(20)

    def start(self) -> None:
        self.thread.start()
        app = web.Application()
        app.router.add_get("/{file}", self._file)

        async def start() -> int:
            self.runner = web.AppRunner(app, access_log=None)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", 0).start()
            port: int = self.runner.addresses[0][1]
            return port

        self.port = self._call(start())

    def stop(self) -> None:
        if self.runner is not None:
            self._call(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


class FfmpegHls:
    """``ffmpeg -re -stream_loop -1 -i SAMPLE -c copy -f hls ...`` into ``folder``."""

    def __init__(self, sample: Path, folder: Path, *hls_args: str) -> None:
        self.sample = sample
        self.folder = folder
        self.hls_args = hls_args
        self.process: subprocess.Popen[bytes] | None = None
        self.log = folder.parent / "ffmpeg.log"

    def start(self, timeout: float = 20) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    "ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1",
                    "-i", str(self.sample), "-c", "copy", "-f", "hls", *self.hls_args,
                    str(self.folder / "index.m3u8"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not (self.folder / "index.m3u8").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ffmpeg wrote no playlist: {self.log.read_text()[-800:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


_NGINX_CONFIG = """\
load_module {rtmp_module};
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 256; }}
rtmp {{
  server {{
    listen 127.0.0.1:{rtmp_port};
    chunk_size 4096;
    application live {{
      live on;
      record off;
      hls on;
      hls_path {prefix}/hls;
      hls_fragment {fragment}s;
      hls_playlist_length {playlist}s;
    }}
  }}
}}
http {{
  access_log off;
  server {{
    listen 127.0.0.1:{http_port};
    root {prefix};
    location /hls {{
      types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
      add_header Cache-Control no-cache;
    }}
  }}
}}
"""


def nginx_available() -> bool:
    return shutil.which("nginx") is not None and RTMP_MODULE.exists()


class NginxRtmpHls:
    """nginx-rtmp ingesting RTMP and writing HLS, served by the same nginx over HTTP, as the
    project's peer configuration (shared/peers/nginx-rtmp.conf) runs it."""

    def __init__(self, prefix: Path, *, fragment: int = 1, playlist: int = 6) -> None:
        self.prefix = prefix
        self.fragment = fragment
        self.playlist = playlist
        self.rtmp_port = 0
        self.http_port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def rtmp_url(self, name: str) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live/{name}"

    def playlist_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.http_port}/hls/{name}.m3u8"

    def start(self) -> None:
        for folder in ("hls", "logs"):
            (self.prefix / folder).mkdir(parents=True, exist_ok=True)
        self.prefix.chmod(0o755)
        self.rtmp_port, self.http_port = free_port(), free_port()
        config = self.prefix / "nginx.conf"
        config.write_text(
            _NGINX_CONFIG.format(
                rtmp_module=RTMP_MODULE,
                prefix=self.prefix,
                rtmp_port=self.rtmp_port,
                http_port=self.http_port,
                fragment=self.fragment,
                playlist=self.playlist,
            )
        )
        self.process = subprocess.Popen(
            ["nginx", "-p", str(self.prefix), "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.prefix / "logs" / "error.log").read_text()[-800:]
                raise RuntimeError(f"nginx exited: {log}")
            if _listening(self.rtmp_port) and _listening(self.http_port):
                return
            time.sleep(0.05)
        raise RuntimeError("nginx did not listen in 10 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
