"""The Rust port of the anomaly model's features (engine/src/features.rs, ``streams._engine.features_update``)
against the Python it reproduces, ``models.features.ExtensionFeatures.update``. Every comparison is exact:
the feature vector bit for bit (so a NaN, a ``-0.0``, an infinity must be the same float), the state after the
call as ``msgspec.msgpack.encode`` writes it, byte for byte, or the same exception.

Two kinds of input: (1) replays, with the shipped model, of simulated days (several seeds, one also
shuffled) and the bundled fixture day, in which every call the anomaly rule learns goes through both (the
reference wrapped where the rule looks it up), each from the state as it stood before the call; and the decay
factor of every gap between two calls met there checked against ``math.exp`` on its own; (2) seeded random
``CallFacts`` sequences with edge values (zero, negative, huge, infinite and NaN talk times and costs; calls
at the same instant, out of time order, decades apart; hundreds of distinct destinations, past ``seen``'s and
``recent``'s bounds; new countries, empty and missing ones; non-ASCII numbers) applied step by step to fresh
states, to random states and to the real states of (1), each side carrying its own state from step to step.
The port is not wired into the detector yet."""

from __future__ import annotations

import dataclasses
import math
import random
import struct
from pathlib import Path

import msgspec
import pytest

from models.features import H1, H24, MAX_RECENT_DST, MAX_SEEN, CallFacts, ExtensionFeatures
from streams.state.schema import Features

_engine = pytest.importorskip("streams._engine")

ROOT = Path(__file__).resolve().parents[2]
SEEDS = (3, 11, 23, 42)
SEQUENCES = 400
STEPS = 30


def bits(vec: list[float]) -> list[bytes]:
    """The vector as its floats' bytes: equal only when bit for bit equal (a NaN equals a NaN of the same bits)."""
    return [struct.pack("<d", x) for x in vec]


def rust(raw: bytes, c: CallFacts):
    """The port's (state bytes, vector), or the exception it raised as (type, message)."""
    try:
        return _engine.features_update(raw, dataclasses.astuple(c))
    except Exception as e:  # noqa: BLE001 - compared with the reference's
        return type(e), str(e)


def python(st: Features, c: CallFacts):
    """The reference's (state bytes, vector) after the call, with ``st`` updated, or its exception."""
    try:
        vec = ExtensionFeatures.update(st, c)
    except Exception as e:  # noqa: BLE001
        return type(e), str(e)
    return msgspec.msgpack.encode(st), vec


def same(got, want) -> bool:
    if isinstance(want[0], type):
        return got == want
    return not isinstance(got[0], type) and got[0] == want[0] and bits(got[1]) == bits(want[1])


# -- (1) the calls of replayed days ------------------------------------------------------------------------------

class Recorder:
    """Wraps ``ExtensionFeatures.update``: each call also runs the port from the state before it."""

    def __init__(self, update):
        self.update = update
        self.calls = 0
        self.states: list[bytes] = []     # every 7th state before a call (the random steps start from them)
        self.facts: list[CallFacts] = []
        self.gaps: set[float] = set()     # every dt > 0 between a state's last call and the next
        self.wrong: list = []

    def __call__(self, st, c):
        before = msgspec.msgpack.encode(st)
        if st.t is not None and max(0.0, c.ts - st.t) > 0:
            self.gaps.add(c.ts - st.t)
        got = rust(before, c)
        vec = self.update(st, c)
        want = (msgspec.msgpack.encode(st), vec)
        if not same(got, want) and len(self.wrong) < 5:
            self.wrong.append((before, c, got, want))
        self.calls += 1
        if self.calls % 7 == 0:
            self.states.append(before)
        self.facts.append(c)
        return vec


