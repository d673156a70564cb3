"""``python -m camsim.pcap``: the ``camsim pcap`` commands without loading the rest of camsim."""

from camsim.pcap.cli import pcap

pcap(prog_name="camsim pcap")
