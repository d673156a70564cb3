"""``camsim bench rtmp-vs-rtmps``: what TLS costs a live stream, measured side by side.

- :mod:`~camsim.bench.stats`: medians, p95 and seeded bootstrap intervals of a difference;
- :mod:`~camsim.bench.profiles`: the network profiles, built on the userspace fault proxy;
- :mod:`~camsim.bench.servers`: the local refserver, a server's CPU from ``/proc``;
- :mod:`~camsim.bench.runner`: the interleaved trials (set-up, then streaming windows);
- :mod:`~camsim.bench.playback` and :mod:`~camsim.bench.hls`: per-frame latency read back from
  a server with no API, by RTMP play or from its HLS playlists;
- :mod:`~camsim.bench.progress`: the live status line;
- :mod:`~camsim.bench.verdict`: the measured figures against the usual claim;
- :mod:`~camsim.bench.report`: the HTML/JSON report; :mod:`~camsim.bench.cli`: the command.
"""
