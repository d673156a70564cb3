"""Suite ``resilience``: a puller judged through named network and device faults.

The suite serves a camsim camera per scenario behind an RTSP fault proxy and makes the client
under test pull it through the proxy while the scenario's faults come and go: loss, burst loss,
jitter, reordering, a rate below the stream's bitrate, UDP blocked, the RTSP port refused, a
symmetric NAT, NAT mappings that expire, a camera that reboots, RTP that stops (the catalogue is
:mod:`camsim.fault.scenarios`). Each case holds the client's HLS output against the scenario's
verdict rule: frames lost only inside the fault windows, back within N s, still going at the
end, timestamps that jump only after EXT-X-DISCONTINUITY, bounded memory.

    camsim conform --suite resilience \\
        --target 'refserver --bind 127.0.0.1 --rtmp-port 0 --no-rtmps --http-port 0 \\
                  --pull {name}={url} --hls-dir {out} --target-duration 1'

``--target`` is rtsp-client's command template (``{url}``, ``{out}``, ``{name}``) with
``{alt_url}``: another address of the same camera, for a client that can be given one (the
port-554-blocked scenario), and ``{alt_port}``, its port alone (refserver's
``--pull-alternative-port {alt_port}``). ``--set parallel=N`` runs N scenarios at a time (2),
``--set workdir=DIR`` keeps the outputs and logs.

``--set path=kernel`` runs the pull scenarios with kernel faults instead (root): the camera in a
network namespace's LAN, the puller in its WAN, iptables, tc and conntrack on the router between
them (:mod:`conformance.suites.resilience.kernel`); their cases are the proxy ones with
``-KERNEL`` (``RESIL-NET-LOSS-1-KERNEL``), not applicable where the kernel has no form for the
fault. ``--set path=both`` runs both; ``proxy`` is the default.

A server that runs all along and is told over HTTP what to pull is judged with rtsp-client's
``--pull-api`` (and ``--hls``, ``--pull-api-remove``) instead of ``--target``: per pull scenario
the suite asks it to pull the proxy's ``{url}`` as a ``{name}`` new to the run, reads that
stream's HLS over HTTP and asks it to stop after (:mod:`conformance.suites.resilience.api`).
The proxy path only; its memory is not judged (the suite does not know its process); the
templates have no ``{alt_url}``, so port-554-blocked passes only if the server falls back to
another port of its own::

    camsim conform --suite resilience \
        --pull-api 'POST http://127.0.0.1:8080/api/sources {"name": "{name}", "url": "{url}"}' \
        --pull-api-remove 'DELETE http://127.0.0.1:8080/api/sources/{name}' \
        --hls 'http://127.0.0.1:8080/live/{name}/index.m3u8'

An ingest server is judged through the ingest scenarios (uplink-drop, server-restart): camsim's
encoder publishes through a TCP fault proxy and the stream's HLS is read back from ``--hls``
(``{name}`` for the stream). ``--target rtmp://HOST:PORT/APP/{name}`` judges a running server
(uplink-drop only); a ``--target`` that is the server's command with ``{rtmp_port}``,
``{http_port}`` and ``{out}`` lets the suite start it, load it with ``--set streams=N``
publishers (3) and kill and restart it (server-restart as well)::

    camsim conform --suite resilience \\
        --target 'refserver --bind 127.0.0.1 --rtmp-port {rtmp_port} --no-rtmps \\
                  --http-port {http_port} --hls-dir {out} --target-duration 1' \\
        --hls 'http://127.0.0.1:{http_port}/live/{name}/index.m3u8'
"""

from conformance.registry import Suite, register

SUITE = register(
    Suite(
        "resilience",
        __name__,
        "RTSP puller through named network and device faults, judged by its HLS output",
        target="a puller's command with {url} and {out} (and {alt_url}); or an ingest: "
        "rtmp://HOST:PORT/APP/{name}, or its command with {rtmp_port} and {http_port}",
        groups=("RESIL-NET", "RESIL-DEV", "RESIL-INGEST", "RESIL-TIME"),
    )
)
