"""``tollguard simulate``: a deterministic PBX-under-attack traffic generator with labels.

Benign traffic looks like real offices and a call centre: extensions with roles and habits
(office staff, sales with international rights, call-centre agents, on-call engineers who
may call out of hours), a business-hours curve with a lunch dip, quiet weekends and
holidays, national/mobile/international mixes by role, heavy-tailed (log-normal) call
durations, missed, busy and failed calls, phones re-registering from LAN addresses with real
user agents, and the occasional mistyped password.

Outbound calls are reported twice, as a live PBX feed does: a ``phase: start`` event when
the call starts and the completed CDR at its end (``live=False`` gives completed CDRs only).

Attack scenarios are injected on top and labelled (``labels.json``, ``labels_version`` 2) with
their start, end, subjects, the rules their kind is meant to trigger, the fraudulent calls' ids,
and what the attack did (its tenant, the source addresses it used, the accounts it attacked or
called from, every call id it placed or caused, the numbers it dialled or called from), which
``evaluate`` matches alerts' subjects and evidence against (docs/evaluate.md). Everything
depends only on the seed. Output: ``DIR/events.jsonl`` (time-ordered event contract),
``DIR/labels.json``, ``DIR/policy.yaml``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable, NamedTuple
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import PhoneNumberType as T

from streams.core import keys as K
from streams.core.epochs import z
from streams.reference.numbers import number_plan
from streams.reference.rates import RateTable

HELP = "generate labelled PBX traffic with attack scenarios"

SCENARIOS = ("sip_scanner", "credential_stuffing", "night_pumping", "fast_pumping", "slow_pumping", "trunk_flood",
             "long_calls", "pin_guessing", "registration_hijack", "wangiri", "spend_cap",
             "account_takeover", "distributed_brute_force", "forwarding_abuse")
LABELS_VERSION = 2  # 2 added tenant, sources, accounts, calls and numbers to each scenario
# The rules each scenario kind is built to trigger (evaluate's recall per rule). Not listed: rules a
# kind may trip by chance (credential stuffing's account_lockout when one account drew five guesses in
# ten minutes), and auto_defense for the scanner: it paces itself 20-600 ms apart, about 6 requests in
# 2 s against the guide's 40, which is the per-IP failure lockouts' case.
EXPECTED = {
    "sip_scanner": ["scanner_user_agent", "registration_lockout"],
    "credential_stuffing": ["login_lockout"],
    "night_pumping": ["time_condition", "international_disallowed", "premium_rate", "country_code"],
    "fast_pumping": ["call_frequency", "premium_rate"],
    "slow_pumping": ["anomaly"],
    "trunk_flood": ["trunk_concurrency"],
    "long_calls": ["call_duration"],
    "pin_guessing": ["pin_failures"],
    "registration_hijack": ["concurrent_registrations", "remote_registration"],
    "wangiri": ["wangiri_inbound", "premium_rate", "international_disallowed"],
    "spend_cap": ["spend_limit"],
    "account_takeover": ["account_takeover"],
    "distributed_brute_force": ["account_lockout"],
    "forwarding_abuse": ["forwarding_abuse"],
}
TZ = "Europe/London"
START = date(2026, 11, 2)  # a Monday
HOLIDAYS = [date(2026, 12, 25), date(2026, 12, 26), date(2027, 1, 1)]
UAS = ["Yealink SIP-T46U 108.86.0.40", "Yealink SIP-T54W 96.86.0.100", "Grandstream GRP2614 1.0.5.67",
       "Poly VVX 450 6.4.3.5389", "Fanvil X6U 2.12.1", "Linkus Desktop 1.6.11"]
ROLES = [("office", 0.62), ("sales", 0.18), ("callcentre", 0.14), ("oncall", 0.06)]
CALLS_PER_DAY = {"office": 7, "sales": 14, "callcentre": 55, "oncall": 5}
ABROAD = [("FR", T.FIXED_LINE), ("DE", T.MOBILE), ("IE", T.MOBILE), ("US", T.FIXED_LINE), ("ES", T.MOBILE),
          ("NL", T.MOBILE)]



@dataclass
class Ext:
    tenant: str
    number: str
    role: str
    ip: str
    ua: str
    calls: float


@dataclass
class World:
    rng: random.Random
    tz: ZoneInfo
    days: int
    exts: list[Ext]
    events: list[tuple[datetime, int, dict]] = field(default_factory=list)
    live: bool = True
    labels: list[dict] = field(default_factory=list)
    seq: int = 0

    def add(self, t: datetime, ev: dict) -> None:
        self.seq += 1
        self.events.append((t, self.seq, ev))

    def day(self, i: int) -> date:
        return START + timedelta(days=i)

    def local(self, d: date, hours: float) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=self.tz) + timedelta(hours=hours)


class Numbers:
    """Valid destination numbers per country and type, made from libphonenumber's examples."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.cache: dict[tuple[str, int], list[str]] = {}

    def pool(self, region: str, ntype, n: int = 40) -> list[str]:
        key = (region, ntype)
        if key not in self.cache:
            ex = phonenumbers.example_number_for_type(region, ntype)
            out: list[str] = []
            base = str(ex.national_number)
            tries = 0
            while len(out) < n and tries < n * 20:
                tries += 1
                cand = base[:-4] + f"{self.rng.randrange(10000):04d}"
                num = phonenumbers.parse(f"+{ex.country_code}{cand}")
                if phonenumbers.is_valid_number(num) and phonenumbers.number_type(num) == ntype:
                    out.append(f"+{ex.country_code}{cand}")
            self.cache[key] = out or [f"+{ex.country_code}{base}"]
        return self.cache[key]

    def dial(self, region: str, ntype) -> str:
        e164 = self.rng.choice(self.pool(region, ntype))
        if region == "GB":
            return "0" + e164[3:]
        return "00" + e164[1:]


