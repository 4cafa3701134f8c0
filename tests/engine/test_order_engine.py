"""The Rust port of the canonical event-time order (engine/src/order.rs, ``streams._engine.Sequencer`` and
``order_events``) against its reference, ``streams/core/ordering.py``. Not wired in yet.

(a) Real orders: the records of ``fixtures/sample-events.jsonl``, ``fixtures/sim-day`` and a small
simulated day (three tenants), each as read, shuffled (seeded) and reversed, with the lateness 0, 60
and ``LATENESS``: ``order_events`` of the keys ``ordered_records`` builds gives exactly the order and
late flags ``ordered_records`` yields; and a ``Sequencer`` driven as ``in_event_time_order`` drives
it returns the same thing at every release.

(b) Seeded random sequences of push, release, drain and lateness changes over a few tenants with
repeated times, -0.0 beside 0.0, NaN (fresh objects and one object pushed again and again), +-inf,
equal and prefix order bytes, watermarks going backwards and NaN watermarks: every return value and
``late``, ``frontier``, ``len`` and ``tenants`` after each step; and random key lists through
``order_events`` and ``in_event_time_order`` (the KeyError of a first time that is NaN or -inf too).

``TOLLGUARD_ORDER_SEQUENCES`` sets the number of random sequences (3,000 by default; 100,000 were run once).
"""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import pytest

from streams.core.ordering import LATENESS, Sequencer, in_event_time_order, ordered_records
from streams.domain.events import event_time
from streams.intake import decoded

_engine = pytest.importorskip("streams._engine")

ROOT = Path(__file__).resolve().parents[2]
SEQUENCES = int(os.environ.get("TOLLGUARD_ORDER_SEQUENCES", "3000"))
LATENESSES = (0.0, 60.0, LATENESS)


def _records(path: Path, lines: list[bytes]) -> list[tuple]:
    return list(decoded((str(path), n, raw, None) for n, raw in enumerate(lines, 1)))


def _lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, list[bytes]]:
    from streams.commands.simulate import simulate

    d = tmp_path_factory.mktemp("order")
    simulate(1, 5, d, tenants=3, extensions=20)
    out = {}
    for name, path in [("sample-events", ROOT / "fixtures/sample-events.jsonl"),
                       ("sim-day", ROOT / "fixtures/sim-day/events.jsonl"),
                       ("simulated", d / "events.jsonl")]:
        lines = _lines(path)
        assert len(lines) > 300
        out[name] = lines
        shuffled = list(lines)
        random.Random(len(lines)).shuffle(shuffled)
        out[f"{name} shuffled"] = shuffled
        out[f"{name} reversed"] = lines[::-1]
    return out


def _keys(records):
    """Each record's key as ``ordered_records`` builds it."""
    return [None if rec[3] is None else (rec[3].tenant, event_time(rec[3]), rec[2]) for rec in records]


@pytest.mark.parametrize("lateness", LATENESSES)
def test_the_real_orders_are_the_reference_orders(inputs, lateness):
    for name, lines in inputs.items():
        records = _records(Path(name), lines)
        at = {id(rec): i for i, rec in enumerate(records)}
        want = [(at[id(rec)], late) for rec, late in ordered_records(iter(records), lateness)]
        got = _engine.order_events(_keys(records), lateness)
        assert len(want) == len(records)
        assert got == want, name
        if lateness == 0.0 and "shuffled" in name:
            assert any(late for _, late in want)  # the late path is taken on real data too


def test_the_sequencer_driven_as_replay_drives_it(inputs):
    """Push and release record by record, as ``in_event_time_order`` does, on both; compare every call."""
    for name in ("sim-day shuffled", "simulated shuffled", "sample-events reversed"):
        records = _records(Path(name), inputs[name])
        ref, rs = Sequencer(60.0), _engine.Sequencer(60.0)
        latest: dict[str, float] = {}
        for i, key in enumerate(_keys(records)):
            if key is None:
                continue
            tenant, ts, order = key
            latest[tenant] = max(ts, latest.get(tenant, -math.inf))
            assert rs.push(tenant, ts, order, i) == ref.push(tenant, ts, order, i)
            assert rs.release(tenant, latest[tenant]) == ref.release(tenant, latest[tenant])
            assert len(rs) == len(ref)
        assert rs.late == ref.late > 0
        assert list(rs.frontier.items()) == list(ref.frontier.items())
        assert rs.tenants() == ref.tenants()
        assert rs.drain() == list(ref.drain())
        assert len(rs) == 0


# ---------------------------------------------------------------------------------- random sequences

SHARED_NAN = float("nan")  # one object pushed again and again: Python's tuple == is true for it by identity
TENANTS = ["a", "b", "c", "ü"]
ORDERS = [b"", b"a", b"ab", b"abc", b"b", b"\x00", b"a\x00", b"\xff", b"ab\xff"]


