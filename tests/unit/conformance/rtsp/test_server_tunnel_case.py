"""RTSP-TRANS-004 on hand-built observations: a tunnel whose GET leg is accepted is offered, and
must then carry a whole session; only a GET leg refused or unanswered means "not offered"."""

from __future__ import annotations

import pytest

from conformance.case import CaseFailure
from conformance.rtsp.observe import HTTP, TransportRun
from conformance.suites.rtsp_server import test_transport
from tests.unit.conformance.rtsp.test_server_cases import TWO_TRACKS, _sdp_view


def test_a_tunnel_that_answers_its_get_but_never_relays_fails() -> None:
    view = _sdp_view(TWO_TRACKS)
    run = TransportRun(HTTP, connected=True)
    run.error = "DESCRIBE: no answer within 5 s"  # the POST leg's requests went nowhere
    view.observation.runs[HTTP] = run
    with pytest.raises(CaseFailure, match="the tunnelled session did not play"):
        test_transport.test_http_tunnel(view)


def test_a_refused_get_leg_means_no_tunnel_is_offered() -> None:
    view = _sdp_view(TWO_TRACKS)
    run = TransportRun(HTTP, error="HTTP tunnel GET answered 404 Not Found")
    view.observation.runs[HTTP] = run
    with pytest.raises(pytest.skip.Exception, match="no HTTP tunnel"):
        test_transport.test_http_tunnel(view)