def _business_time(w: World, d: date) -> datetime:
    # two peaks (10:00, 15:00) and a lunch dip, inside 08:00-18:00
    while True:
        h = w.rng.choice([w.rng.gauss(10.3, 1.1), w.rng.gauss(15.0, 1.2)])
        if 8.0 <= h < 17.9 and not 12.5 <= h < 13.5:
            return w.local(d, h)


def _duration(rng: random.Random, median: float = 95.0) -> int:
    return max(3, int(rng.lognormvariate(math.log(median), 1.0)))


def _cdr(w: World, ext: Ext, start: datetime, dst: str, billsec: int, *, disposition="answered", trunk=None,
         call_id=None, direction="outbound", route=None, pin=None, src_ip=None, src=None, **extra) -> dict:
    ring = w.rng.randint(2, 12)
    end = start + timedelta(seconds=ring + billsec)
    ev = {"type": "cdr", "tenant": ext.tenant, "call_id": call_id or f"{ext.tenant}-{w.seq:07d}",
          "start": z(start), "end": z(end), "src": src or ext.number, "dst": dst, "duration": ring + billsec,
          "billsec": billsec, "direction": direction, "disposition": disposition,
          "trunk": trunk or f"sip-{ext.tenant}", "src_ip": src_ip or ext.ip}
    if route:
        ev["route"] = route
    if pin:
        ev["pin"] = pin
    ev.update(extra)
    if direction == "outbound" and w.live:
        # the PBX also reports the call as it starts (phase start), as a live feed does
        live = {k: v for k, v in ev.items() if k not in ("end", "duration", "billsec", "disposition")}
        live["phase"] = "start"
        w.add(start, live)
    w.add(end, ev)
    return ev


