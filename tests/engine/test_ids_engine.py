"""The Rust port of the detector's ids and epochs (engine/src/ids.rs: ``streams._engine.hash_id``,
``epoch_of``, ``iso_text``, ``incident_id``, ``call_key``, ``seen_ident``, ``detection_ident``,
``campaign_hash``) against the Python it reproduces: ``streams.core.detector._hash``,
``streams.core.epochs.epoch_of`` and ``iso`` (as msgspec writes it in a record),
``streams.domain.incidents.incident_id``, ``_call_key``, ``_ident_of`` and ``IncidentBook._count_in``'s
detection digest, and ``streams.domain.campaigns._hash``. Every comparison is exact: the same text, the
same int, or the same exception (type, and message where it has no position in it).

Two kinds of input: (1) ``CASES`` seeded random cases per function (unicode with ``|``, control and
astral-plane characters, empty strings; ints from 0 to far beyond 128 bits, both signs; floats from
their raw bits, the special values, timestamps across and beyond the contract's range, and the
microsecond halves ``fromtimestamp`` rounds to even); (2) a replay of a simulated day with unblocks
mixed in, in which every id, epoch and timestamp the detector and the incident fold compute is computed
again by the port from the same arguments (the reference's functions wrapped where they are looked up),
and every action's id and every record's ``ts`` checked once more from the records themselves.
The port is not wired into the detector yet."""

from __future__ import annotations

import math
import random
import re
import struct
from types import SimpleNamespace

import msgspec
import pytest

import streams.core.detector as detector_module
import streams.domain.campaigns as campaigns_module
import streams.domain.incidents as incidents_module
from streams.core.detector import _hash
from streams.core.epochs import FOREVER, epoch_of, iso
from streams.domain.campaigns import _hash as campaign_hash
from streams.domain.incidents import MAX_CALL_ID, IncidentBook, _call_key, _ident_of, incident_id

_engine = pytest.importorskip("streams._engine")

CASES = 10_000
MIN_T, MAX_T = 31_536_000.0, 7_258_118_400.0  # the contract's 1971-01-01 and 2200-01-01


# --------------------------------------------------------------------------------- the inputs

ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz0123456789.-_:@",
    "|||| ",
    "".join(map(chr, range(0x00, 0x20))) + "\x7f\x85\xa0\u2028\u2029",
    "éßøÆ€£¥ÿ\u0301\u200b\ufeff",
    "日本語中文한국어Ωπ∑",
    "\U0001F600\U0001F4A9\U00010348\U0010FFFF\U0001D11E",
]


def text(rnd: random.Random, longest: int = 24) -> str:
    if rnd.random() < 0.1:
        return ""
    n = rnd.randint(1, longest)
    return "".join(rnd.choice(rnd.choice(ALPHABETS)) for _ in range(n))


def integer(rnd: random.Random) -> int:
    kind = rnd.random()
    if kind < 0.3:
        n = rnd.randint(0, 10**10)
    elif kind < 0.5:
        n = rnd.choice([0, 1, 2**31, 2**53, 2**56 - 1, 2**63 - 1, 2**63, 2**64, 2**127 - 1, 2**127, 2**128])
        n += rnd.randint(-2, 2)
    else:
        n = rnd.getrandbits(rnd.choice([8, 32, 63, 64, 100, 127, 128, 129, 200, 400]))
    return -n if rnd.random() < 0.4 else n


SPECIAL = [0.0, -0.0, 1e16, 1e-7, 123456789.123456, 1e22, 5e-324, 1.7976931348623157e308, 2.0**53,
           0.1, 1e15, 9.999999999999999e15, 1e-4, 1e-5, math.nan, math.inf, -math.inf]


def float_bits(rnd: random.Random) -> float:
    return struct.unpack("<d", struct.pack("<Q", rnd.getrandbits(64)))[0]


def half_micro(rnd: random.Random, lo: float, hi: float) -> float:
    """A time whose fraction is a microsecond and a half, or a few ulps either side of it."""
    t = float(rnd.randint(int(lo), int(hi))) + (rnd.randint(0, 999_999) + 0.5) / 1e6
    for _ in range(rnd.choice([0, 0, 1, 2, 3])):
        t = math.nextafter(t, rnd.choice([math.inf, -math.inf]))
    return t


