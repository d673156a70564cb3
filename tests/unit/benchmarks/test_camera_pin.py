"""camera_vs_gst's --pin: the server on one CPU, the consumers on the others."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from benchmarks.camera_vs_gst import pin, split_cpus


def test_the_cpus_split_into_one_for_the_server_and_the_rest() -> None:
    cpus = os.sched_getaffinity(0)
    split = split_cpus()
    if len(cpus) < 2:
        assert split is None
        return
    assert split is not None
    server, consumers = split
    assert len(server) == 1
    assert server | consumers == cpus
    assert not server & consumers


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to pin apart")
def test_every_thread_of_a_process_is_pinned() -> None:
    # A child with a second thread: both must end up on the one CPU.
    code = (
        "import threading, time; "
        "threading.Thread(target=time.sleep, args=(30,)).start(); time.sleep(30)"
    )
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(100):
            if len(os.listdir(f"/proc/{child.pid}/task")) >= 2:
                break
            time.sleep(0.05)
        server, _ = split_cpus() or ({0}, set())
        pin(child.pid, server)
        tasks = os.listdir(f"/proc/{child.pid}/task")
        assert len(tasks) >= 2
        assert all(os.sched_getaffinity(int(task)) == server for task in tasks)
    finally:
        child.kill()
        child.wait()
