"""Sans-IO protocol and format core: no sockets, no clock, no asyncio, no PyAV."""
