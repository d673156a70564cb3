"""A stream's HLS read over HTTP as the server publishes it, for the ingest and pull-API paths.

The playlist is read at every poll and each segment it lists is fetched once, when first
listed, and analysed for its stamps (in a worker thread: decoding is CPU work). A playlist
that is not there yet (404) or does not parse is asked for again at the next poll.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urljoin

import aiohttp

from conformance.hls.media import analyse_init, analyse_segment
from conformance.suites.rtsp_client.output import OutputSegment
from wire.hls.errors import PlaylistError
from wire.hls.parse import parse

REQUEST_TIMEOUT = 5.0


class HttpOutput:
    """The HLS of one stream read over HTTP: segments in playlist order, each read once."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session
        self.segments: list[OutputSegment] = []
        self.errors: list[str] = []
        self._seen: set[str] = set()
        self._inits: dict[str, bytes] = {}

    async def _get(self, url: str) -> bytes | None:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        try:
            async with self.session.get(url, timeout=timeout) as response:
                if response.status != 200:
                    return None
                return await response.read()
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def poll(self) -> None:
        """Read the playlist once and every segment it lists that was not read yet."""
        body = await self._get(self.url)
        if body is None:
            return  # not published yet, or the server is away: try again next time
        try:
            playlist = parse(body)
        except (PlaylistError, ValueError):
            return
        loop = asyncio.get_running_loop()
        for segment in playlist.segments:
            uri = urljoin(self.url, segment.uri)
            if uri in self._seen:
                continue
            self._seen.add(uri)
            data = await self._get(uri)
            if data is None:
                self.errors.append(f"{segment.uri}: listed but not served")
                continue
            init_bytes = b""
            if segment.init_section is not None:
                init_uri = urljoin(self.url, segment.init_section.uri)
                if init_uri not in self._inits:
                    self._inits[init_uri] = await self._get(init_uri) or b""
                init_bytes = self._inits[init_uri]
            init = analyse_init(init_bytes) if init_bytes else None
            media = await loop.run_in_executor(None, analyse_segment, data, init, init_bytes)
            self.segments.append(OutputSegment(segment.uri, segment.discontinuity, media))
