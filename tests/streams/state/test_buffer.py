from streams.core.detector import Detector
from streams.domain.events import decode_event, encode
from streams.state import BufferedState
from streams.core.types import StateStore
from tests.builders import cdr


def test_buffered_writes_reach_the_store_only_on_flush():
    store = {"a": 1}
    b = BufferedState(store)
    b["a"] = 2
    b["c"] = 3
    del b["a"]
    assert store == {"a": 1} and "a" not in b and b.get("c") == 3 and sorted(b.keys()) == ["c"]
    assert b.flush() == 2 and store == {"c": 3}


def test_detector_on_buffered_state_matches_plain_dict():
    assert isinstance(BufferedState({}), StateStore)
    evs = [decode_event(encode(cdr(t=i * 0.1, dst=f"0207946000{i}"))) for i in range(8)]
    plain, buffered_store = Detector(), {}
    b = BufferedState(buffered_store)
    det = Detector(state=b)
    a1 = [r.alert_id for e in evs for r in plain.process(e)]
    a2 = []
    for e in evs:
        a2 += [r.alert_id for r in det.process(e)]
        b.flush()
    assert a1 == a2 and a1 and buffered_store == plain.state