def benign(w: World, nums: Numbers) -> None:
    rng = w.rng
    for i in range(w.days):
        d = w.day(i)
        workday = d.weekday() < 5 and d not in HOLIDAYS
        for ext in w.exts:
            # phones re-register about every 30-55 minutes, all day; now and then a mistyped password
            t = w.local(d, rng.random() * 0.9)
            while t < w.local(d, 24):
                if rng.random() < 0.004:
                    w.add(t, {"type": "security", "tenant": ext.tenant, "ts": z(t), "service": "sip",
                              "action": "register", "account": ext.number, "src_ip": ext.ip, "outcome": "failure",
                              "user_agent": ext.ua, "protocol": "udp", "reason": "bad password"})
                    t += timedelta(seconds=rng.randint(5, 40))
                w.add(t, {"type": "security", "tenant": ext.tenant, "ts": z(t), "service": "sip", "action": "register",
                          "account": ext.number, "src_ip": ext.ip, "outcome": "success", "user_agent": ext.ua,
                          "protocol": "udp", "port": 5060, "contact": f"sip:{ext.number}@{ext.ip}:5060"})
                t += timedelta(seconds=rng.randint(1800, 3300))
            if workday and rng.random() < 0.03:  # a user fumbles the web portal password
                t = _business_time(w, d)
                w.add(t, {"type": "security", "tenant": ext.tenant, "ts": z(t), "service": "web", "action": "login",
                          "account": ext.number, "src_ip": ext.ip, "outcome": "failure", "protocol": "https"})
            n = 0
            if workday:
                n = _poisson(rng, ext.calls)
            elif ext.role == "oncall":
                n = _poisson(rng, 1.5)
            for _ in range(n):
                if ext.role == "oncall" and (not workday or rng.random() < 0.3):
                    start = w.local(d, rng.uniform(0, 24))
                else:
                    start = _business_time(w, d)
                r = rng.random()
                if ext.role == "sales" and r < 0.25:
                    region, ntype = rng.choice(ABROAD)
                    dst, route = nums.dial(region, ntype), "international"
                elif r < 0.55:
                    dst, route = nums.dial("GB", T.MOBILE), "national"
                else:
                    dst, route = nums.dial("GB", T.FIXED_LINE), "national"
                disp = rng.choices(["answered", "no_answer", "busy", "failed"], [0.8, 0.12, 0.05, 0.03])[0]
                billsec = _duration(rng, 70 if ext.role == "callcentre" else 110) if disp == "answered" else 0
                _cdr(w, ext, start, dst, billsec, disposition=disp, route=route,
                     pin="ok" if route == "international" else None)
            if workday and rng.random() < 0.02:  # internal calls, a few
                other = rng.choice(w.exts)
                if other.tenant == ext.tenant and other is not ext:
                    _cdr(w, ext, _business_time(w, d), other.number, _duration(rng, 60), direction="internal",
                         trunk=None)


def _poisson(rng: random.Random, lam: float) -> int:
    L, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= L:
            return k
        k += 1


def _pick(w: World, role: str, tenant: str | None = None) -> Ext:
    mine = [e for e in w.exts if tenant is None or e.tenant == tenant] or w.exts
    return w.rng.choice([e for e in mine if e.role == role] or mine)


def _label(w: World, name: str, start: datetime, end: datetime, subjects: list[str], calls: list[dict], *,
           tenant: str, sources=(), accounts=(), other_calls=(), numbers=()) -> None:
    """A scenario's labels: when, its subjects, the rules it is meant to trigger, its fraud calls, and
    what it did (sources, accounts, every call id, numbers in E.164) for evaluate's crediting."""
    dialled = {_e164(c["dst"]) for c in calls}
    w.labels.append({"name": name, "start": z(start), "end": z(end), "subjects": subjects,
                     "expected_rules": EXPECTED[name], "fraud_calls": [c["call_id"] for c in calls],
                     "tenant": tenant, "sources": sorted(set(sources)), "accounts": sorted(set(accounts)),
                     "calls": [c["call_id"] for c in calls] + list(other_calls),
                     "numbers": sorted(dialled | {_e164(n) for n in numbers})})


def _e164(dialled: str) -> str:
    """A number as the simulated PBXs (GB, 00 or + abroad, 0 at home) dial it, in E.164."""
    info = number_plan("GB", ["00", "+"], "0").classify(dialled)
    if info.e164:
        return info.e164
    return "+" + dialled[2:] if dialled.startswith("00") else dialled  # an unallocated range: as dialled


def attacks(w: World, nums: Numbers, names: list[str], used: set[str]) -> None:
    rng = w.rng
    days = [w.day(i) for i in range(w.days)]
    workdays = [d for d in days if d.weekday() < 5 and d not in HOLIDAYS] or days

    def fresh(role: str, tenant: str | None = None) -> Ext:
        for _ in range(50):
            e = _pick(w, role, tenant)
            if f"{e.tenant}/{e.number}" not in used:
                used.add(f"{e.tenant}/{e.number}")
                return e
        return _pick(w, role, tenant)

    for name in names:
        PLAYS[name](w, nums, Scene(name, rng.choice(days), rng.choice(workdays), fresh, days, workdays))


