"""Sans-IO protocol and format core: no sockets, no clock, no event loop, no PyAV.

The one exception is the pump subpackage, which drives these objects on an event loop and holds
the helpers every connection owner shares (deadline scheduler, certificates)."""