def _lines(path: Path) -> list[bytes]:
    return [ln + b"\n" for ln in path.read_bytes().splitlines() if ln.strip()]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> Recorder:
    from models.loading import default_model
    from models.score import Scorer
    from streams.commands.simulate import simulate
    from streams.policy import Policy
    from streams.shells.replay import replay_file

    tmp = tmp_path_factory.mktemp("features")
    scorer = Scorer.load(default_model())
    rec = Recorder(ExtensionFeatures.update)
    days: list[tuple[Path, Path]] = []
    for seed in SEEDS:
        d = tmp / f"sim{seed}"
        d.mkdir()
        simulate(1, seed, d, tenants=2)
        days.append((d / "events.jsonl", d / "policy.yaml"))
        if seed == SEEDS[0]:
            lines = _lines(d / "events.jsonl")
            random.Random(seed).shuffle(lines)
            (d / "shuffled.jsonl").write_bytes(b"".join(lines))
            days.append((d / "shuffled.jsonl", d / "policy.yaml"))
    days.append((ROOT / "fixtures/sim-day/events.jsonl", ROOT / "fixtures/sim-day/policy.yaml"))
    mp = pytest.MonkeyPatch()
    mp.setattr(ExtensionFeatures, "update", staticmethod(rec))
    try:
        for events, policy in days:
            replay_file([str(events)], Policy.load(policy), scorer=scorer)
    finally:
        mp.undo()
    return rec


def test_every_call_of_replayed_days_is_the_port_s(replayed):
    assert not replayed.wrong, replayed.wrong
    assert replayed.calls > 7_000, replayed.calls
    assert len({c.dst for c in replayed.facts}) > 500
    assert any(c.international for c in replayed.facts) and any(c.premium for c in replayed.facts)
    assert any(c.failed for c in replayed.facts) and any(c.offhours for c in replayed.facts)


def test_the_decay_factors_of_the_replayed_gaps_are_math_exp(replayed):
    """A state whose cost sum and longest talk are 1.0 shows exp(-dt/H1) and exp(-dt/H24) themselves in the
    vector (a cost and a talk time of 0.0 added to them change nothing): each gap met in the replays is checked
    against ``math.exp``, so the libm the port calls is CPython's on every decay the corpus takes."""
    assert len(replayed.gaps) > 5_000
    for dt in sorted(replayed.gaps):
        raw = msgspec.msgpack.encode(Features(t=0.0, s1=[0.0, 1.0], mx=1.0))
        _, vec = _engine.features_update(raw, (dt, "x", None, False, False, False, 0.0, 0.0, False))
        assert bits([vec[9], vec[8]]) == bits([math.exp(-dt / H1), math.exp(-dt / H24)]), dt


# -- (2) random sequences --------------------------------------------------------------------------------------

EDGE_FLOATS = (0.0, -0.0, 1e-9, 5e-324, 1e-300, 0.5, 1.0, 59.999, 3600.0, 86400.0, 1e15, 1e300, 1.7976931348623157e308,
               math.inf, -math.inf, math.nan, -1.0, -1e300)
COUNTRIES = [None, "", "GB", "DE", "US", "FR", "CU", "SO", "KP", "NR", "ÅX"] + [f"Z{i}" for i in range(40)]


def amount(rnd: random.Random) -> float:
    r = rnd.random()
    if r < 0.15:
        return rnd.choice(EDGE_FLOATS)
    if r < 0.3:
        return 0.0
    if r < 0.4:
        return struct.unpack("<d", struct.pack("<Q", rnd.getrandbits(64)))[0]
    return round(rnd.expovariate(1 / 120), rnd.choice((0, 2, 6)))


class Clock:
    """Call times: mostly forward by seconds to hours, sometimes the same instant, backwards, or a leap."""

    def __init__(self, rnd: random.Random, start: float):
        self.rnd, self.t = rnd, start

    def __call__(self) -> float:
        rnd = self.rnd
        r = rnd.random()
        if r < 0.1:
            return self.t                                    # the same instant
        if r < 0.2:
            return self.t - rnd.choice((1e-6, 1.0, 600.0, 90_000.0, rnd.uniform(0, 1e6)))  # out of order
        if r < 0.23:
            self.t += rnd.choice((1e9, 3e9, 86400.0 * 365))   # decades: the factors underflow
        elif r < 0.24:
            return rnd.choice((math.nan, math.inf, -math.inf, 0.0, -0.0, 1e300))
        elif r < 0.27:
            self.t += rnd.choice((1e-9, 5e-324, 1e-3))
        else:
            self.t += rnd.expovariate(1 / rnd.choice((30.0, 600.0, 7200.0)))
        return self.t