def timestamp(rnd: random.Random) -> float:
    kind = rnd.random()
    if kind < 0.3:
        return rnd.uniform(MIN_T, MAX_T)
    if kind < 0.45:
        return round(rnd.uniform(MIN_T, MAX_T), 6)
    if kind < 0.65:
        return half_micro(rnd, MIN_T, MAX_T)
    if kind < 0.75:  # small and negative times: most of a float's bits are its fraction
        return half_micro(rnd, -100, 100) if rnd.random() < 0.7 else rnd.uniform(-1000, 1000)
    if kind < 0.8:  # exact binary fractions; an odd number of 128ths is exactly a half microsecond more
        return rnd.randint(-(2**33), 2**33) / 2.0 ** rnd.choice([7, 7, rnd.randint(1, 21)])
    if kind < 0.9:  # year 1 to 9999 and beyond
        return rnd.uniform(-62_135_596_800.0 * 1.01, 253_402_300_800.0 * 1.01)
    return rnd.choice(SPECIAL) if rnd.random() < 0.5 else float_bits(rnd)


def floating(rnd: random.Random) -> float:
    kind = rnd.random()
    if kind < 0.3:
        return rnd.choice(SPECIAL)
    if kind < 0.6:
        return float_bits(rnd)
    x = timestamp(rnd)
    return -x if rnd.random() < 0.2 else x


def part(rnd: random.Random):
    kind = rnd.random()
    if kind < 0.45:
        return text(rnd)
    if kind < 0.65:
        return integer(rnd)
    if kind < 0.9:
        return floating(rnd)
    return rnd.choice([None, True, False])


def outcome(f, *args):
    """What a call gives: its value, or its exception's type and message."""
    try:
        return ("ok", f(*args))
    except Exception as exc:  # noqa: BLE001 - the exception is the value compared
        return (type(exc).__name__, str(exc))


def record_ts(dt) -> str:
    """A datetime as msgspec writes it in an alert or action record, without the quotes."""
    return msgspec.json.encode(dt).decode()[1:-1]


def reference_iso(ts: float) -> str:
    return record_ts(iso(ts))


def reference_detection(alert_id: str, ident: int) -> int:
    """``IncidentBook._count_in``'s digest of a detection, read from the campaign's idents it fills."""
    inc = SimpleNamespace(idents=[], campaign=SimpleNamespace(add=lambda *a: None))
    rec = SimpleNamespace(alert_id=alert_id, rule="r", source=None, account=None, country=None)
    assert IncidentBook._count_in(inc, rec, ident)
    (detection,) = inc.idents
    return detection


# --------------------------------------------------------------------------------- random cases

def test_hash_id_matches_the_detector_s_hash():
    rnd = random.Random(29_1)
    kinds = set()
    for _ in range(CASES):
        parts = tuple(part(rnd) for _ in range(rnd.randint(0, 7)))
        kinds.update(type(p).__name__ for p in parts)
        assert _engine.hash_id(*parts) == _hash(*parts), parts
    assert kinds == {"str", "int", "float", "bool", "NoneType"}


def test_hash_id_of_the_ids_the_detector_makes():
    """The detector's own shapes: an alert's six parts, an action's three or four, an unblock's five."""
    rnd = random.Random(29_2)
    for _ in range(CASES):
        epoch = epoch_of(rnd.uniform(MIN_T, MAX_T), rnd.choice([1.0, 60.0, 3600.0, 86400.0, FOREVER]))
        alert = (text(rnd), text(rnd), text(rnd), text(rnd), text(rnd), epoch)
        alert_id = _hash(*alert)
        action = (alert_id, text(rnd), text(rnd)) + ((text(rnd),) if rnd.random() < 0.3 else ())
        unblock = ("unblock", text(rnd), text(rnd), timestamp(rnd), text(rnd) if rnd.random() < 0.5 else None)
        for parts in (alert, action, unblock):
            assert _engine.hash_id(*parts) == _hash(*parts), parts


def test_hash_id_edges():
    for parts in [(), ("",), ("", ""), ("|",), ("a", "|", "b"), (0,), (-0.0,), (0.0,), (True, 1), (False, 0),
                  (None,), (2**127 - 1, -(2**127), 2**127, -(2**127) - 1, 10**400), (math.nan, math.inf, -math.inf),
                  (1e16, 1e-7, 123456789.123456, 1e22, 5e-324), ("\x00\x1f\x7f", "\U0010FFFF")]:
        assert _engine.hash_id(*parts) == _hash(*parts), parts


def test_hash_id_refuses_what_str_would_write_otherwise():
    """A part of any other type (a str or int subclass whose ``str()`` may differ) is a TypeError, and
    a str Python cannot encode is the reference's UnicodeEncodeError."""
    class Name(str):
        def __str__(self):
            return "other"

    with pytest.raises(TypeError):
        _engine.hash_id("a", Name("b"))
    with pytest.raises(TypeError):
        _engine.hash_id(b"bytes")
    for bad in [("\ud800",), ("ok", "x\udfffy")]:
        with pytest.raises(UnicodeEncodeError):
            _hash(*bad)
        with pytest.raises(UnicodeEncodeError):
            _engine.hash_id(*bad)


