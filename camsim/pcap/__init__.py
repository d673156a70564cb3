"""``camsim pcap``: turn a customer's capture into answers and into a live, repeatable source.

The path of a packet, each step a small module:

- :mod:`~camsim.pcap.capture` reads pcap (micro- and nanosecond) and pcapng files with ``struct``
  over a memory map, one record at a time, without copying;
- :mod:`~camsim.pcap.packet` decodes the link layer (Ethernet, VLAN, Linux cooked SLL/SLL2, raw
  IP, BSD loopback), IPv4 and IPv6 (fragments reassembled) and TCP/UDP headers;
- :mod:`~camsim.pcap.tcp` reassembles each direction of a TCP connection (retransmissions,
  out-of-order segments, overlaps; holes reported with packet numbers);
- :mod:`~camsim.pcap.classify` recognises a flow by its content, not its port;
- :mod:`~camsim.pcap.rtsp`, :mod:`~camsim.pcap.rtp`, :mod:`~camsim.pcap.rtmp`,
  :mod:`~camsim.pcap.tls` and :mod:`~camsim.pcap.http` analyse each protocol with the parsers of
  :mod:`wire`, fed with reassembled bytes and capture timestamps (no sockets);
- :mod:`~camsim.pcap.findings` turns what was seen into problems a person can act on;
- :mod:`~camsim.pcap.inspect` puts it together; :mod:`~camsim.pcap.extract`,
  :mod:`~camsim.pcap.replay` and :mod:`~camsim.pcap.redact` build on its results.
"""
