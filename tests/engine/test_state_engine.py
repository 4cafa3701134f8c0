"""The Rust state codec (engine/src/state/, ``streams._engine.state_roundtrip`` and ``state_scope``) against
the changelog's codec it reproduces, ``streams.shells.worker.statecodec.encode_value`` / ``decode_value``
(msgspec 0.23). Every comparison is of bytes: for any value, ``state_roundtrip(raw)`` is
``encode_value(decode_value(raw))``, and it raises ValueError exactly where ``decode_value`` raises.

Three kinds of input: (1) the real states a replay leaves, and takes on its way (every 500 events), on
simulated days (seeded, in order and shuffled), the bundled fixture day, the sample events and a
distributed registration flood; (2) seeded random instances of every state type built from the schema's
own annotations, with edge values (int encoding boundaries to 2**64-1 and -2**63, -0.0, NaN, infinities,
subnormals, astral-plane text, the str/array/map length classes, default-equal values, None), asserted
to have set every field of every type; (3) refusals (another tag, junk, truncation, a wrong type) and
mutants of real values (bytes flipped, inserted, deleted): where ``decode_value`` takes one, the port
gives its re-encoding; where it refuses, the port refuses. The codec is not wired in yet."""

from __future__ import annotations

import math
import random
import re
import struct
import subprocess
import sys
import typing
from datetime import datetime, timezone
from pathlib import Path

import msgspec
import pytest

from streams.shells.worker.statecodec import decode_value, encode_value
from streams.state import schema
from streams.state.schema import STATE_TYPES, ExtState, IpState, StateVersionError, TenantState, TrunkState
from streams.state.timeset import Intervals, TimeSet
from streams.state.valuewindow import ValueWindow

_engine = pytest.importorskip("streams._engine")

ROOT = Path(__file__).resolve().parents[2]
KEY_STATES = (IpState, ExtState, TrunkState, TenantState)
SNAPSHOT_EVERY = 500


# -- (1) real states --------------------------------------------------------------------------------------

def _replay(lines: list[bytes], policy: Path | None) -> list[bytes]:
    """Every key's encoded state at the end of a replay of ``lines``, and every ``SNAPSHOT_EVERY`` events on
    the way (deduplicated)."""
    from streams.core.detector import Detector
    from streams.intake import read_events
    from streams.policy import Policy
    from streams.shells.replay import run

    det = Detector(Policy.load(str(policy)) if policy else Policy.default())
    seen: dict[bytes, None] = {}

    def snapshot() -> None:
        for _, st in det.state.items():
            seen.setdefault(encode_value(st))

    def events(it):
        for i, ev in enumerate(it):
            if i and i % SNAPSHOT_EVERY == 0:
                snapshot()
            yield ev

    tmp = _TMP / f"in-{len(_SOURCES_DONE)}.jsonl"
    _SOURCES_DONE.append(tmp)
    tmp.write_bytes(b"".join(lines))
    run(events(read_events([str(tmp)])), det, lambda rec: None, lambda rec: None)
    snapshot()
    return list(seen)


_TMP: Path
_SOURCES_DONE: list[Path] = []


def _lines(path: Path) -> list[bytes]:
    return [ln if ln.endswith(b"\n") else ln + b"\n" for ln in path.read_bytes().splitlines() if ln.strip()]


@pytest.fixture(scope="module")
def real_values(tmp_path_factory) -> dict[str, list[bytes]]:
    global _TMP
    _TMP = tmp_path_factory.mktemp("state")
    from streams.commands.simulate import simulate

    out: dict[str, list[bytes]] = {}
    for seed in (3, 11):
        d = _TMP / f"sim{seed}"
        d.mkdir()
        simulate(1, seed, d, tenants=2)
        lines = _lines(d / "events.jsonl")
        out[f"sim seed {seed}"] = _replay(lines, d / "policy.yaml")
        if seed == 3:
            random.Random(seed).shuffle(lines)
            out[f"sim seed {seed} shuffled"] = _replay(lines, d / "policy.yaml")
    out["fixtures/sim-day"] = _replay(_lines(ROOT / "fixtures/sim-day/events.jsonl"), ROOT / "fixtures/sim-day/policy.yaml")
    out["fixtures/sample-events"] = _replay(_lines(ROOT / "fixtures/sample-events.jsonl"), None)
    flood = _TMP / "flood.jsonl"
    subprocess.run([sys.executable, str(ROOT / "bench/gen_campaign_flood.py"), "3000", str(flood)], check=True)
    out["flood 3000"] = _replay(_lines(flood), ROOT / "fixtures/policy.example.yaml")
    return out


