"""The asyncio side of ``wire``: the only place under ``wire/`` that imports asyncio.

Like aioquic's ``asyncio`` subpackage beside its sans-IO ``quic`` package, this holds the thin
glue that drives sans-IO objects on an event loop, and the non-protocol helpers every connection
owner shares:

- :mod:`wire.asyncio.certificates`: self-signed and test-CA certificates and server contexts.

The backoff policy is sans-IO and lives at :mod:`wire.backoff`.
"""