class Scene(NamedTuple):
    """What every scenario is given: its name, a day and a working day drawn for it (in that order from the
    world's random stream), a picker of extensions no other scenario used, and the days of the world."""
    name: str
    day: date
    workday: date
    fresh: Callable[..., "Ext"]
    days: list
    workdays: list


def _sip_scanner(w: World, nums: Numbers, s: Scene) -> None:
    """The sip_scanner scenario."""
    rng = w.rng
    name = s.name
    d = s.day
    ip = f"185.{rng.randint(40, 250)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    t0 = w.local(d, rng.uniform(1, 5))
    t = t0
    tenant = w.exts[0].tenant
    scanned = []
    for k in range(240):
        acct = str(rng.randint(100, 9999))
        scanned.append(acct)
        w.add(t, {"type": "security", "tenant": tenant, "ts": z(t), "service": "sip",
                  "action": rng.choice(["register", "register", "options", "invite"]), "account": acct,
                  "src_ip": ip, "outcome": "failure", "user_agent": rng.choice(["friendly-scanner",
                  "sipvicious", "sipcli/v1.8"]), "protocol": "udp", "port": 5060})
        t += timedelta(milliseconds=rng.randint(20, 600))
    _label(w, name, t0, t, [K.ip(ip)], [], tenant=tenant, sources=[ip], accounts=scanned)


def _credential_stuffing(w: World, nums: Numbers, s: Scene) -> None:
    """The credential_stuffing scenario."""
    rng = w.rng
    name = s.name
    d = s.day
    t0 = w.local(d, rng.uniform(0, 23))
    ips = [f"{rng.choice([45, 91, 103, 179])}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
           for _ in range(3)]
    t = t0
    tried = []
    for k in range(90):
        ip = ips[k % 3]
        w.add(t, {"type": "security", "tenant": w.exts[0].tenant, "ts": z(t), "service": rng.choice(["web", "app"]),
                  "action": "login", "account": rng.choice([e.number for e in w.exts] + ["admin"]),
                  "src_ip": ip, "outcome": "failure", "protocol": "https", "port": 8088})
        tried.append(w.events[-1][2]["account"])
        t += timedelta(seconds=rng.randint(5, 25))
    _label(w, name, t0, t, [K.ip(ip) for ip in ips], [], tenant=w.exts[0].tenant, sources=ips, accounts=tried)


def _pumping(w: World, nums: Numbers, s: Scene) -> None:
    """The night_pumping / fast_pumping / slow_pumping / long_calls / pin_guessing scenarios."""
    rng = w.rng
    name = s.name
    d = s.day
    wd = s.workday
    fresh = s.fresh
    ext = fresh("sales" if name in ("fast_pumping", "slow_pumping", "long_calls") else "office")
    calls: list[dict] = []
    if name == "night_pumping":
        t0 = w.local(d, rng.uniform(1, 3))
        t = t0
        for k in range(25):
            dst = rng.choice(["00" + nums.pool("LV", T.PREMIUM_RATE)[0][1:], "0088213" + f"{rng.randrange(10**6):06d}",
                              "00" + rng.choice(nums.pool("CU", T.FIXED_LINE))[1:], "00" + nums.pool("SO", T.MOBILE)[0][1:]])
            calls.append(_cdr(w, ext, t, dst, rng.randint(600, 1500), call_id=f"fraud-{name}-{k}",
                              src_ip=ext.ip))
            t += timedelta(seconds=rng.randint(40, 120))
    elif name == "fast_pumping":
        t0 = _business_time(w, wd)
        t = t0
        for k in range(24):
            dst = "00" + rng.choice(nums.pool("LT", T.PREMIUM_RATE))[1:]
            calls.append(_cdr(w, ext, t, dst, rng.randint(200, 600), call_id=f"fraud-{name}-{k}", route="international",
                              pin="ok"))
            t += timedelta(milliseconds=rng.randint(80, 200))
    elif name == "slow_pumping":
        t0 = w.local(wd, 9.0)
        t = t0
        k = 0
        while t < w.local(wd, 17.5):
            region, ntype = rng.choice(ABROAD)
            dst = nums.dial(region, ntype)
            calls.append(_cdr(w, ext, t, dst, rng.randint(1500, 3000), call_id=f"fraud-{name}-{k}",
                              route="international", pin="ok"))
            t += timedelta(minutes=rng.randint(35, 55))
            k += 1
    elif name == "long_calls":
        t0 = _business_time(w, wd)
        region, ntype = rng.choice(ABROAD)
        calls.append(_cdr(w, ext, t0, nums.dial(region, ntype), 4 * 3600 + rng.randint(0, 1800),
                          call_id=f"fraud-{name}-0", route="international", pin="ok"))
        t = t0 + timedelta(seconds=calls[-1]["duration"])
    else:  # pin_guessing
        t0 = _business_time(w, wd)
        t = t0
        for k in range(12):
            calls.append(_cdr(w, ext, t, "00" + rng.choice(nums.pool("FR", T.FIXED_LINE))[1:], 0,
                              disposition="failed", call_id=f"fraud-{name}-{k}", route="international",
                              pin="bad"))
            t += timedelta(seconds=rng.randint(15, 45))
    _label(w, name, t0, t, [K.ext(ext.tenant, ext.number)], calls, tenant=ext.tenant, accounts=[ext.number])