def test_epoch_of_matches_the_reference():
    rnd = random.Random(29_3)
    spans = [1.0, 60.0, 300.0, 3600.0, 86400.0, 604800.0, FOREVER, 2e18, math.nextafter(FOREVER, 0), 0.0, -0.0,
             -3600.0, 1e-300, 5e-324, math.nan, math.inf, -math.inf]
    seen = set()
    for _ in range(CASES):
        at = floating(rnd)
        span = rnd.choice(spans) if rnd.random() < 0.6 else (float(rnd.randint(1, 10**6)) if rnd.random() < 0.5
                                                              else float_bits(rnd))
        want = outcome(epoch_of, at, span)
        seen.add(want[0])
        got = outcome(_engine.epoch_of, at, span)
        assert got == want and type(got[1]) is type(want[1]), (at, span)
    assert seen == {"ok", "ValueError", "OverflowError", "ZeroDivisionError"}


def test_iso_text_matches_the_record_s_ts():
    rnd = random.Random(29_4)
    seen, ties = set(), 0
    for _ in range(CASES):
        ts = timestamp(rnd)
        frac = math.modf(ts)[0] * 1e6
        ties += math.isfinite(frac) and frac % 1 == 0.5 and round(frac) != math.floor(frac + 0.5)
        want = outcome(reference_iso, ts)
        seen.add(want[0])
        assert outcome(_engine.iso_text, ts) == want, ts.hex()
    assert seen == {"ok", "ValueError", "OverflowError", "OSError"}
    assert ties > 100  # a product exactly halfway, where half-even and half-up disagree


def test_iso_text_edges():
    for ts in [0.0, -0.0, 5e-324, -5e-324, 1e-7, -1e-7, 0.5e-6, 1.5e-6, 2.5e-6, -0.5e-6, -1.5e-6, 1.0000005,
               1.0000015, 1.0000025, 0.9999995, -0.9999995, MIN_T, MAX_T, math.nextafter(MAX_T, 0), 1733561234.1234565,
               -62135596800.0, -62135596800.5, 253402300799.0, 253402300799.999999, 253402300800.0,
               6.7e16, 6.8e16, 9.2e18, 2.0**63, -(2.0**63), math.nextafter(2.0**63, math.inf), 1e19,
               math.nan, math.inf, -math.inf]:
        assert outcome(_engine.iso_text, ts) == outcome(reference_iso, ts), ts


def test_incident_id_matches_the_reference():
    rnd = random.Random(29_5)
    for _ in range(CASES):
        args = (text(rnd), text(rnd), text(rnd), text(rnd))
        assert _engine.incident_id(*args) == incident_id(*args), args


def test_call_key_matches_the_reference():
    rnd = random.Random(29_6)
    lengths = set()
    for _ in range(CASES):
        n = rnd.choice([0, 1, MAX_CALL_ID - 1, MAX_CALL_ID, MAX_CALL_ID + 1, MAX_CALL_ID + 2, rnd.randint(0, 200)])
        call_id = "".join(rnd.choice(rnd.choice(ALPHABETS)) for _ in range(n))
        lengths.add(len(call_id))
        assert _engine.call_key(call_id) == _call_key(call_id), call_id
    assert {MAX_CALL_ID, MAX_CALL_ID + 1} <= lengths


def test_seen_ident_matches_the_reference():
    rnd = random.Random(29_7)
    for _ in range(CASES):
        rec = SimpleNamespace(alert_id=text(rnd), ts=floating(rnd))
        assert _engine.seen_ident(rec.alert_id, rec.ts) == _ident_of(rec), (rec.alert_id, rec.ts)


def test_detection_ident_matches_the_reference():
    rnd = random.Random(29_8)
    for _ in range(CASES):
        alert_id = text(rnd)
        ident = integer(rnd)
        while abs(ident) >= 2**127:
            ident = integer(rnd)
        assert _engine.detection_ident(alert_id, ident) == reference_detection(alert_id, ident), (alert_id, ident)
    with pytest.raises(OverflowError):
        _engine.detection_ident("a", 2**130)


def test_campaign_hash_matches_the_reference():
    rnd = random.Random(29_9)
    for _ in range(CASES):
        value = text(rnd, longest=64)
        assert _engine.campaign_hash(value) == campaign_hash.__wrapped__(value), value


# --------------------------------------------------------------------------------- a replay

