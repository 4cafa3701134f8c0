"""The policy as data (engine/src/policy.rs: ``streams._engine.TenantDoc``) against the compiled tenant it is
read from (``streams.policy.compiled.Tenant`` and its ``document()``).

Python loads, validates and defaults a policy; the engine reads one resolved JSON document per tenant. These
tests hold what the engine answers from that document to what ``Tenant`` answers: ``in_lan`` and ``exempt``
for addresses at and around every network's edges (both versions, IPv4-mapped spellings), ``business_hours``
and ``local_day`` at random instants of the contract's years and minute by minute across the zone's offset
changes (DST, half-hour and 45-minute zones, a zone whose offset once had seconds), with holidays and
spans that end at 24:00 or wrap the week; the flood rules' settings as the engine read them; and the errors
(a NaN or infinite time, another document version, a document that is not one)."""

from __future__ import annotations

import ipaddress
import math
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from streams.domain.events import parse_ip
from streams.policy import Policy
from streams.policy.compiled import DOCUMENT_VERSION, Tenant
from streams.policy.schema import TenantPolicy

_engine = pytest.importorskip("streams._engine")

ZONES = ["UTC", "Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Asia/Kathmandu",
         "Australia/Lord_Howe", "Pacific/Chatham", "America/St_Johns", "Pacific/Kiritimati", "Africa/Monrovia",
         "America/Santiago", "Africa/Casablanca", "Europe/Dublin", "Asia/Tehran"]
MIN_T, MAX_T = 31_536_000.0, 7_258_118_400.0  # the contract's 1971-01-01 and 2200-01-01
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def doc_of(t: Tenant):
    return _engine.TenantDoc(t.document())


# ------------------------------------------------------------------------------------ policies

def random_policy(rnd: random.Random) -> dict:
    def hhmm(m: int) -> str:
        return f"{m // 60:02d}:{m % 60:02d}"

    hours = {}
    for _ in range(rnd.randint(0, 4)):
        a, b = rnd.sample(DAYS, 2)
        days = rnd.choice([a, f"{a}-{b}", f"{a},{b}"])
        spans = []
        for _ in range(rnd.randint(1, 3)):
            start = rnd.randrange(0, 24 * 60 - 1)
            end = rnd.choice([rnd.randrange(start + 1, 24 * 60 + 1), 24 * 60])
            spans.append(f"{hhmm(start)}-{hhmm(end)}" if end < 1440 else f"{hhmm(start)}-24:00")
        hours[days] = spans
    day0 = datetime(1971, 1, 1) + timedelta(days=rnd.randrange(365 * 229))
    holidays = [(day0 + timedelta(days=rnd.randrange(60))).date().isoformat() for _ in range(rnd.randint(0, 6))]
    return {
        "timezone": rnd.choice(ZONES),
        "business_hours": hours,
        "holidays": holidays,
        "lan": [str(random_network(rnd)) for _ in range(rnd.randint(0, 4))],
        "static_defense": [{"name": f"r{k}", "source": str(random_network(rnd)), "action": rnd.choice(["accept", "drop"])}
                           for k in range(rnd.randint(0, 4))],
        "allowed_country_ips": rnd.choice([None, ["GB", "IE"], []]),
        "country_ip_block": rnd.choice(["address", "set"]),
        "distributed_lockout": {"failures": rnd.randint(1, 500), "seconds": rnd.randint(1, 7200),
                                "sources": rnd.randint(2, 50), "accounts": rnd.randint(1, 50)},
        "registration_lockout": {"failures": rnd.randint(1, 30), "seconds": rnd.randint(1, 3600),
                                 "block_seconds": rnd.choice([None, 0, 600]), "lock_scope": rnd.choice(["source", "account"]),
                                 "max_failures": rnd.choice([None, 40])},
        "campaign_seconds": rnd.choice([0, 600, 3600]),
        "block_on_unverified_udp": rnd.random() < 0.5,
    }


def random_network(rnd: random.Random):
    if rnd.random() < 0.6:
        prefix = rnd.choice([0, 1, 8, 12, 16, 23, 24, 31, 32, rnd.randint(0, 32)])
        return ipaddress.ip_network(f"{ipaddress.IPv4Address(rnd.getrandbits(32))}/{prefix}", strict=False)
    prefix = rnd.choice([0, 7, 10, 32, 48, 64, 127, 128, rnd.randint(0, 128)])
    return ipaddress.ip_network(f"{ipaddress.IPv6Address(rnd.getrandbits(128))}/{prefix}", strict=False)


