"""The report's notes say where per-frame latency came from: the server's API, play-back over
RTMP (and what that adds), or nowhere."""

from __future__ import annotations

from camsim.bench.cli import _notes
from camsim.bench.profiles import profile_named
from camsim.bench.runner import BenchSettings

URLS = ("rtmp://127.0.0.1:1935/live/b{n}", "rtmps://127.0.0.1:1936/live/b{n}")


def _settings(**changes: object) -> BenchSettings:
    return BenchSettings(*URLS, (profile_named("loopback"),), **changes)  # type: ignore[arg-type]


def test_without_an_api_latency_is_played_back_and_the_notes_say_what_that_adds() -> None:
    (note,) = [n for n in _notes(_settings()) if n.startswith("No server API")]
    assert "playing each stream back" in note
    assert "serving the players" in note


def test_without_play_back_latency_is_not_measured() -> None:
    (note,) = [n for n in _notes(_settings(playback=False)) if n.startswith("No server API")]
    assert note.endswith("were not measured.")


def test_with_an_api_no_play_back_note() -> None:
    notes = _notes(_settings(api_url="http://127.0.0.1:8080/api/streams/"))
    assert not [n for n in notes if n.startswith("No server API")]
