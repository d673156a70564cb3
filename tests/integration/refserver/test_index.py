"""The index page as served: it says how to start a player from the URL and that it follows the
streams; the browser behaviour is in tests/interop/refserver/test_index_page.py."""

from __future__ import annotations

from pathlib import Path

from refserver.http import INDEX_REFRESH_SECONDS
from tests.integration.refserver.harness import running, server_config


def test_the_page_documents_play_and_its_refresh(tmp_path: Path) -> None:
    with running(server_config(tmp_path)) as server:
        page = server.get("/").body.decode()
    assert "Open <code>/?play=NAME</code> to start stream NAME's player" in page
    assert f"every {INDEX_REFRESH_SECONDS} s" in page
    assert f"const REFRESH_MS = {INDEX_REFRESH_SECONDS * 1000};" in page
    assert 'fetch("/api/streams"' in page
