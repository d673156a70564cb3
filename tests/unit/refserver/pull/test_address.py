from __future__ import annotations

import pytest

from refserver.pull.address import CameraAddress


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "rtsp://cam.local/s",
            CameraAddress("rtsp://cam.local/s", "cam.local", 554, None, "", secure=False),
        ),
        (
            "RTSPS://u:p%40ss@cam.local/live?ch=1",
            CameraAddress("rtsps://cam.local/live?ch=1", "cam.local", 322, "u", "p@ss", True),
        ),
        (
            "rtsps://[::1]:8322/cam1",
            CameraAddress("rtsps://[::1]:8322/cam1", "::1", 8322, None, "", secure=True),
        ),
    ],
)
def test_rtsp_and_rtsps_urls(url: str, expected: CameraAddress) -> None:
    assert CameraAddress.parse(url) == expected


def test_where_and_path() -> None:
    address = CameraAddress.parse("rtsps://[::1]:8322/cam1?x=1")
    assert (address.where, address.path) == ("[::1]:8322", "/cam1?x=1")
    bare = CameraAddress.parse("rtsp://10.0.0.5")
    assert (bare.where, bare.path) == ("10.0.0.5:554", "/")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://cam.local/s", "'http://cam.local/s' is not an rtsp:// URL (nor rtsps://)"),
        ("rtsps:///s", "'rtsps:///s' has no host"),
        ("rtsp://cam.local:99999/s", "Port out of range 0-65535"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        CameraAddress.parse(url)
    assert str(caught.value) == message
