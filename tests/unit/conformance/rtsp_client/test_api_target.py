"""``--pull-api`` templates: parsed, refused when they cannot work, rendered per case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.hls.media import SegmentMedia
from conformance.hls.recording import HlsRecording, SegmentRecord
from conformance.suites.rtsp_client.api_target import ApiTemplate, PullApi, accepted, output_of

CAMERA = 'rtsp://camsim:p"a ss@127.0.0.1:5554/cam1'


def test_a_json_body_gets_the_url_json_escaped_and_the_name() -> None:
    template = ApiTemplate(
        'POST http://127.0.0.1:8080/api/sources {"name": "{name}", "url": "{url}"}', "--pull-api"
    )
    method, url, body = template.render("rtspc-play-001", CAMERA)
    assert (method, url) == ("POST", "http://127.0.0.1:8080/api/sources")
    assert json.loads(body) == {"name": "rtspc-play-001", "url": CAMERA}


def test_mediamtx_v3_paths_add_puts_the_name_in_the_url() -> None:
    template = ApiTemplate(
        'post http://127.0.0.1:9997/v3/config/paths/add/{name} {"source": "{url}"}', "--pull-api"
    )
    method, url, body = template.render("rtspc-auth-001", CAMERA)
    assert (method, url) == ("POST", "http://127.0.0.1:9997/v3/config/paths/add/rtspc-auth-001")
    assert json.loads(body) == {"source": CAMERA}


def test_a_url_in_the_request_url_is_percent_encoded() -> None:
    template = ApiTemplate("GET http://127.0.0.1:1/pull?url={url}&as={name}", "--pull-api")
    _, url, body = template.render("n", "rtsp://127.0.0.1:5554/cam1")
    assert url == "http://127.0.0.1:1/pull?url=rtsp%3A%2F%2F127.0.0.1%3A5554%2Fcam1&as=n"
    assert body == ""


def test_a_suites_own_fields_are_filled_in_like_the_url() -> None:
    template = ApiTemplate(
        'POST http://127.0.0.1:1/s?alt={alt_url} {"name": "{name}", "url": "{url}", '
        '"ports": [{alt_port}], '
        '"again": "{alt_url}", "later": "{out}"}',
        "--pull-api",
    )
    other = 'rtsp://127.0.0.1:6/c"1'
    _, url, body = template.render("n", CAMERA, {"alt_url": other, "alt_port": "6"})
    assert url == "http://127.0.0.1:1/s?alt=rtsp%3A%2F%2F127.0.0.1%3A6%2Fc%221"
    # JSON-escaped in the body; a field not given stays as written.
    assert json.loads(body) == {
        "name": "n",
        "url": CAMERA,
        "ports": [6],
        "again": other,
        "later": "{out}",
    }


@pytest.mark.parametrize(
    ("add", "hls", "remove", "words"),
    [
        ("FETCH http://127.0.0.1/{name} {url}", "http://h/{name}/i.m3u8", None, "METHOD"),
        ("POST 127.0.0.1/{name} {url}", "http://h/{name}/i.m3u8", None, "http://"),
        ("POST http://127.0.0.1/{name}", "http://h/{name}/i.m3u8", None, "{url}"),
        ("POST http://127.0.0.1/x {url}", "http://h/{name}/i.m3u8", None, "{name}"),
        ("POST http://127.0.0.1/{name} {url}", None, None, "needs --hls"),
        ("POST http://127.0.0.1/{name} {url}", "http://h/i.m3u8", None, "{name}"),
        (
            "POST http://127.0.0.1/{name} {url}",
            "http://h/{name}/i.m3u8",
            "DELETE http://h/x",
            "{name}",
        ),
    ],
)
def test_templates_that_cannot_work_are_refused(
    add: str, hls: str | None, remove: str | None, words: str
) -> None:
    with pytest.raises(ValueError, match=words.replace("{", r"\{").replace("}", r"\}")):
        PullApi.parse(add, hls, remove)


def test_the_removal_needs_no_url() -> None:
    api = PullApi.parse(
        "POST http://127.0.0.1/{name} {url}", "http://h/{name}/i.m3u8", "DELETE http://h/{name}"
    )
    assert api.remove is not None
    assert api.remove.render("a", CAMERA) == ("DELETE", "http://h/a", "")


def test_only_a_2xx_answer_is_accepted() -> None:
    assert accepted("POST http://h/x: HTTP 201 {}")
    assert not accepted("POST http://h/x: HTTP 409 {}")
    assert not accepted("POST http://h/x: Cannot connect to host")


def test_the_recording_becomes_the_output_in_playlist_order(tmp_path: Path) -> None:
    recording = HlsRecording("http://h/a/index.m3u8")

    def record(sequence: int, status: int | None, media: bool, error: str = "") -> None:
        uri = f"http://h/a/{sequence}.ts"
        recording.segments[uri] = SegmentRecord(
            uri, sequence, 1.0, 0, sequence == 2, sequence, 0.0, 0.0, status=status, error=error
        )
        recording.segments[uri].media = SegmentMedia("ts", 0) if media else None

    record(2, 200, True)
    record(1, 200, True)
    record(3, 404, False)
    record(4, None, False)  # listed as the reading stopped
    record(5, None, False, "no answer within 10 s")
    output = output_of(recording, tmp_path)
    assert [(s.uri[-4:], s.discontinuity) for s in output.segments] == [
        ("1.ts", False),
        ("2.ts", True),
    ]
    assert output.errors == [
        "http://h/a/3.ts: listed but not readable (HTTP 404)",
        "http://h/a/5.ts: listed but not readable (no answer within 10 s)",
    ]
    assert output_of(None, tmp_path).segments == []