def unblocks(lines: list[bytes], rnd: random.Random) -> list[bytes]:
    """Unblocks of addresses the day's security events come from, at random instants of the day, named
    by someone or by no one."""
    evs = [msgspec.json.decode(line) for line in lines]
    ips = sorted({e["src_ip"] for e in evs if e.get("type") == "security"})
    times = [e["ts"] for e in evs if e.get("type") == "security"]
    out = []
    for ip in rnd.sample(ips, min(len(ips), 12)):
        ev = {"type": "unblock", "ts": rnd.choice(times), "target": ip, "reason": "cleared"}
        if rnd.random() < 0.5:
            ev["by"] = "soc|analyst"
        out.append(msgspec.json.encode(ev))
    return out


def test_every_id_of_a_replayed_day_is_the_port_s(tmp_path, monkeypatch):
    from streams.commands.simulate import simulate
    from streams.core.detector import Detector
    from streams.domain.events import Action, Alert
    from streams.policy import Policy
    from streams.shells.replay import run

    simulate(1, 29, tmp_path, extensions=40)
    lines = (tmp_path / "events.jsonl").read_bytes().splitlines()
    lines += unblocks(lines, random.Random(29))
    calls: dict[str, int] = {}

    def counted(name):
        calls[name] = calls.get(name, 0) + 1

    def wrap(module, name, check):
        original = getattr(module, name)
        label = f"{module.__name__.rsplit('.', 1)[1]}.{name}"

        def both(*args):
            value = original(*args)
            check(value, *args)
            counted(label)
            return value
        monkeypatch.setattr(module, name, both)

    def check_hash(value, *parts):
        assert _engine.hash_id(*parts) == value, parts
        counted("unblock" if parts[0] == "unblock" else f"{len(parts)} parts")

    def check_epoch(value, at, span):
        assert _engine.epoch_of(at, span) == value and type(value) is int, (at, span)

    written = set()

    def check_iso(value, ts):
        text = _engine.iso_text(ts)
        assert text == record_ts(value), ts
        written.add(text)

    wrap(detector_module, "_hash", check_hash)
    wrap(detector_module, "epoch_of", check_epoch)
    wrap(detector_module, "iso", check_iso)
    wrap(incidents_module, "incident_id", lambda value, *args: _check(_engine.incident_id(*args) == value, args))
    wrap(incidents_module, "_call_key", lambda value, call_id: _check(_engine.call_key(call_id) == value, call_id))
    wrap(incidents_module, "_ident_of", lambda value, rec: _check(_engine.seen_ident(rec.alert_id, rec.ts) == value,
                                                                  rec))
    wrap(campaigns_module, "_hash", lambda value, v: _check(_engine.campaign_hash(v) == value, v))

    real_blake2b = incidents_module.hashlib.blake2b

    def blake2b(data, digest_size):  # the detection digest of _count_in, computed inline: read back from its text
        h = real_blake2b(data, digest_size=digest_size)
        if digest_size == 7:
            alert_id, tail = data.decode().rsplit("|", 1)
            if re.fullmatch(r"-?\d+", tail):
                assert _engine.detection_ident(alert_id, int(tail)) == int.from_bytes(h.digest(), "big"), data
                counted("detection")
        return h

    monkeypatch.setattr(incidents_module, "hashlib", SimpleNamespace(blake2b=blake2b))

    out = []
    detector = Detector(Policy.load(tmp_path / "policy.yaml"))
    run(((str(tmp_path), i, line, None) for i, line in enumerate(lines)), detector, out.append, lambda r: None)

    # the records themselves: an action's id from its own fields, every ts as the port writes it
    records = [r for r in out if isinstance(r, (Alert, Action))]
    records += [a for r in out for a in getattr(r, "actions", None) or () if isinstance(a, Action)]
    records += [r.action for r in out if isinstance(getattr(r, "action", None), Action)]
    stamps = {msgspec.json.decode(msgspec.json.encode(r))["ts"] for r in records}
    assert stamps <= written
    checked = 0
    for r in records:
        if isinstance(r, Action) and r.kind != "unblock":
            parts = (r.alert_id, r.kind, r.target) + (() if r.from_ip is None else (r.from_ip,))
            assert _engine.hash_id(*parts) == r.action_id, r
            checked += 1
    assert checked > 0

    # every kind of id went through both
    for name in ["detector._hash", "detector.epoch_of", "detector.iso", "incidents.incident_id", "incidents._call_key",
                 "incidents._ident_of", "campaigns._hash", "6 parts", "3 parts", "unblock", "detection"]:
        assert calls.get(name, 0) > 0, (name, calls)
    assert sum(isinstance(r, Alert) for r in records) > 20


def _check(ok: bool, what) -> None:
    assert ok, what
