"""A FIN passed on to an upstream that has closed and reset must not stop the relay: the delayed
bytes of every other connection still go out.

The upstream closes first (a FIN: the relay stops reading that socket, so it never sees what
follows); the client's delayed bytes then reach a closed socket, which answers with a reset, and
the client's FIN, passed on right behind them, meets a socket that is no longer connected.
"""

from __future__ import annotations

import asyncio

from camsim.fault.config import FaultConfig
from tests.integration.fault.test_tcp import connect, echo, read_all, relay

DELAY = 0.2


def test_a_fin_to_a_reset_upstream_leaves_the_other_connections_relayed() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        errors: list[dict[str, object]] = []
        loop.set_exception_handler(lambda _, context: errors.append(context))
        first = [True]

        async def close_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if first[0]:
                first[0] = False
                writer.close()  # FIN at once, and a reset for whatever arrives later
                return
            await echo(reader, writer)

        async with relay(close_first, FaultConfig().changed(delay=DELAY)) as proxy:
            _, doomed = await connect(proxy)
            await asyncio.sleep(0.1)
            doomed.write(b"late bytes")
            doomed.write_eof()
            await asyncio.sleep(DELAY / 2)
            # Another connection's bytes wait in the same scheduler as the doomed FIN.
            reader, writer = await connect(proxy)
            writer.write(b"still relayed")
            writer.write_eof()
            assert await read_all(reader) == b"still relayed<bye>"
            writer.close()
            doomed.close()
        assert not [e for e in errors if isinstance(e.get("exception"), OSError)], errors

    asyncio.run(main())
