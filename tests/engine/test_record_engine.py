"""The engine's output records (engine/src/record.rs: ``streams._engine.alert_json``, ``action_json``,
``seen_json``) against msgspec's encoding of the Python structs they stand for (``Alert`` and ``Action`` of
``streams.domain.events``, ``Seen`` of ``streams.domain.incidents``; ``streams.domain.events.encode``).

(1) Every alert, action and detection of replays (two simulated days, one of them shuffled, the fixtures'
day and sample events, a 3,000-event distributed flood with the example policy) is written again by the
port from its fields: the same bytes. (2) Seeded random records: unicode with controls, quotes and
backslashes, evidence nested in lists, tuples and dicts with int keys, ints of any size, floats from raw
bits (NaN, infinities, ``-0.0``, subnormals), instants across the contract's years and on microsecond
halves. (3) What the port refuses: a set, bytes or a float key in the evidence (msgspec writes them; no rule
puts them there: TypeError), and a NaN instant (ValueError, as ``datetime.fromtimestamp`` refuses it)."""

from __future__ import annotations

import math
import random
import struct
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from streams.domain.events import Action, Alert, encode
from streams.domain.incidents import Seen

_engine = pytest.importorskip("streams._engine")

ROOT = Path(__file__).resolve().parents[2]
CASES = 3000


def port_alert(a: Alert, ts: float | None = None) -> bytes:
    return _engine.alert_json(a.alert_id, a.ts.timestamp() if ts is None else ts, a.tenant, a.rule, a.severity,
                              a.subject_type, a.subject, a.summary, a.evidence, a.mode)


def action_fields(a: Action, ts: float | None = None) -> tuple:
    return (a.action_id, a.ts.timestamp() if ts is None else ts, a.tenant, a.kind, a.target, a.duration_s, a.alert_id,
            a.reason, a.from_ip)


def port_seen(s: Seen) -> bytes:
    return _engine.seen_json(s.alert_id, s.ts, s.tenant, s.rule, s.severity, s.subject_type, s.subject, s.summary,
                             s.span, s.ident, s.call_id, s.cost, [action_fields(a) for a in s.actions], s.campaign,
                             s.source, s.account, s.country)


def same(rec) -> None:
    want = encode(rec)
    if isinstance(rec, Alert):
        got = port_alert(rec)
    elif isinstance(rec, Action):
        got = _engine.action_json(action_fields(rec))
    else:
        got = port_seen(rec)
    assert got == want, (got, want)


# --------------------------------------------------------------------------------- (1) replays

def _lines(path: Path) -> list[bytes]:
    return [ln + b"\n" for ln in path.read_bytes().splitlines() if ln.strip()]


def _replay(tmp: Path, name: str, lines: list[bytes], policy: Path | None) -> list:
    from streams.core.detector import Detector
    from streams.policy import Policy
    from streams.shells.replay import read_events, run

    src = tmp / f"{name}.jsonl"
    src.write_bytes(b"".join(lines))
    out: list = []
    det = Detector(Policy.load(policy) if policy else Policy.default())
    for name in ("feed", "finish", "flush"):  # the detections, before the incident fold takes them
        def both(*args, _original=getattr(det, name)):
            records = _original(*args)
            out.extend(r for r in records if isinstance(r, Seen))
            return records
        setattr(det, name, both)
    run(read_events([str(src)]), det, out.append, lambda rec: None)
    return [r for r in out if isinstance(r, (Alert, Action, Seen))]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> dict[str, list]:
    from streams.commands.simulate import simulate

    tmp = tmp_path_factory.mktemp("records")
    out = {}
    for seed in (3, 11):
        d = tmp / f"sim{seed}"
        d.mkdir()
        simulate(1, seed, d, tenants=2)
        lines = _lines(d / "events.jsonl")
        out[f"sim {seed}"] = _replay(tmp, f"sim{seed}", lines, d / "policy.yaml")
        if seed == 3:
            random.Random(seed).shuffle(lines)
            out["sim 3 shuffled"] = _replay(tmp, "sim3s", lines, d / "policy.yaml")
    out["sim-day"] = _replay(tmp, "simday", _lines(ROOT / "fixtures/sim-day/events.jsonl"), ROOT / "fixtures/sim-day/policy.yaml")
    out["sample"] = _replay(tmp, "sample", _lines(ROOT / "fixtures/sample-events.jsonl"), None)
    flood = tmp / "flood-in.jsonl"
    subprocess.run([sys.executable, str(ROOT / "bench/gen_campaign_flood.py"), "3000", str(flood)], check=True)
    out["flood"] = _replay(tmp, "flood", _lines(flood), ROOT / "fixtures/policy.example.yaml")
    return out


def test_every_record_of_the_replays(replayed):
    kinds = {Alert: 0, Action: 0, Seen: 0}
    for name, records in replayed.items():
        assert records, name
        for rec in records:
            same(rec)
            kinds[type(rec)] += 1
            for a in getattr(rec, "actions", ()):  # a detection's actions, as records of their own too
                same(a)
                kinds[Action] += 1
    assert all(n > 50 for n in kinds.values()), kinds
    seen = [r for records in replayed.values() for r in records if isinstance(r, Seen)]
    assert any(s.campaign for s in seen) and any(s.call_id for s in seen) and any(s.cost is not None for s in seen)
    assert any(a.from_ip for records in replayed.values() for r in records if isinstance(r, Seen) for a in r.actions)


