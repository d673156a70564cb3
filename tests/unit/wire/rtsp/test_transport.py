from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.rtsp.errors import RemoteProtocolError
from wire.rtsp.transport import PortRange, Transport, TransportSpec


def test_udp_request_from_the_capture() -> None:
    spec = TransportSpec.parse("RTP/AVP;unicast;client_port=46048-46049")
    assert (spec.protocol, spec.profile, spec.lower_transport) == ("RTP", "AVP", None)
    assert spec.delivery == "unicast"
    assert spec.client_port == PortRange(46048, 46049)
    assert spec.server_port is None
    assert not spec.is_tcp
    assert spec.serialize() == "RTP/AVP;unicast;client_port=46048-46049"


def test_udp_reply_from_the_capture() -> None:
    value = "RTP/AVP/UDP;unicast;client_port=46048-46049;server_port=36854-36855;ssrc=4DD55626"
    spec = Transport.parse(value).first
    assert spec.lower_transport == "UDP"
    assert spec.server_port == PortRange(36854, 36855)
    assert spec.ssrc == 0x4DD55626
    assert spec.serialize() == value


def test_tcp_interleaved() -> None:
    spec = TransportSpec.parse("RTP/AVP/TCP;unicast;interleaved=0-1;mode=play")
    assert spec.is_tcp
    assert spec.interleaved == PortRange(0, 1)
    assert spec.mode == "PLAY"
    assert spec.serialize() == "RTP/AVP/TCP;unicast;interleaved=0-1;mode=PLAY"


def test_interleaved_without_tcp_is_still_tcp() -> None:
    spec = TransportSpec.parse("RTP/AVP;unicast;interleaved=2-3")
    assert spec.lower_transport is None
    assert spec.is_tcp


def test_multicast_with_destination_ttl_and_port() -> None:
    value = "RTP/AVP;multicast;destination=224.2.0.1;ttl=16;port=3456-3457;mode=PLAY"
    spec = TransportSpec.parse(value)
    assert spec.is_multicast
    assert (spec.destination, spec.ttl, spec.port) == ("224.2.0.1", 16, PortRange(3456, 3457))
    assert spec.serialize() == value


def test_several_alternatives_in_preference_order() -> None:
    value = (
        "RTP/AVP/TCP;unicast;interleaved=0-1,"
        "RTP/AVP;unicast;client_port=5000-5001,"
        "RTP/AVP;multicast"
    )
    transport = Transport.parse(value)
    assert [s.is_tcp for s in transport.specs] == [True, False, False]
    assert transport.specs[1].client_port == PortRange(5000, 5001)
    assert transport.serialize() == value


@pytest.mark.parametrize(
    ("value", "ssrc"),
    [
        ("ssrc=4DD55626", 0x4DD55626),
        ("ssrc= 4DD55626", 0x4DD55626),
        ("ssrc=  1A2B", 0x1A2B),
        ("ssrc=4dd55626", 0x4DD55626),
        ("ssrc=0", 0),
        ("ssrc=937239728", 937239728),
        ("ssrc=4294967295", 0xFFFFFFFF),
    ],
)
def test_ssrc_quirks(value, ssrc) -> None:
    spec = TransportSpec.parse(f"RTP/AVP;unicast;client_port=1-2;{value}")
    assert spec.ssrc == ssrc
    assert spec.serialize().endswith(f";ssrc={ssrc:08X}")


@pytest.mark.parametrize(
    ("value", "server_port"),
    [
        ("RTP/AVP;unicast;client_port=5000-5001;server_port=0-1", PortRange(0, 1)),
        ("RTP/AVP;unicast;client_port=5000-5001", None),
        ("RTP/AVP;unicast;client_port=5000-5001;server_port=6970", PortRange(6970)),
    ],
)
def test_server_port_quirks(value, server_port) -> None:
    assert TransportSpec.parse(value).server_port == server_port
    assert TransportSpec.parse(value).serialize() == value


def test_tolerates_spacing_case_and_unknown_parameters() -> None:
    spec = TransportSpec.parse(" rtp/avp/tcp ; unicast ; Interleaved=0-1 ; x-foo=bar ;")
    assert (spec.protocol, spec.profile, spec.lower_transport) == ("RTP", "AVP", "TCP")
    assert spec.interleaved == PortRange(0, 1)
    assert spec.extra == ("x-foo=bar",)
    assert spec.serialize() == "RTP/AVP/TCP;unicast;interleaved=0-1;x-foo=bar"


def test_quoted_mode_source_and_append() -> None:
    spec = TransportSpec.parse('RTP/AVP;unicast;source=10.0.0.1;append;mode="RECORD"')
    assert (spec.source, spec.append, spec.mode) == ("10.0.0.1", True, "RECORD")
    assert spec.serialize() == "RTP/AVP;unicast;source=10.0.0.1;append;mode=RECORD"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("RTP", "Transport: invalid transport-spec 'RTP'"),
        ("RTP/AVP;client_port=a-b", "Transport: invalid client_port 'a-b'"),
        ("RTP/AVP;client_port=70000-70001", "Transport: client_port '70000-70001' is above 65535"),
        ("RTP/AVP/TCP;interleaved=256-257", "Transport: interleaved '256-257' is above 255"),
        ("RTP/AVP;ssrc=XYZ", "Transport: invalid ssrc 'XYZ'"),
        ("RTP/AVP;ssrc=99999999999", "Transport: invalid ssrc '99999999999'"),
        ("RTP/AVP;ttl=300", "Transport: invalid ttl '300'"),
        ("", "Transport: no transport-spec"),
    ],
)
def test_errors(value, message) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        Transport.parse(value)


ports = st.builds(PortRange, st.integers(0, 65535), st.one_of(st.none(), st.integers(0, 65535)))
channels = st.builds(PortRange, st.integers(0, 255), st.one_of(st.none(), st.integers(0, 255)))
specs = st.builds(
    TransportSpec,
    lower_transport=st.sampled_from([None, "UDP", "TCP"]),
    delivery=st.sampled_from([None, "unicast", "multicast"]),
    destination=st.one_of(st.none(), st.just("224.2.0.1")),
    interleaved=st.one_of(st.none(), channels),
    append=st.booleans(),
    ttl=st.one_of(st.none(), st.integers(0, 255)),
    client_port=st.one_of(st.none(), ports),
    server_port=st.one_of(st.none(), ports),
    ssrc=st.one_of(st.none(), st.integers(0, 0xFFFFFFFF)),
    mode=st.sampled_from([None, "PLAY", "RECORD"]),
)


@settings(max_examples=200)
@given(st.lists(specs, min_size=1, max_size=3))
def test_round_trip(spec_list) -> None:
    transport = Transport(tuple(spec_list))
    assert Transport.parse(transport.serialize()) == transport


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_any_text_parses_or_raises_the_documented_error(text) -> None:
    with contextlib.suppress(RemoteProtocolError):
        Transport.parse(text)
