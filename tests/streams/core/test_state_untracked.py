"""Key state is plain data the garbage collector need not walk (issue 28.4): a flood of 30,000 sources holds
30,000 keys, and every full collection walked each key's records again. The state records are declared
``gc=False`` (they never hold a cycle); their lists and dicts are still tracked, so nothing leaks."""

import gc

import msgspec

from streams.core.detector import Detector
from streams.domain.events import decode_event, encode
from streams.state import STATE_TYPES
from streams.state.schema import KeyState
from tests.builders import policy, sec


def test_state_records_are_not_tracked_and_still_read_back():
    det = Detector(policy("allowed_country_ips: [GB]\n"))
    for i in range(300):
        det.feed(decode_event(encode(sec(t=i, ip=f"203.0.{i // 250}.{i % 250 + 1}", action="register",
                                         account=str(1000 + i % 7)))))
    held = [det.state.get(k) for k in list(det.state.keys())]
    assert len(held) > 300 and all(st is not None for st in held)
    for st in held:
        assert not gc.is_tracked(st)
        assert type(st) in STATE_TYPES.values()
        assert msgspec.msgpack.decode(msgspec.msgpack.encode(st), type=KeyState) == st  # the changelog's form