# --------------------------------------------------------------------------------- (2) random records

ALPHABET = ["abcxyz019 .-_:@", '"\\/', "".join(map(chr, range(0x20))) + "\x7f\x85\u2028", "éß€日本\U0001F600\U0010FFFF"]


def text(rnd: random.Random) -> str:
    return "".join(rnd.choice(rnd.choice(ALPHABET)) for _ in range(rnd.randint(0, 12)))


def floating(rnd: random.Random) -> float:
    pick = rnd.random()
    if pick < 0.3:
        return struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))[0]
    if pick < 0.5:
        return rnd.choice([math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, 1e16, 1e15, 1e-5, 1e-4, 0.1, 1.5e300])
    return rnd.uniform(-1e6, 1e6)


def value(rnd: random.Random, depth: int = 0):
    pick = rnd.randrange(9 if depth < 3 else 6)
    if pick == 0:
        return None
    if pick == 1:
        return rnd.random() < 0.5
    if pick == 2:
        return rnd.choice([rnd.randint(-10, 10), rnd.getrandbits(rnd.randint(1, 200)) * rnd.choice([1, -1]), 2**64 - 1, -2**63])
    if pick == 3:
        return floating(rnd)
    if pick in (4, 5):
        return text(rnd)
    if pick == 6:
        return [value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]
    if pick == 7:
        return tuple(value(rnd, depth + 1) for _ in range(rnd.randint(0, 3)))
    return evidence(rnd, depth + 1)


def evidence(rnd: random.Random, depth: int = 0) -> dict:
    keys = [text(rnd) if rnd.random() < 0.8 else rnd.choice([rnd.randint(-5, 5), 2**70]) for _ in range(rnd.randint(0, 5))]
    return {k: value(rnd, depth) for k in keys}


def instant(rnd: random.Random) -> float:
    lo, hi = 31_536_000.0, 7_258_118_400.0
    if rnd.random() < 0.3:  # a microsecond half: fromtimestamp rounds it to even
        return math.floor(rnd.uniform(lo, hi)) + (rnd.randrange(10**6) + 0.5) / 1e6
    return rnd.uniform(lo, hi) if rnd.random() < 0.8 else float(rnd.randrange(int(lo), int(hi)))


def random_action(rnd: random.Random, ts: float) -> tuple[Action, float]:
    from streams.core.epochs import iso

    a = Action(action_id=text(rnd), ts=iso(ts), tenant=text(rnd), kind=rnd.choice(["block_ip", "lock_account"]),
               target=text(rnd), duration_s=rnd.choice([None, 0, 600, 2**40]), alert_id=text(rnd), reason=text(rnd),
               from_ip=rnd.choice([None, text(rnd)]))
    return a, ts


def test_random_records():
    from streams.core.epochs import iso

    rnd = random.Random(29)
    for _ in range(CASES):
        ts = instant(rnd)
        a = Alert(alert_id=text(rnd), ts=iso(ts), tenant=text(rnd), rule=text(rnd), severity="warning",
                  subject_type=text(rnd), subject=text(rnd), summary=text(rnd), evidence=evidence(rnd), mode="enforce")
        assert port_alert(a, ts) == encode(a), a
        act, t = random_action(rnd, instant(rnd))
        assert _engine.action_json(action_fields(act, t)) == encode(act), act
        acts = [random_action(rnd, instant(rnd)) for _ in range(rnd.randint(0, 3))]
        s = Seen(alert_id=text(rnd), ts=floating(rnd), tenant=text(rnd), rule=text(rnd), severity=text(rnd),
                 subject_type=text(rnd), subject=text(rnd), summary=text(rnd), span=floating(rnd),
                 ident=rnd.getrandbits(rnd.choice([1, 56, 64])), call_id=rnd.choice([None, text(rnd)]),
                 cost=rnd.choice([None, floating(rnd)]), actions=[x for x, _ in acts],
                 campaign=rnd.choice([None, text(rnd)]), source=rnd.choice([None, text(rnd)]),
                 account=rnd.choice([None, text(rnd)]), country=rnd.choice([None, "GB"]))
        got = _engine.seen_json(s.alert_id, s.ts, s.tenant, s.rule, s.severity, s.subject_type, s.subject, s.summary,
                                s.span, s.ident, s.call_id, s.cost, [action_fields(x, t) for x, t in acts], s.campaign,
                                s.source, s.account, s.country)
        assert got == encode(s), s


# --------------------------------------------------------------------------------- (3) refusals

def test_what_the_port_does_not_write():
    base = ("id", 1.7e9, "t", "r", "warning", "ip", "s", "sum")
    for bad in ({"a": {1, 2}}, {"a": b"x"}, {1.5: 1}, {None: 1}, {"a": object()}):
        with pytest.raises(TypeError):
            _engine.alert_json(*base, bad, "enforce")
    with pytest.raises(ValueError, match="NaN"):
        _engine.alert_json("id", math.nan, "t", "r", "warning", "ip", "s", "sum", {}, "enforce")
    with pytest.raises(ValueError, match="NaN"):
        datetime.fromtimestamp(math.nan, timezone.utc)