def _trunk_flood(w: World, nums: Numbers, s: Scene) -> None:
    """The trunk_flood scenario."""
    rng = w.rng
    name = s.name
    d = s.day
    t0 = w.local(d, rng.uniform(0, 5))
    tenant = w.exts[0].tenant
    exts = [e for e in w.exts if e.tenant == tenant][:6]
    calls = []
    for k in range(trunk_limit(w) + 15):
        ext = exts[k % len(exts)]
        start = t0 + timedelta(seconds=90 * k / (trunk_limit(w) + 15))
        c = {"type": "cdr", "tenant": tenant, "call_id": f"fraud-{name}-{k}", "phase": "start", "start": z(start),
             "src": ext.number, "dst": "00" + rng.choice(nums.pool("CU", T.FIXED_LINE))[1:],
             "trunk": f"sip-{tenant}"}
        if w.live:  # --cdr-only: completed CDRs only, like every other call
            w.add(start, c)
        end = start + timedelta(seconds=rng.randint(900, 1800))
        done = {**c, "phase": "end", "end": z(end), "billsec": (end - start).total_seconds() - 5,
                "duration": (end - start).total_seconds(), "disposition": "answered"}
        w.add(end, done)
        calls.append(done)
    _label(w, name, t0, t0 + timedelta(seconds=90),
           [K.trunk(tenant, f"sip-{tenant}")] + [K.ext(tenant, e.number) for e in exts], calls,
           tenant=tenant, accounts=[e.number for e in exts])


def _spend_cap(w: World, nums: Numbers, s: Scene) -> None:
    """The spend_cap scenario."""
    rng = w.rng
    name = s.name
    wd = s.workday
    fresh = s.fresh
    # A salesperson's phone, allowed to call abroad, used in office hours for parallel long calls to a
    # country the business calls (Cuba, 0.95 a minute): no count, time, route or country rule objects;
    # only the money does.
    ext = fresh("sales")
    t0 = _business_time(w, wd)
    t = t0
    calls = []
    for k in range(10):
        calls.append(_cdr(w, ext, t, "00" + rng.choice(nums.pool("CU", T.FIXED_LINE))[1:],
                          rng.randint(2400, 3600), call_id=f"fraud-{name}-{k}", route="international", pin="ok"))
        t += timedelta(seconds=rng.randint(60, 180))
    _label(w, name, t0, max(datetime.fromisoformat(c["end"].replace("Z", "+00:00")) for c in calls),
           [K.ext(ext.tenant, ext.number)], calls, tenant=ext.tenant, accounts=[ext.number])