def test_real_states_round_trip_byte_for_byte(real_values):
    scopes: dict[str, int] = {}
    for source, values in real_values.items():
        assert values, source
        for raw in values:
            assert _engine.state_roundtrip(raw) == raw, (source, raw)
            scope = _engine.state_scope(raw)
            assert type(decode_value(raw)) is STATE_TYPES[scope]
            scopes[scope] = scopes.get(scope, 0) + 1
    assert set(scopes) == set(STATE_TYPES), scopes  # every scope was met


def test_real_states_fill_most_slots(real_values):
    """The replays are not the only coverage (the generator below sets every field), but they should reach
    the slots the simulated attacks exercise."""
    filled: set[tuple[str, str]] = set()
    for values in real_values.values():
        for raw in values:
            st = decode_value(raw)
            for f in msgspec.structs.fields(st):
                if getattr(st, f.name) not in (None, {}, []):
                    filled.add((type(st).__name__, f.name))
    assert len(filled) >= 25, sorted(filled)


# -- (2) every field ---------------------------------------------------------------------------------------

INTS = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**64 - 1,
        -1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1, -2**63]
SUBNORMAL = 2.2250738585072014e-308 / 3
FLOATS = [0.0, -0.0, math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, SUBNORMAL, 1.5, 1.7e9 + 0.123,
          struct.unpack(">d", bytes.fromhex("7ff8000000000123"))[0], 3.0]
STRS = ["", "a", "é", "𝄞", "x𝄞y\u200b", "\x00\x7f", "a" * 31, "b" * 32, "c" * 255, "d" * 256, "ip|rule|1", "日本"]


