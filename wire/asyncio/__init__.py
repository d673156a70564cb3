"""The asyncio side of ``wire``: the only place under ``wire/`` that imports asyncio.

Like aioquic's ``asyncio`` subpackage beside its sans-IO ``quic`` package, this holds the thin
glue that drives sans-IO objects on an event loop, and the non-protocol helpers every connection
owner shares:

- :mod:`wire.asyncio.pump`: :class:`~wire.asyncio.pump.StreamPump` (TCP and TLS) and
  :class:`~wire.asyncio.pump.DatagramPump` (UDP) drive a session object: read, feed, write,
  re-arm its one timer, with backpressure both ways;
- :mod:`wire.asyncio.scheduler`: one :class:`~wire.asyncio.scheduler.DeadlineScheduler`, a heap
  of due times served from a single event-loop timer (camera RTP pacing, encoder media pacing);
- :mod:`wire.asyncio.certificates`: self-signed and test-CA certificates and server contexts.

The backoff policy is sans-IO and lives at :mod:`wire.backoff`.
"""
