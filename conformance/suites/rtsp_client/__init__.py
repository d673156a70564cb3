"""Suite ``rtsp-client``: an RTSP puller judged by what it makes of cameras from the field.

The suite serves the cameras itself (camsim's camera, one per case, on ports the kernel picks
on 127.0.0.1), makes the client under test pull each, and judges the HLS the client writes: the
frames, found by the camsim stamp in each, must come out in sending order with none lost, the
stream must go on through the camera's quirk, and a restart may cost one break, not the stream.

    camsim conform --suite rtsp-client \\
        --target 'ffmpeg -rtsp_transport tcp -i {url} -c copy -f hls {out}/index.m3u8'

``--target`` is the client's command line: ``{url}`` is the camera, ``{out}`` an empty folder
for its HLS (any media playlist under it is followed), ``{name}`` the case's name. ``--set
parallel=N`` runs N cases at a time (4), ``--set workdir=DIR`` keeps the outputs and logs.

A server that runs all along and is told what to pull is judged with ``--pull-api 'METHOD URL
[BODY]'`` (the request that makes it pull ``{url}`` as ``{name}``), ``--hls URL`` (where it
serves ``{name}``) and optionally ``--pull-api-remove 'METHOD URL'``, instead of ``--target``
(:mod:`~conformance.suites.rtsp_client.api_target`).
"""

from conformance.registry import Suite, register

SUITE = register(
    Suite(
        "rtsp-client",
        __name__,
        "RTSP puller, judged by its HLS output of cameras from the field",
        target="a command with {url} and {out}, e.g. 'ffmpeg -i {url} -c copy -f hls "
        "{out}/index.m3u8'",
        groups=(
            "RTSPC-PLAY",
            "RTSPC-NET",
            "RTSPC-AUTH",
            "RTSPC-RESTART",
            "RTSPC-QUIRK",
            "RTSPC-TIME",
        ),
    )
)