class Gen:
    """Random values of the schema's types, recording which (Struct, field) it set to something other
    than the default."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.set: set[tuple[str, str]] = set()

    def length(self) -> int:
        r = self.rng.random()
        return 0 if r < 0.2 else 1 if r < 0.5 else 16 if r < 0.55 else self.rng.randint(2, 5)

    def int_(self) -> int:
        r = self.rng.random()
        if r < 0.5:
            return self.rng.choice(INTS)
        return self.rng.randint(-2**63, 2**64 - 1) if r < 0.7 else self.rng.randint(-40, 300)

    def float_(self) -> float:
        r = self.rng.random()
        if r < 0.5:
            return self.rng.choice(FLOATS)
        if r < 0.7:
            return struct.unpack(">d", self.rng.getrandbits(64).to_bytes(8, "big"))[0]
        return self.rng.uniform(-1e10, 1e10)

    def str_(self) -> str:
        if self.rng.random() < 0.6:
            return self.rng.choice(STRS)
        cps = [self.rng.choice([self.rng.randint(0x20, 0x7e), self.rng.randint(0xa0, 0xd7ff),
                                self.rng.randint(0x10000, 0x10ffff)]) for _ in range(self.rng.randint(1, 8))]
        return "".join(map(chr, cps))

    def any_(self, depth: int = 0, key: bool = False):
        kinds = ["none", "bool", "int", "float", "str", "bytes", "time"] + ([] if depth > 2 else ["list"] + ([] if key else ["dict", "ext"]))
        k = self.rng.choice(kinds)
        if k == "none":
            return None
        if k == "bool":
            return self.rng.random() < 0.5
        if k == "int":
            return self.int_()
        if k == "float":
            return self.float_()
        if k == "str":
            return self.str_()
        if k == "bytes":
            return self.rng.randbytes(self.rng.choice([0, 1, 5, 300]))
        if k == "time":
            ts = self.rng.choice([0, 1, 2**32, 2**34, -1, 1.7e9, 253402300799])
            return datetime.fromtimestamp(ts, timezone.utc).replace(microsecond=self.rng.choice([0, 1, 999999]))
        if k == "ext":
            return msgspec.msgpack.Ext(self.rng.randint(0, 127), self.rng.randbytes(self.rng.choice([0, 1, 2, 3, 4, 8, 16, 17, 300])))
        if k == "list":
            items = [self.any_(depth + 1, key) for _ in range(self.length())]
            return tuple(items) if key else items
        return {self.any_(depth + 1, True): self.any_(depth + 1) for _ in range(self.length())}

    def of(self, tp, where: tuple[str, str]):
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if tp is float:
            return self.float_()
        if tp is int:
            if where == ("TimeSet", "ids"):  # identities: 0 to 2**64-1 (negative ones are refused, below)
                return abs(self.int_()) % 2**64
            return self.int_()
        if tp is str:
            return self.str_()
        if tp is bool:
            return self.rng.random() < 0.5
        if tp is list:
            return [self.any_() for _ in range(self.length())]
        if origin is typing.Union:
            inner = [a for a in args if a is not type(None)][0]
            return None if self.rng.random() < 0.2 else self.of(inner, where)
        if origin is list:
            return [self.of(args[0], where) for _ in range(self.length())]
        if origin is dict:
            return {self.of(args[0], where): self.of(args[1], where) for _ in range(self.length())}
        if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
            return self.struct(tp)
        raise AssertionError(f"no generator for {tp!r} at {where}")

    def struct(self, cls):
        hints = typing.get_type_hints(cls, vars(schema) | HINTS)
        kwargs = {}
        for f in msgspec.structs.fields(cls):
            if f.required or self.rng.random() < 0.6:
                kwargs[f.name] = v = self.of(hints[f.name], (cls.__name__, f.name))
                default = f.default_factory() if f.default_factory is not msgspec.NODEFAULT else f.default
                if f.required or v is not default and v != default or (isinstance(v, float) and v is not default):
                    self.set.add((cls.__name__, f.name))
        return cls(**kwargs)


HINTS = {"TimeSet": TimeSet, "Intervals": Intervals, "ValueWindow": ValueWindow, "Annotated": typing.Annotated,
         "msgspec": msgspec}  # what the windows' annotations name (streams/state/timeset.py)

def _all_fields() -> set[tuple[str, str]]:
    todo, seen, out = list(KEY_STATES), set(), set()
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        hints = typing.get_type_hints(cls, vars(schema) | HINTS)
        for f in msgspec.structs.fields(cls):
            out.add((cls.__name__, f.name))
            stack = [hints[f.name]]
            while stack:
                t = stack.pop()
                stack.extend(typing.get_args(t))
                if isinstance(t, type) and issubclass(t, msgspec.Struct):
                    todo.append(t)
    return out


def test_every_field_of_every_type_round_trips():
    gen = Gen(29)
    cases = 0
    for i in range(600):
        cls = KEY_STATES[i % 4]
        st = gen.struct(cls)
        raw = encode_value(st)
        want = encode_value(decode_value(raw))
        assert _engine.state_roundtrip(raw) == want, (i, st)
        assert _engine.state_scope(raw) == cls.__name__.removesuffix("State").lower()
        cases += 1
    missing = _all_fields() - gen.set
    assert not missing, f"the generator never set {sorted(missing)}"
    assert len(_all_fields()) > 80


def test_generated_values_are_msgspecs_own_fixed_points():
    """What the generator builds encodes to bytes msgspec reads back to the same bytes (so the test above
    compares the port with msgspec on the bytes themselves), except where a Python-built value holds a
    float default object that a decoded one never does."""
    gen = Gen(7)
    for i in range(200):
        raw = encode_value(gen.struct(KEY_STATES[i % 4]))
        assert _engine.state_roundtrip(raw) == encode_value(decode_value(raw))


def test_defaults_are_written_as_msgspec_writes_them():
    # a float read as 0.0 is written (msgspec compares defaults by identity); a lambda's or a Struct's
    # default is always written; -0.0 and [-0.0, 0.0] are not the defaults' objects either
    for st in [ExtState(), ExtState(anomaly=schema.Features()), ExtState(anomaly=schema.Features(mx=-0.0, s1=[-0.0, 0.0])),
               TrunkState(), TenantState(wangiri_inbound={"a": schema.OneRing()}, route_scan={"b": schema.ScanTarget()}),
               ExtState(spend_limit={"a": schema.SpendWindow(size=0.0 + 0.0, total=-0.0)})]:
        raw = encode_value(st)
        assert _engine.state_roundtrip(raw) == raw
    loose = msgspec.msgpack.encode({"type": "ext/5", "spend_limit": {"a": {"size": 0.0, "total": 0}}, "anomaly": {"mx": 0}})
    assert _engine.state_roundtrip(loose) == encode_value(decode_value(loose)) != loose


# -- (3) refusals and mutants ------------------------------------------------------------------------------

def _refused(raw: bytes) -> tuple[bool, bool]:
    try:
        got = decode_value(raw)
        py = not isinstance(got, KEY_STATES)  # a partition's record: not a key's state
    except StateVersionError:
        py = True
    try:
        _engine.state_roundtrip(raw)
        rust = False
    except ValueError:
        rust = True
    return py, rust


@pytest.mark.parametrize("raw, named", [
    (msgspec.msgpack.encode({"type": "ext/4", "calls": {}}), "schema 'ext/4'"),
    (msgspec.msgpack.encode({"type": "ip/6"}), "schema 'ip/6'"),
    (msgspec.msgpack.encode({"type": "ip/4", "last": 1.0}), "schema 'ip/4'"),
    (msgspec.msgpack.encode({"last": 1.0}), "untagged"),
    (msgspec.msgpack.encode({"type": 5}), "schema 5"),
    # a tag is named as Python's repr names it: an unprintable character escaped, not written raw
    (msgspec.msgpack.encode({"type": "ext/\u2028\x85"}), re.escape("schema 'ext/\\u2028\\x85'")),
    (b"\xc1", "not a tollguard state record"),
    (b"junk bytes", "not a tollguard state record"),
    (b"", "not a tollguard state record"),
    (encode_value(ExtState(last=1.0, calls={"a": schema.Call(1.0)}))[:-3], "not a tollguard state record"),
    (encode_value(IpState(last=1.0)) + b"\x00", "trailing"),
    (msgspec.msgpack.encode({"type": "ip/5", "last": "1.0"}), "schema 'ip/5'"),
    (msgspec.msgpack.encode({"type": "ip/5", "last": True}), "schema 'ip/5'"),
    (msgspec.msgpack.encode({"type": "ext/5", "daily_calls": {"1": [[], []]}}), "schema 'ext/5'"),
    (msgspec.msgpack.encode({"type": "ext/5", "calls": {"a": []}}), "schema 'ext/5'"),
    (msgspec.msgpack.encode({"type": "ip/5", "seen": {"a": [1.0, None]}}), "schema 'ip/5'"),
    (msgspec.msgpack.encode({"type": "ip/5", "registration_locked": {"a": [1.5]}}), "schema 'ip/5'"),
    (msgspec.msgpack.encode({"type": "tenant/5", "wangiri_dialled": {"a": [[1.0, "x", "y"]]}}), "schema 'tenant/5'"),
    (msgspec.msgpack.encode({"type": "trunk/5", "pending": {"a": [{(1,): 1, 1: {}}]}})[:-3] + b"\x81\x80\x01", "schema"),
    (msgspec.msgpack.encode({"type": "ip/5"}) + b"", None),
])
def test_refusals(raw, named):
    py, rust = _refused(raw)
    assert py == rust, raw
    if named is None:
        assert not py
        return
    assert py
    with pytest.raises(ValueError, match=named):
        _engine.state_roundtrip(raw)
    with pytest.raises(ValueError):
        _engine.state_scope(raw)


def test_a_partitions_record_is_not_a_key_state():
    from streams.shells.worker.clock import ClockState
    raw = encode_value(ClockState())
    decode_value(raw)  # the worker reads it
    with pytest.raises(ValueError, match="not a key's state"):
        _engine.state_roundtrip(raw)


def _mutants(rng: random.Random, raw: bytes, n: int):
    interesting = [0x00, 0x7f, 0x80, 0x90, 0xa0, 0xc0, 0xc1, 0xc2, 0xc3, 0xca, 0xcb, 0xcc, 0xcf, 0xd0, 0xd3, 0xd6,
                   0xd7, 0xc7, 0xd9, 0xdc, 0xde, 0xe0, 0xff, 0x01, 0x81, 0x91, 0xa1]
    for _ in range(n):
        b = bytearray(raw)
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            op = rng.random()
            i = rng.randrange(len(b) + 1)
            v = rng.choice(interesting) if rng.random() < 0.5 else rng.randrange(256)
            if op < 0.5 and i < len(b):
                b[i] = v
            elif op < 0.65 and i < len(b):
                b[i] ^= 1 << rng.randrange(8)
            elif op < 0.8:
                b.insert(i, v)
            elif i < len(b):
                del b[i]
            else:
                del b[rng.randrange(len(b)):]
        yield bytes(b)


def test_mutants_are_judged_as_msgspec_judges_them(real_values):
    rng = random.Random(28)
    pool = sorted({raw for values in real_values.values() for raw in values if len(raw) < 3000})
    by_scope: dict[str, list[bytes]] = {}
    for raw in pool:
        by_scope.setdefault(_engine.state_scope(raw), []).append(raw)
    picked = [raw for vals in by_scope.values() for raw in rng.sample(vals, min(25, len(vals)))]
    accepted = refused = 0
    for raw in picked:
        for mutant in _mutants(rng, raw, 200):
            try:
                got = decode_value(mutant)
            except StateVersionError:
                with pytest.raises(ValueError):
                    _engine.state_roundtrip(mutant)
                refused += 1
                continue
            assert isinstance(got, KEY_STATES), mutant
            assert _engine.state_roundtrip(mutant) == encode_value(got), mutant
            accepted += 1
    assert accepted > 500 and refused > 500, (accepted, refused)


@pytest.mark.parametrize("depth", [10, 500, 1100, 3000])
def test_nesting(depth):
    """An untyped item and an unknown field nested ``depth`` arrays deep: taken by both well under Python's
    recursion limit, refused by both past it (the port at msgspec's top-level limit, 997 open containers;
    the reference with a RecursionError)."""
    for pre in (b"\x82\xa4type\xa7trunk/5\xa7pending\x81\xa1a\x91", b"\x82\xa4type\xa4ip/5\xa1z"):
        raw = pre + b"\x91" * depth + b"\xc0"
        try:
            want = encode_value(decode_value(raw))
        except (StateVersionError, RecursionError):
            want = None
        if want is None:
            with pytest.raises(ValueError, match="recursion"):
                _engine.state_roundtrip(raw)
        else:
            assert _engine.state_roundtrip(raw) == want
        assert (want is None) == (depth > 990)


@pytest.mark.parametrize("n", [3, 16, 17, 60])
def test_repeated_keys_fold_as_a_python_dict(n):
    """msgspec reads a map into a dict: a key given again keeps its first place and takes the last value,
    in typed dicts (str and int keys) and untyped ones (``1``, ``1.0`` and ``True`` one key)."""
    rng = random.Random(n)
    m = msgspec.msgpack.encode
    for field, key in [("accounts", lambda i: f"k{i}"), ("route_scan", lambda i: f"+{i}")]:
        keys = [key(rng.randrange(n)) for _ in range(n + 5)]
        body = b"".join(m(k) + (m(float(i)) if field == "accounts" else m({"forms": {"f": float(i)}})) for i, k in enumerate(keys))
        raw = b"\x82" + m("type") + m("tenant/5") + m(field) + b"\xde" + len(keys).to_bytes(2, "big") + body
        assert _engine.state_roundtrip(raw) == encode_value(decode_value(raw))
    ints = [rng.choice([1, 2, 3, 2**64 - 1, -2**63]) for _ in range(n + 5)]
    body = b"".join(m(k) + m(str(i)) for i, k in enumerate(ints))
    raw = b"\x82" + m("type") + m("ip/5") + m("registration_accounts") + b"\xde" + len(ints).to_bytes(2, "big") + body
    assert _engine.state_roundtrip(raw) == encode_value(decode_value(raw))
    anys = [rng.choice([1, 1.0, True, 0, False, -0.0, "1", b"1", (1,), (1.0,), None, math.nan]) for _ in range(n + 5)]
    body = b"".join(m(k) + m(i) for i, k in enumerate(anys))
    raw = (b"\x82" + m("type") + m("trunk/5") + m("pending") + b"\x81" + m("a") + b"\x91"
           + b"\xde" + len(anys).to_bytes(2, "big") + body)
    assert _engine.state_roundtrip(raw) == encode_value(decode_value(raw))


def test_a_window_id_out_of_range_is_refused_by_both():
    """A window's ids are identities: 0 to 2**64-1 (``TimeSet.ids``), which the engine holds as u64; a changelog
    value with a negative one is refused by both, with the path to it."""
    from streams.state import IpState

    for ids, ok in (([0, 2**64 - 1], True), ([-1], False), ([5, -2**63], False)):
        raw = encode_value(IpState(login_lockout=TimeSet([1.0] * len(ids), ids)))
        assert _refused(raw) == (not ok, not ok), ids
        if not ok:
            with pytest.raises(ValueError, match=r"Expected `int` >= 0 - at `\$.login_lockout\[1\]"):
                decode_value(raw)