def tenants() -> list[Tenant]:
    example = Policy.load("fixtures/policy.example.yaml")
    out = [example.tenant("default"), example.tenant("acme"), Policy.default().tenant("default")]
    rnd = random.Random(29)
    out += [Tenant(f"t{k}", TenantPolicy.model_validate(random_policy(rnd))) for k in range(40)]
    return out


TENANTS = tenants()


# ------------------------------------------------------------------------------------ addresses

def addresses_around(t: Tenant, rnd: random.Random) -> list[str]:
    """Each network's first and last address, their neighbours outside, random ones inside, and random
    addresses of both versions; IPv4 ones also as their IPv4-mapped IPv6 spelling."""
    out = []
    for net in [*t.lan, *t.accept, *(n for n, _ in t.deny)]:
        top = 2 ** net.max_prefixlen - 1
        first, last = int(net.network_address), int(net.broadcast_address)
        for k in (first, last, first - 1, last + 1, rnd.randint(first, last)):
            if 0 <= k <= top:
                out.append(str(ipaddress.ip_address(k) if net.version == 4 else ipaddress.IPv6Address(k)))
    out += [str(ipaddress.IPv4Address(rnd.getrandbits(32))) for _ in range(200)]
    out += [str(ipaddress.IPv6Address(rnd.getrandbits(128))) for _ in range(200)]
    out += [f"::ffff:{a}" for a in out if ":" not in a][:100]
    out += [f"{a}%{rnd.choice(['eth0', '1', 'é'])}" for a in out if ":" in a and "." not in a][:50]  # scope ids
    return out


@pytest.mark.parametrize("t", TENANTS, ids=lambda t: t.name)
def test_in_lan_and_exempt(t):
    rnd = random.Random(t.name)
    doc = doc_of(t)
    hits = 0
    for a in addresses_around(t, rnd):
        ip = parse_ip(a)
        assert doc.in_lan(a) == t.in_lan(ip), a
        assert doc.exempt(a) == t.exempt(ip), a
        hits += t.exempt(ip)
    if t.lan or t.accept:
        assert hits, "some of the addresses fall in a network"


def test_an_address_the_engine_cannot_read():
    doc = doc_of(TENANTS[0])
    for junk in ("", "10.0.0", "10.0.0.1 ", "x", "10.0.0.1%eth0", "fe80::1%", "fe80::1%a%b"):
        with pytest.raises(ValueError):
            parse_ip(junk)
        with pytest.raises(ValueError):
            doc.exempt(junk)


# ------------------------------------------------------------------------------------ time

def offset_changes(zone: str) -> list[float]:
    """Instants within six hours after a change of the zone's UTC offset, in three spans of years."""
    tz = ZoneInfo(zone)
    out = []
    for y0 in (1971, 2024, 2190):
        t = datetime(y0, 1, 1, tzinfo=timezone.utc).timestamp()
        end = datetime(y0 + 2, 1, 1, tzinfo=timezone.utc).timestamp()
        before = datetime.fromtimestamp(t, tz).utcoffset()
        while t < end:
            t += 6 * 3600
            now = datetime.fromtimestamp(t, tz).utcoffset()
            if now != before:
                out.append(t - 6 * 3600)
            before = now
    return out