def facts_sequence(rnd: random.Random, n: int) -> list[CallFacts]:
    clock = Clock(rnd, rnd.choice((0.0, 1.7e9 + rnd.uniform(0, 1e8), rnd.uniform(-1e9, 7e9))))
    wide = rnd.random() < 0.3                                 # hundreds of destinations: past the bounds
    pool = [f"+{rnd.randint(1, 999)}{rnd.randrange(10**9):09d}" for _ in range(rnd.choice((1, 3, 20)))]
    pool += ["", "日本\U0001F600", "*67 011 44", "+44 20 7946 0000"]
    out = []
    for _ in range(n):
        dst = f"+1555{rnd.randrange(10**7):07d}" if wide or rnd.random() < 0.2 else rnd.choice(pool)
        out.append(CallFacts(
            ts=clock(), dst=dst, country=rnd.choice(COUNTRIES), international=rnd.random() < 0.4,
            premium=rnd.random() < 0.2, offhours=rnd.random() < 0.3, billsec=amount(rnd), cost=amount(rnd),
            failed=rnd.random() < 0.3))
    return out


def random_state(rnd: random.Random) -> Features:
    """A state no sequence of ordinary calls need leave: odd sums, more destinations than the bounds, NaN times."""
    f = Features()
    if rnd.random() < 0.8:
        f.t = rnd.choice((0.0, 1.7e9, rnd.uniform(-1e9, 1e10), math.nan, math.inf, -0.0))
    f.s1 = [amount(rnd) for _ in range(2)] + ([amount(rnd)] if rnd.random() < 0.05 else [])
    f.s24 = [amount(rnd) for _ in range(8)]
    if rnd.random() < 0.5:
        f.s24[0] = abs(f.s24[0])
    if rnd.random() < 0.7:
        f.mx = amount(rnd)
    n = rnd.choice((0, 5, 100, MAX_SEEN, MAX_SEEN + 30))
    f.seen = [rnd.choice((rnd.randrange(2**31), rnd.randrange(2**64) - 2**63)) for _ in range(n)]
    f.recent = {rnd.randrange(2**31): rnd.choice((f.t or 0.0, rnd.uniform(0, 2e9), math.nan, 1.0))
                for _ in range(rnd.choice((0, 10, MAX_RECENT_DST, MAX_RECENT_DST + 5, 200)))}
    f.countries = {c: rnd.uniform(0, 2e9) for c in rnd.sample(COUNTRIES[2:], rnd.randrange(0, 15))}
    if rnd.random() < 0.3:
        f.usual, f.spread = [amount(rnd) for _ in range(12)], [amount(rnd) for _ in range(12)]
        f.calls = [f"c{i}" for i in range(rnd.randrange(5))]
        f.held = [[1.0, 2.0, 3.0, 4.0]]
    return f


def warm_reference() -> None:
    """Make the reference's NaN bits the ones the port reproduces. CPython 3.11 adds and multiplies two floats in
    two places: the generic ``float_add``/``float_mul`` (gcc built them with the operands swapped: of two NaNs,
    the second's bits come out) and, once a code object is warm, the specialised ``BINARY_OP_ADD_FLOAT`` /
    ``MULTIPLY_FLOAT`` (the first's). A running detector's ``update`` is warm after its first calls; the port
    gives the warm reference's. Only NaN + NaN is concerned (a state holding a NaN, a NaN talk time or cost)."""
    st = Features()
    for i in range(64):
        ExtensionFeatures.update(st, CallFacts(1.0 + i, "+15550000000", "GB", False, False, False, 1.0, 0.5, False))


