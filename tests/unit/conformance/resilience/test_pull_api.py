"""The pure parts of the resilience suite's ``--pull-api`` mode: stream names, the command
mode's fields refused in the API's templates, segment arrivals, the cases it does not run."""

from __future__ import annotations

import pytest

from camsim.fault.scenarios import Role, scenarios
from conformance.suites.resilience.api import KERNEL_NOT_APPLICABLE, command_fields, stream_name
from conformance.suites.resilience.conftest import (
    INGEST_BY_API,
    api_not_run,
    case_id,
    kernel_case_id,
)
from conformance.suites.resilience.run import FaultRun, client_scenario
from conformance.suites.rtsp_client.run import ScenarioResult
from refserver.streams import valid_stream_name


def test_a_stream_name_is_the_scenario_and_a_token() -> None:
    assert stream_name("loss-1", "abc123") == "resil-loss-1-abc123"


def test_every_run_gets_a_new_stream_name() -> None:
    names = {stream_name("camera-reboot") for _ in range(20)}
    assert len(names) == 20
    assert all(name.startswith("resil-camera-reboot-") for name in names)


@pytest.mark.parametrize("scenario", [s.name for s in scenarios(Role.PULL)])
def test_stream_names_are_names_a_server_takes(scenario: str) -> None:
    """Letters, digits and hyphens within 64 characters: a stream name refserver (and RTMP
    servers generally) accepts, in a URL path without escaping."""
    name = stream_name(scenario)
    assert valid_stream_name(name), name
    assert name.replace("-", "").isalnum()


ADD = 'POST http://127.0.0.1:8080/api/sources {"name": "{name}", "url": "{url}"}'
REMOVE = "DELETE http://127.0.0.1:8080/api/sources/{name}"


def test_templates_with_only_name_and_url_have_no_command_field() -> None:
    assert command_fields(ADD, REMOVE) == []
    assert command_fields(ADD, None) == []


def test_command_fields_in_a_template_are_found_once_each() -> None:
    add = (
        'POST http://127.0.0.1:8080/api/sources {"name": "{name}", "url": "{url}", '
        '"alternative_ports": [{alt_port}], "fallback": "{alt_url}", "also": [{alt_port}]}'
    )
    # The camera's other address is filled in; the output folder means nothing to a server.
    assert command_fields(add, "DELETE http://127.0.0.1:8080/{out}/{name}/{out}") == ["{out}"]
    assert command_fields(add) == []


def test_a_json_object_is_not_a_field() -> None:
    assert command_fields('PUT http://h/x {"out":{"name":"{name}"}}') == []


def test_arrivals_are_the_time_each_segment_was_first_read() -> None:
    scenario = scenarios(Role.PULL)[0]
    run = FaultRun(scenario, ScenarioResult(client_scenario(scenario)))
    run.arrived(0, 0.5)
    run.arrived(2, 1.0)
    run.arrived(2, 1.5)
    run.arrived(3, 2.0)
    assert run.arrivals == [1.0, 1.0, 2.0]


def test_on_the_proxy_path_every_kernel_and_ingest_case_says_why_it_is_not_run() -> None:
    not_run = api_not_run("proxy")
    pulls = scenarios(Role.PULL)
    assert {kernel_case_id(s) for s in pulls} <= not_run.keys()
    assert not {case_id(s) for s in pulls} & not_run.keys()
    assert {not_run[kernel_case_id(s)] for s in pulls} == {KERNEL_NOT_APPLICABLE}
    assert {not_run[case_id(s)] for s in scenarios(Role.INGEST)} == {INGEST_BY_API}
    assert "WAN namespace" in KERNEL_NOT_APPLICABLE


@pytest.mark.parametrize("path", ["kernel", "both"])
def test_the_kernel_path_runs_nothing_by_api(path: str) -> None:
    not_run = api_not_run(path)
    pulls = scenarios(Role.PULL)
    assert {not_run[kernel_case_id(s)] for s in pulls} == {KERNEL_NOT_APPLICABLE}
    proxy_cases = {case_id(s) for s in pulls}
    assert (proxy_cases <= not_run.keys()) is (path == "kernel")
