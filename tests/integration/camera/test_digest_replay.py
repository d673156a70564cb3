"""A Digest header captured on the wire to one camera opens no other camera of the fleet."""

from __future__ import annotations

import asyncio
import os
from urllib.parse import urlsplit

from camsim.camera.fleet import FleetConfig
from tests.integration.camera.client import read_raw_responses
from tests.integration.camera.harness import running_fleet
from wire.rtsp import ChallengeResponder, Response, challenges_from

USERS = (("admin", "s3cret"),)


async def describe(url: str, authorization: str | None) -> Response:
    """One DESCRIBE on a connection of its own, with ``authorization`` as it was captured."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        fields = "" if authorization is None else f"Authorization: {authorization}\r\n"
        writer.write(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 7\r\n{fields}\r\n".encode())
        (answer,) = await read_raw_responses(reader, 1)
        assert isinstance(answer, Response)
        return answer
    finally:
        writer.close()


def test_captured_header_opens_only_the_camera_it_was_for(
    config: FleetConfig,
) -> None:
    async def scenario(cam1: str, cam2: str) -> None:
        challenge = await describe(cam1, None)
        assert challenge.status_code == 401
        responder = ChallengeResponder("admin", "s3cret", cnonce_source=os.urandom)
        assert responder.accept(challenges_from(challenge.headers))
        captured = responder.authorization("DESCRIBE", cam1)
        assert (await describe(cam1, captured)).status_code == 200
        # Without qop the same request may come again (a player re-reading the SDP)...
        assert (await describe(cam1, captured)).status_code == 200
        # ...but it does not open another camera.
        refused = await describe(cam2, captured)
        assert refused.status_code == 401
        assert [c.scheme for c in challenges_from(refused.headers)] == ["Digest"]

    with running_fleet(config, users=USERS) as fleet:
        asyncio.run(asyncio.wait_for(scenario(*fleet.urls[:2]), 30))