def test_the_warm_reference_keeps_the_first_nan_of_two():
    """The premise of ``warm_reference``, on the reference itself: if a CPython changes it, this says so."""
    warm_reference()
    neg, pos = struct.unpack("<d", struct.pack("<Q", 0xFFF8_0000_0000_0000))[0], math.nan
    st = Features(t=5.0, s1=[0.0, neg], s24=[0.0, 0.0, 0.0, 0.0, neg, 0.0, 0.0, 0.0])
    raw = msgspec.msgpack.encode(st)
    c = CallFacts(5.0, "x", None, False, False, False, pos, pos, False)
    want = python(st, c)
    assert bits([st.s1[1], st.s24[4]]) == bits([neg, neg])
    assert same(rust(raw, c), want)


def run_both(start: bytes, seq: list[CallFacts], where: str) -> int:
    """Apply ``seq`` to the state ``start`` on both sides, each carrying its own state; compare every step."""
    st = msgspec.msgpack.decode(start, type=Features)
    raw = start
    for i, c in enumerate(seq):
        want = python(st, c)
        got = rust(raw, c)
        assert same(got, want), (where, i, start, seq[: i + 1], got, want)
        if isinstance(want[0], type):
            return i + 1  # both raised: the reference's state is half updated, nothing to go on from
        raw = got[0]
    return len(seq)


def test_random_sequences_on_fresh_states():
    warm_reference()
    rnd = random.Random(2904)
    steps = sum(run_both(msgspec.msgpack.encode(Features()), facts_sequence(rnd, STEPS), f"fresh {k}")
                for k in range(SEQUENCES))
    assert steps == SEQUENCES * STEPS


def test_random_sequences_on_random_states():
    warm_reference()
    rnd = random.Random(2905)
    raised = 0
    for k in range(SEQUENCES):
        f = random_state(rnd)
        if k % 40 == 0:
            f.s24[0] = -1.0                   # no calls after the call: ZeroDivisionError
            f.t = None
        if k % 40 == 1:
            f.s1 = [0.0]                      # IndexError
        raised += run_both(msgspec.msgpack.encode(f), facts_sequence(rnd, STEPS), f"random {k}") < STEPS
    assert raised >= 2 * (SEQUENCES // 40)


def test_random_sequences_on_real_states(replayed):
    warm_reference()
    rnd = random.Random(2906)
    states = replayed.states
    assert len(states) > 500
    for k, raw in enumerate(rnd.sample(states, min(len(states), SEQUENCES))):
        run_both(raw, facts_sequence(rnd, STEPS // 2), f"real {k}")


def test_the_bounds_are_kept():
    """Past ``MAX_SEEN`` and ``MAX_RECENT_DST`` distinct destinations, in one long sequence."""
    warm_reference()
    c = [CallFacts(1e9 + i * (1 if i % 3 else -0.5), f"+1555{i:07d}", f"Z{i % 60}", i % 2 == 0, False, i % 5 == 0,
                   float(i % 90), 0.01 * i, i % 7 == 0) for i in range(MAX_SEEN + 200)]
    st = Features()
    raw = msgspec.msgpack.encode(st)
    assert run_both(raw, c, "bounds") == len(c)
    for x in c:
        ExtensionFeatures.update(st, x)
    assert len(st.seen) == MAX_SEEN and len(st.recent) == MAX_RECENT_DST


def test_the_binding_refuses_what_is_not_a_features_or_a_call():
    ok = dataclasses.astuple(CallFacts(1.0, "x", None, False, False, False, 0.0, 0.0, False))
    raw = msgspec.msgpack.encode(Features())
    assert _engine.features_update(raw, ok)[1] == ExtensionFeatures.update(Features(), CallFacts(*ok))
    for bad in (b"", b"\xc1", raw + b"\x00", msgspec.msgpack.encode({"s1": "no"}), msgspec.msgpack.encode([1])):
        with pytest.raises(ValueError):
            _engine.features_update(bad, ok)
        with pytest.raises(msgspec.DecodeError):
            msgspec.msgpack.decode(bad, type=Features)
    for bad in (ok[:8], (1,) + ok[1:], ok[:3] + (1,) + ok[4:], ok[:6] + (1,) + ok[7:]):
        with pytest.raises(TypeError):
            _engine.features_update(raw, bad)