def _account_takeover(w: World, nums: Numbers, s: Scene) -> None:
    """The account_takeover scenario."""
    rng = w.rng
    name = s.name
    fresh = s.fresh
    days = s.days
    workdays = s.workdays
    # A salesperson's portal password, phished: a login from abroad in a browser the account never used,
    # then calls to Cuba (a country the business calls) from the phone's account within the hour.
    ext = fresh("sales")
    later = [x for x in workdays if x > days[0]] or workdays
    t0 = _business_time(w, rng.choice(later))
    ip = f"{rng.choice([41, 102, 154, 197])}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    w.add(t0, {"type": "security", "tenant": ext.tenant, "ts": z(t0), "service": "web", "action": "login",
               "account": ext.number, "src_ip": ip, "outcome": "success", "protocol": "https", "port": 443,
               "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0"})
    t = t0 + timedelta(minutes=rng.randint(10, 40))
    calls = []
    for k in range(4):
        calls.append(_cdr(w, ext, t, "00" + rng.choice(nums.pool("CU", T.FIXED_LINE))[1:], rng.randint(300, 900),
                          call_id=f"fraud-{name}-{k}", route="international", pin="ok", src_ip=ip))
        t += timedelta(minutes=rng.randint(3, 10))
    _label(w, name, t0, t, [K.ext(ext.tenant, ext.number), K.ip(ip)], calls, tenant=ext.tenant, sources=[ip],
           accounts=[ext.number])


def _forwarding_abuse(w: World, nums: Numbers, s: Scene) -> None:
    """The forwarding_abuse scenario."""
    rng = w.rng
    name = s.name
    wd = s.workday
    fresh = s.fresh
    # A salesperson's voicemail PIN, guessed from outside: the forwarding is set to a number in Cuba (a
    # country the business calls), and the fraudster rings the extension from a cheap line, so every call
    # is forwarded out and billed to the PBX. Spaced out and in office hours: under the hourly spend cap,
    # and no count, time or country rule objects; only "who placed it" does.
    ext = fresh("sales")
    t0 = _business_time(w, wd)
    target = "00" + rng.choice(nums.pool("CU", T.FIXED_LINE))[1:]
    caller = "0" + rng.choice(nums.pool("GB", T.MOBILE))[3:]
    t = t0
    calls = []
    for k in range(4):
        calls.append(_cdr(w, ext, t, target, rng.randint(480, 900), call_id=f"fraud-{name}-{k}",
                          forwarded_from=ext.number, diversion=caller))
        t += timedelta(minutes=rng.randint(25, 45))
    _label(w, name, t0, max(datetime.fromisoformat(c["end"].replace("Z", "+00:00")) for c in calls),
           [K.ext(ext.tenant, ext.number)], calls, tenant=ext.tenant, accounts=[ext.number], numbers=[caller])


def _distributed_brute_force(w: World, nums: Numbers, s: Scene) -> None:
    """The distributed_brute_force scenario."""
    rng = w.rng
    name = s.name
    d = s.day
    fresh = s.fresh
    # A botnet guesses one account's SIP password slowly: each of 300 addresses tries once an hour, so
    # no address ever comes near a per-IP lockout; only counting per account sees it.
    ext = fresh("office")
    t0 = w.local(d, rng.uniform(0, 18))
    ips = [f"{rng.choice([5, 31, 37, 45, 77, 89, 93, 109, 176, 185])}.{rng.randint(0, 255)}."
           f"{rng.randint(0, 255)}.{rng.randint(1, 254)}" for _ in range(300)]
    ua = rng.choice(["Asterisk PBX 16.28.0", "Z 5.6.3 v2.10.19.9", "MicroSIP/3.21.3"])
    for hour in range(6):
        for ip in ips:
            t = t0 + timedelta(hours=hour, seconds=rng.uniform(0, 3600))
            w.add(t, {"type": "security", "tenant": ext.tenant, "ts": z(t), "service": "sip",
                      "action": "register", "account": ext.number, "src_ip": ip, "outcome": "failure",
                      "user_agent": ua, "protocol": "udp", "port": 5060})
    _label(w, name, t0, t0 + timedelta(hours=6), [K.ext(ext.tenant, ext.number)], [], tenant=ext.tenant,
           sources=ips, accounts=[ext.number])


def _registration_hijack(w: World, nums: Numbers, s: Scene) -> None:
    """The registration_hijack scenario."""
    rng = w.rng
    name = s.name
    d = s.day
    fresh = s.fresh
    ext = fresh("office")
    ip = f"{rng.choice([41, 102, 154, 197])}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    t0 = w.local(d, rng.uniform(0, 23))
    w.add(t0, {"type": "security", "tenant": ext.tenant, "ts": z(t0), "service": "sip", "action": "register",
               "account": ext.number, "src_ip": ip, "outcome": "success", "user_agent": "Zoiper rv2.10.20.1",
               "protocol": "udp", "contact": f"sip:{ext.number}@{ip}:{rng.randint(20000, 60000)}"})
    _label(w, name, t0, t0 + timedelta(seconds=1), [K.ext(ext.tenant, ext.number), K.ip(ip)], [],
           tenant=ext.tenant, sources=[ip], accounts=[ext.number])