def _time(rng: random.Random) -> float:
    r = rng.random()
    if r < 0.55:
        return float(rng.randrange(8))  # few distinct times: many equal ones
    if r < 0.65:
        return rng.choice([0.0, -0.0])
    if r < 0.72:
        return float("nan")  # a NaN object of its own
    if r < 0.80:
        return SHARED_NAN
    if r < 0.88:
        return rng.choice([math.inf, -math.inf])
    return rng.uniform(-2.0, 10.0)


def _watermark(rng: random.Random) -> float:
    r = rng.random()
    if r < 0.7:
        return float(rng.randrange(-2, 12))  # goes backwards as often as forwards
    return rng.choice([math.nan, math.inf, -math.inf, -0.0, 0.5, 1e300])


def _lateness(rng: random.Random) -> float:
    return rng.choice([0.0, 0.0, -0.0, 1.0, 2.5, 60.0, -1.0, math.inf, -math.inf, math.nan])


def _state(s) -> str:
    return repr((s.late, list(s.frontier.items()), len(s), list(s.tenants())))


def _sequence(seed: int) -> None:
    rng = random.Random(seed)
    lateness = _lateness(rng)
    ref, rs = Sequencer(lateness), _engine.Sequencer(lateness)
    for step in range(rng.randrange(1, 60)):
        op = rng.random()
        where = f"seed {seed} step {step}"
        if op < 0.6:
            tenant, ts, order = rng.choice(TENANTS[: rng.randrange(1, 5)]), _time(rng), rng.choice(ORDERS)
            item = f"i{step}"
            assert rs.push(tenant, ts, order, item) is ref.push(tenant, ts, order, item), where
        elif op < 0.92:
            tenant, wm = rng.choice(TENANTS + ["nobody"]), _watermark(rng)
            assert repr(rs.release(tenant, wm)) == repr(ref.release(tenant, wm)), where
        elif op < 0.97:
            assert repr(rs.drain()) == repr(list(ref.drain())), where
        else:
            ref.lateness = rs.lateness = _lateness(rng)
        assert _state(rs) == _state(ref), where
    assert repr(rs.drain()) == repr(list(ref.drain()))
    assert _state(rs) == _state(ref)


def test_random_sequences_give_every_return_value_and_state_of_the_reference():
    for seed in range(SEQUENCES):
        _sequence(seed)


def _random_keys(rng: random.Random) -> list:
    keys = []
    for _ in range(rng.randrange(0, 50)):
        if rng.random() < 0.1:
            keys.append(None)
        else:
            ts = _time(rng) if rng.random() < 0.3 else float(rng.randrange(20))
            keys.append((rng.choice(TENANTS[:3]), ts, rng.choice(ORDERS)))
    return keys


def _reference_order(keys, lateness):
    try:
        return list(in_event_time_order(range(len(keys)), lateness, lambda i: keys[i]))
    except KeyError as e:
        return e


def test_random_key_lists_are_released_in_the_reference_order():
    errors = 0
    for seed in range(SEQUENCES):
        rng = random.Random(seed)
        keys, lateness = _random_keys(rng), _lateness(rng)
        want = _reference_order(keys, lateness)
        if isinstance(want, KeyError):
            errors += 1
            with pytest.raises(KeyError) as got:
                _engine.order_events(keys, lateness)
            assert got.value.args == want.args, seed
        else:
            assert _engine.order_events(keys, lateness) == want, seed
    assert 0 < errors < SEQUENCES // 2


def test_bad_keys_are_refused():
    with pytest.raises(TypeError):
        _engine.order_events([("t", 1.0)], 0.0)
    with pytest.raises(TypeError):
        _engine.order_events([("t", 1.0, "not bytes")], 0.0)
    with pytest.raises(TypeError):
        _engine.Sequencer().push("t", 1.0, "not bytes", None)


def test_the_binding_takes_exact_floats_and_strs_and_lets_the_collector_see_its_items():
    # (a second read's findings) an int time compared as its float is not the reference's order past
    # 2**53, and a str subclass's __hash__ or a __float__ could call back into a borrowed sequencer: refused
    import gc
    import weakref

    s = _engine.Sequencer(0.0)
    sub = type("S", (str,), {})("t")
    for tenant, ts in (("t", 2**53 + 1), ("t", True), (sub, 1.0)):
        with pytest.raises(TypeError):
            s.push(tenant, ts, b"", None)
    with pytest.raises(TypeError):
        s.release(sub, 1.0)
    with pytest.raises(TypeError):
        _engine.order_events([("t", 1, b"")], 0.0)
    assert len(s) == 0 and s.late == 0

    class Item:
        pass

    item = Item()
    item.seq = _engine.Sequencer(0.0)  # a cycle: the sequencer holds the item that holds it
    item.seq.push("t", 1.0, b"", item)
    alive = weakref.ref(item)
    del item
    gc.collect()
    assert alive() is None