def instants(t: Tenant, rnd: random.Random) -> list[float]:
    out = [rnd.uniform(MIN_T, MAX_T) for _ in range(3000)]
    out += [float(rnd.randrange(int(MIN_T), int(MAX_T)) // 60 * 60) for _ in range(500)]  # on a minute
    for start in offset_changes(t.settings.timezone)[:12]:
        out += [start + m * 60 + rnd.choice([0.0, 0.5, 59.999999]) for m in range(0, 6 * 60 + 1, 7)]
    for h in t.holidays:  # each holiday's local day, and the days either side
        noon = datetime(h.year, h.month, h.day, 12, tzinfo=t.tz).timestamp()
        out += [noon + k * 3600.0 for k in range(-36, 37, 3)]
    return out


@pytest.mark.parametrize("t", TENANTS, ids=lambda t: t.name)
def test_business_hours_and_local_day(t):
    rnd = random.Random(t.name)
    doc = doc_of(t)
    seen = set()
    for ts in instants(t, rnd):
        want = t.business_hours(ts)
        assert doc.business_hours(ts) == want, (t.settings.timezone, ts, datetime.fromtimestamp(ts, t.tz))
        assert doc.local_day(ts) == t.local_day(ts), (t.settings.timezone, ts)
        seen.add(want)
    if t.hours:
        assert seen == {True, False}, "the instants fall both inside and outside the hours"
    else:
        assert seen == {None}


def test_times_python_refuses():
    t = next(x for x in TENANTS if x.hours)
    doc = doc_of(t)
    for bad, kind in ((math.nan, ValueError), (math.inf, ValueError), (-math.inf, ValueError)):  # inf // 60 is a NaN
        for name in ("business_hours", "local_day"):
            with pytest.raises(kind):
                getattr(t, name)(bad)
            with pytest.raises(kind):
                getattr(doc, name)(bad)
    for far, kind in ((1e16, ValueError), (-1e14, ValueError), (1e20, OverflowError)):  # UTC year past 9999, before 1; time_t
        for name in ("business_hours", "local_day"):
            with pytest.raises(kind):
                getattr(t, name)(far)
            with pytest.raises(kind):
                getattr(doc, name)(far)


def test_the_ends_of_the_calendar():
    """Year 1 in a zone east of UTC is refused in UTC first (ValueError), as ``fromtimestamp`` refuses it; a
    local wall clock past 9999 is ``fromutc``'s OverflowError; past jiff's zone data (9999-12-30T22:00Z) the
    engine refuses what Python may still answer (no contract time comes near)."""
    from streams.policy.compiled import Tenant as T

    kolkata = T("k", TenantPolicy.model_validate({"timezone": "Asia/Kolkata"}))
    for ts in (-62135597700.0, -62135596800.0 + 3600 * 5):
        for side in (kolkata, doc_of(kolkata)):
            try:
                want = ("ok", kolkata.local_day(ts))
            except (ValueError, OverflowError) as exc:
                want = ("raises", type(exc))
            try:
                got = ("ok", side.local_day(ts))
            except (ValueError, OverflowError) as exc:
                got = ("raises", type(exc))
            assert got == want, (ts, side)
    kiritimati = T("x", TenantPolicy.model_validate({"timezone": "Pacific/Kiritimati"}))
    last = 253402207200.0 - 900  # 9999-12-30T21:45Z, 9999-12-31 11:45 in Kiritimati: both answer
    assert doc_of(kiritimati).local_day(last) == kiritimati.local_day(last) == 3652059
    with pytest.raises(OverflowError):  # 9999-12-31T11:45Z is 10000-01-01 there: fromutc refuses it...
        kiritimati.local_day(last + 14 * 3600)
    with pytest.raises(ValueError, match="time zone data"):  # ...and the engine, past its zone data, too
        doc_of(kiritimati).local_day(last + 14 * 3600)
    with pytest.raises(ValueError, match="time zone data"):
        doc_of(kolkata).local_day(253402207200.0 + 900)


# ------------------------------------------------------------------------------------ settings

@pytest.mark.parametrize("t", TENANTS, ids=lambda t: t.name)
def test_the_flood_rules_settings(t):
    p = t.settings
    got = doc_of(t).flood_settings()

    def lockout(x):
        return (x.failures, x.seconds, x.block_seconds, x.lock_account, x.lock_scope, x.max_failures, x.max_seconds)

    d = p.distributed_lockout
    assert got == {
        "timezone": p.timezone,
        "allowed_country_ips": p.allowed_country_ips,
        "country_ip_block": p.country_ip_block,
        "registration_lockout": lockout(p.registration_lockout),
        "login_lockout": lockout(p.login_lockout),
        "distributed_lockout": (d.failures, d.seconds, d.sources, d.accounts),
        "auto_defense": [(a.name, a.service, a.protocol, a.port, a.packets, a.seconds, a.block_seconds)
                         for a in p.auto_defense],
        "block_on_unverified_udp": p.block_on_unverified_udp,
        "scanner_block_seconds": p.scanner_block_seconds,
        "block_seconds": p.block_seconds,
        "incident_seconds": p.incident_seconds,
        "campaign_seconds": p.campaign_seconds,
        "scanners": list(t.scanners),
        "retention": dict(t.retention),
    }
    assert doc_of(t).name == t.name


def test_documents_the_engine_refuses():
    import json

    assert _engine.TENANT_DOC_VERSION == DOCUMENT_VERSION
    good = json.loads(TENANTS[0].document())
    for bad, says in (({**good, "version": DOCUMENT_VERSION + 1}, "version"), ({**good, "lan": ["10.0.0.0/33"]}, "network"),
                      ({**good, "settings": {**good["settings"], "timezone": "Mars/Olympus"}}, "time zone"),
                      ({k: v for k, v in good.items() if k != "settings"}, "settings")):
        with pytest.raises(ValueError, match=says):
            _engine.TenantDoc(json.dumps(bad).encode())
    with pytest.raises(ValueError, match="not a tenant document"):
        _engine.TenantDoc(b"not json")
