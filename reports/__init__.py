"""HTML report rendering shared by camsim and the conformance runner."""