def _wangiri(w: World, nums: Numbers, s: Scene) -> None:
    """The wangiri scenario."""
    rng = w.rng
    name = s.name
    d = s.day
    fresh = s.fresh
    t0 = w.local(d, rng.uniform(9, 16))
    premium = ["00" + p[1:] for p in nums.pool("LV", T.PREMIUM_RATE)[:8]]
    tenant = w.exts[0].tenant
    targets = [e for e in w.exts if e.tenant == tenant]
    t = t0
    callers = set()
    for k in range(30):
        ext = rng.choice(targets)
        w.add(t, {"type": "cdr", "tenant": tenant, "call_id": f"wangiri-in-{k}", "start": z(t),
                  "end": z(t + timedelta(seconds=2)), "src": rng.choice(premium)[2:], "dst": ext.number,
                  "duration": 2, "billsec": 0, "direction": "inbound", "disposition": "no_answer",
                  "trunk": f"sip-{tenant}"})
        callers.add("00" + w.events[-1][2]["src"])
        t += timedelta(seconds=rng.randint(5, 30))
    calls = []
    victims = []
    for k in range(3):
        ext = fresh("office", tenant)  # staff of the PBX the burst rang call back
        victims.append(ext)
        tc = t + timedelta(minutes=rng.randint(2, 40))
        calls.append(_cdr(w, ext, tc, rng.choice(premium), rng.randint(60, 400), call_id=f"fraud-{name}-{k}"))
    _label(w, name, t0, max(datetime.fromisoformat(c["end"].replace("Z", "+00:00")) for c in calls),
           [K.ext(v.tenant, v.number) for v in victims], calls, tenant=tenant,
           accounts=[v.number for v in victims], other_calls=[f"wangiri-in-{k}" for k in range(30)],
           numbers=callers)


PLAYS = {  # scenario name -> what plays it (SCENARIOS gives their order)
    "sip_scanner": _sip_scanner,
    "credential_stuffing": _credential_stuffing,
    "night_pumping": _pumping,
    "fast_pumping": _pumping,
    "slow_pumping": _pumping,
    "long_calls": _pumping,
    "pin_guessing": _pumping,
    "trunk_flood": _trunk_flood,
    "spend_cap": _spend_cap,
    "account_takeover": _account_takeover,
    "forwarding_abuse": _forwarding_abuse,
    "distributed_brute_force": _distributed_brute_force,
    "registration_hijack": _registration_hijack,
    "wangiri": _wangiri,
}


def trunk_limit(w: World) -> int:
    """Trunks sized like a real PBX: 30 channels, or about a third of the extensions for big sites."""
    per_tenant = max(sum(1 for e in w.exts if e.tenant == t) for t in {e.tenant for e in w.exts})
    return max(30, math.ceil(per_tenant * 0.3))


def policy_yaml(w: World, tenants: list[str]) -> str:
    """The policy the simulated PBXs run. Each tenant's extensions get their own settings (with several
    tenants, under ``tenants:``: extension 1021 may be a salesperson in one PBX and a call-centre seat in
    another)."""
    lines = [
        "# Generated by tollguard simulate: the policy the simulated PBXs run.",
        f"timezone: {TZ}", "home_country: GB", 'international_prefix: ["00", "+"]', 'national_prefix: "0"',
        "allowed_countries: [GB, IE, FR, DE, ES, NL, US, CU]",
        "spend_limits:",
        "  - {scope: extension, window: 1h, max_cost: 30}",
        "  - {scope: tenant, window: 24h, max_cost: 300}",
        "business_hours:", '  mon-fri: ["08:00-18:00"]',
        "holidays: [" + ", ".join(h.isoformat() for h in HOLIDAYS) + "]",
        "daily_calls: 400",
        "remote_registration: {access: allowed, accounts: []}",
        f"default_trunk: {{max_concurrent_calls: {trunk_limit(w)}}}",
    ]
    names = sorted({e.tenant for e in w.exts})
    if len(names) == 1:
        return "\n".join(lines + _tenant_lines(w, names[0], "")) + "\n"
    lines.append("tenants:")
    for name in names:
        lines.append(f"  {name}:")
        lines += _tenant_lines(w, name, "    ")
    return "\n".join(lines) + "\n"


