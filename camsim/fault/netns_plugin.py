"""A pytest fixture for namespace topologies with kernel faults (root only).

::

    from camsim.fault.netns_plugin import netns_topology  # noqa: F401  (in a conftest.py)

    def test_pull_through_nat(netns_topology):
        topology = netns_topology()
        topology.faults.change(nat=True, forward="8554")
        camera = topology.popen("lan", ["camsim", "run", "--host", topology.lan_address])

Without root (or without iproute2/iptables) the test is skipped with the reason, except under
``CI=true``: the CI job runs as root with every peer installed, so there a missing capability is
a failure, not a skip that would hide a broken set-up. A kernel without netem is skipped even
there, since no package can add a kernel module. Every topology a test made is torn
down when it ends, whatever the outcome: the finalizer runs even when the test fails.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from camsim.fault.kernel import NETEM_MISSING
from camsim.fault.netns import Topology, netem_available, unavailable_reason

TopologyFactory = Callable[[], Topology]


def skip_without_netns() -> None:
    """Skip the running test when topologies cannot be built here, saying why."""
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true and kernel network faults unavailable: {reason}", pytrace=False)
        pytest.skip(f"kernel network faults unavailable: {reason}")


def skip_without_netem() -> None:
    """Skip the running test when the kernel has no netem qdisc (no package can add one)."""
    skip_without_netns()
    if not netem_available():
        pytest.skip(NETEM_MISSING)


@pytest.fixture
def netns_topology() -> Iterator[TopologyFactory]:
    """``netns_topology()``: a created :class:`~camsim.fault.netns.Topology`, torn down at the end
    of the test."""
    skip_without_netns()
    made: list[Topology] = []

    def make() -> Topology:
        topology = Topology()
        made.append(topology)
        return topology.create()

    yield make
    for topology in reversed(made):
        topology.close()
