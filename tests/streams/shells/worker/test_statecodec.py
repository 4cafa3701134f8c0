"""Changelog values: the declared state round-trips; anything else is refused with what it was."""
import msgspec
import pytest

from streams.state import VERSION, ExtState, StateVersionError, TimeSet
from streams.shells.worker.clock import ClockState, SourceMark
from streams.shells.worker.statecodec import decode_value, encode_value


def test_state_and_clock_round_trip():
    st = ExtState(call_frequency=TimeSet(t=[1.0, 2.0], ids=[7, 8]))
    assert decode_value(encode_value(st)) == st
    ck = ClockState(sources={"cdr:0": SourceMark(wm=5.0, tenants={"a": [5.0, 0.0]}, pace=5.0)}, expected=["cdr:0"])
    assert decode_value(encode_value(ck)) == ck


def test_a_value_written_before_the_schema_is_refused_clearly():
    old = msgspec.msgpack.encode({"cf": [1.0, 2.0], "_src": {"p.cdr|0": 5}})  # version 0: a dict of short keys
    with pytest.raises(StateVersionError, match="untagged map .* before state schema version 1"):
        decode_value(old)


@pytest.mark.parametrize("version", [VERSION - 1, VERSION + 1])
def test_another_schema_version_is_refused_with_its_name(version):
    """Version 1 windows hold identities without the proof bit (issue 25.2): read as version 2 they
    would count a redelivered failure twice and take about half of them for proven, by chance."""
    other = msgspec.msgpack.encode({"type": f"ext/{version}", "calls": {}})
    with pytest.raises(StateVersionError, match=f"schema 'ext/{version}'"):
        decode_value(other)
