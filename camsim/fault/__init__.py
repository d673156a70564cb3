"""Fault injection between any client and any server, in userspace (no root, any OS).

- :mod:`~camsim.fault.impair`: seeded impairment models of one direction of one flow, sans I/O;
- :mod:`~camsim.fault.config`: :class:`~camsim.fault.config.FaultConfig` and the settings' names;
- :mod:`~camsim.fault.nat`: the NAT mapping table (cone, symmetric, expiry), sans I/O;
- :mod:`~camsim.fault.tcp`, :mod:`~camsim.fault.udp`: the relays;
- :mod:`~camsim.fault.rtsp`: the RTSP-aware proxy (RTP/RTCP over UDP through it, NAT);
- :mod:`~camsim.fault.control`: :class:`~camsim.fault.control.FaultProxy`, the run-time API and
  the HTTP/JSON control endpoint;
- :mod:`~camsim.fault.pytest_plugin`: the ``fault_proxy`` fixture; :mod:`~camsim.fault.cli`:
  ``camsim fault proxy``.
"""