def _tenant_lines(w: World, tenant: str, indent: str) -> list[str]:
    mine = [e for e in w.exts if e.tenant == tenant]
    sales = sorted({e.number for e in mine if e.role == "sales"})
    lines = [f"{indent}routes:",
             f"{indent}  international: {{extensions: [" + ", ".join(f'"{s}"' for s in sales) + "], pin: true}",
             f"{indent}extensions:", f"{indent}  defaults: {{international: false, outside_business_hours: false}}"]
    settings = {"sales": "international: true", "oncall": "outside_business_hours: true",
                "callcentre": "call_frequency: {calls: 5, seconds: 1}"}
    for e in sorted(mine, key=lambda e: e.number):
        if e.role in settings:
            lines.append(f'{indent}  "{e.number}": {{{settings[e.role]}}}')
    return lines


def simulate(days: int, seed: int, out: Path, tenants: int = 1, extensions: int = 50,
             scenarios: list[str] | None = None, live: bool = True) -> dict:
    rng = random.Random(seed)
    tz = ZoneInfo(TZ)
    exts: list[Ext] = []
    roles, weights = zip(*ROLES)
    for ti in range(tenants):
        tenant = "default" if tenants == 1 else f"pbx{ti + 1:02d}"
        for k in range(extensions):
            role = rng.choices(roles, weights)[0]
            exts.append(Ext(tenant, str(1000 + k), role, f"10.{ti}.{k // 200}.{k % 200 + 10}", rng.choice(UAS),
                            CALLS_PER_DAY[role] * rng.uniform(0.5, 1.5)))
    w = World(rng, tz, days, exts, live=live)
    nums = Numbers(random.Random(seed + 1))
    benign(w, nums)
    names = list(scenarios) if scenarios else list(SCENARIOS)
    for n in names:
        if n not in SCENARIOS:
            raise ValueError(f"unknown scenario {n!r} (known: {', '.join(SCENARIOS)})")
    attacks(w, nums, names, set())
    rates = RateTable.load()
    plan = number_plan("GB", ["00", "+"], "0")
    out.mkdir(parents=True, exist_ok=True)
    w.events.sort(key=lambda x: (x[0], x[1]))
    with open(out / "events.jsonl", "w") as fh:
        for _, _, ev in w.events:
            if ev["type"] == "cdr" and ev.get("direction", "outbound") == "outbound" and ev.get("phase") != "start" \
                    and "billsec" in ev:
                ev["cost"] = rates.cost(plan.classify(ev["dst"]), ev["billsec"])
            fh.write(json.dumps(ev, separators=(",", ":")) + "\n")
    tenant_names = sorted({e.tenant for e in exts})
    meta = {"labels_version": LABELS_VERSION, "seed": seed, "days": days, "start": START.isoformat(),
            "tenants": tenant_names, "extensions": len(exts), "events": len(w.events), "scenarios": w.labels}
    (out / "labels.json").write_text(json.dumps(meta, indent=2) + "\n")
    (out / "policy.yaml").write_text(policy_yaml(w, tenant_names))
    return meta


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--days", type=int, default=1, help="days of traffic (default 1)")
    p.add_argument("--seed", type=int, default=1, help="the same seed gives the same traffic (default 1)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write events.jsonl, labels.json and policy.yaml to")
    p.add_argument("--tenants", type=int, default=1, help="tenants, each with its own PBX (default 1)")
    p.add_argument("--extensions", type=int, default=50, help="extensions per tenant")
    p.add_argument("--scenario", action="append", metavar="NAME", help="only these scenarios (repeatable)")
    p.add_argument("--cdr-only", action="store_true", help="completed CDRs only, no live call-start events")


def main(args) -> int:
    import sys
    meta = simulate(args.days, args.seed, Path(args.out), args.tenants, args.extensions, args.scenario,
                    live=not args.cdr_only)
    print(f"simulate: {meta['events']} events, {meta['extensions']} extensions, {len(meta['scenarios'])} scenarios "
          f"-> {args.out}/events.jsonl, labels.json, policy.yaml", file=sys.stderr)
    return 0
