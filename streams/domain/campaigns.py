"""Campaigns: the attack detections of one tenant within one window, as one incident.

A distributed brute force, a sweep from disallowed countries or a scan wave raises one detection
per source address, and a botnet has tens of thousands of them. Each is one alert (the rules
judge every source on its own), but the SOC gets **one incident per campaign**: the detections
of the campaign families' rules against a tenant within ``campaign_seconds`` (default an hour,
aligned to the epoch), with counts per family, a sample of its sources, accounts and countries,
and the actions it ordered. One scanner that also guesses passwords is one campaign listing both
rules, as a botnet that sweeps from many countries while it guesses is.

- **Families** (:data:`FAMILIES`): ``brute_force`` (the lockouts), ``country`` (Allowed Country
  IPs), ``scan`` (scanner user agents, inbound probes, route scans) and ``flood`` (auto defense).
- **Not a campaign**: a detection whose event is a call or a successful sign-in. That source got
  in, or made calls, and keeps its own incident; so does every rule outside the families (the
  global blocklist, premium rate, takeovers...). ``campaign_seconds: 0`` turns campaigns off.
- **Order-independent**: the campaign is named by tenant and window start, so its id is
  the same whatever order the detections arrive in (replay and the worker agree). The members
  are kept as a bottom-k sample: the ``SAMPLE`` values with the smallest hashes, each with its
  exact count of detections. Which values are kept, and their counts, depend only on the set of
  detections, not on their order; past ``SAMPLE`` distinct values the count is an estimate and
  the record says so.

docs/incidents.md ("Campaigns") shows the record.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from functools import lru_cache
import msgspec

from streams.core.epochs import epoch_of, iso, z

FAMILIES = {
    "registration_lockout": "brute_force", "login_lockout": "brute_force", "account_lockout": "brute_force",
    "distributed_lockout": "brute_force", "country_ip": "country", "scanner_user_agent": "scan",
    "inbound_probe": "scan", "route_scan": "scan", "auto_defense": "flood",
}
SAMPLE = 32        # member values shown per dimension, with their counts (the smallest hashes)
SKETCH = 1024      # hashes kept per dimension to count its distinct values (exact below, about +-3% above)
EVENTS_SKETCH = 1024  # hashes of event identities kept to count a campaign's distinct events (about +-3% above)
_TOP = 2 ** 64 - 1   # above every 64-bit hash (and still a msgpack/JSON unsigned 64-bit integer)


def campaign_of(rule: str, at: float, seconds: int, alone: bool) -> str | None:
    """The campaign a detection belongs to (named by its window's start), or None: not a family's rule,
    campaigns off (``seconds`` 0), or a detection whose source got in or made a call (``alone``)."""
    if rule not in FAMILIES or not seconds or alone:
        return None
    return window_of(at, seconds)


def window_of(at: float, seconds: int) -> str:
    """The name of the campaign window holding ``at``: its start, RFC 3339."""
    return _window(epoch_of(at, seconds), seconds)


@lru_cache(maxsize=256)
def _window(epoch: int, seconds: int) -> str:  # a flood's detections share a few windows: named once each
    return z(iso(epoch * seconds))


@lru_cache(maxsize=65536)
def _hash(value: str) -> int:
    """A value's 64-bit hash (remembered: one flood source is counted by every rule that detects it)."""
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "big")


class Sketch(msgspec.Struct, array_like=True):
    """The ``size`` smallest distinct 64-bit hashes seen, ascending: a bottom-k count of distinct values
    (exact below ``size``; above it a relative error of about 1/sqrt(size)) that no arrival order changes."""
    hashes: list[int] = msgspec.field(default_factory=list)
    size: int = SKETCH

    def add(self, h: int) -> None:
        hashes = self.hashes
        if len(hashes) >= self.size and h >= hashes[-1]:
            return
        i = bisect_left(hashes, h)
        if i < len(hashes) and hashes[i] == h:
            return
        hashes.insert(i, h)
        if len(hashes) > self.size:
            hashes.pop()

    def distinct(self) -> tuple[int, bool]:
        """How many distinct values were seen, and whether that is an estimate."""
        if len(self.hashes) < self.size:
            return len(self.hashes), False
        return round((self.size - 1) * _TOP / self.hashes[-1]), True


class Tally(msgspec.Struct, array_like=True):
    """The distinct values of one dimension: counted by a :class:`Sketch`, and a bottom-k sample of them
    (the ``size`` with the smallest hashes) each with its count of detections."""
    kept: dict[str, int] = msgspec.field(default_factory=dict)
    edge: int = _TOP   # the largest hash kept once the sample is full (_TOP until then)
    size: int = SAMPLE
    sketch: Sketch = msgspec.field(default_factory=Sketch)

    def add(self, value: str) -> None:
        if value in self.kept:
            self.kept[value] += 1
            return
        h = _hash(value)
        self.sketch.add(h)
        if len(self.kept) < self.size:
            self.kept[value] = 1
            if len(self.kept) == self.size:
                self.edge = max(_hash(v) for v in self.kept)
            return
        if h >= self.edge:
            return
        worst = max(self.kept, key=_hash)
        del self.kept[worst]
        self.kept[value] = 1
        self.edge = max(_hash(v) for v in self.kept)

    def distinct(self) -> tuple[int, bool]:
        """How many distinct values were seen, and whether that is an estimate (more than the sketch holds)."""
        return self.sketch.distinct()


class CampaignState(msgspec.Struct, kw_only=True):
    """What a campaign incident keeps besides an incident's own fold."""
    start: str                     # the window's start (RFC 3339)
    families: dict[str, int] = msgspec.field(default_factory=dict)  # family -> detections
    sources: Tally = msgspec.field(default_factory=Tally)
    accounts: Tally = msgspec.field(default_factory=Tally)
    countries: Tally = msgspec.field(default_factory=Tally)
    events: Sketch = msgspec.field(default_factory=lambda: Sketch(size=EVENTS_SKETCH))
    detections: int = 0
    actions: dict[str, int] = msgspec.field(default_factory=dict)   # kind -> actions published

    def add(self, rule: str, ident: int, source: str | None, account: str | None, country: str | None) -> None:
        """One detection (several rules may detect on one event: the members count detections)."""
        self.events.add(_hash(str(ident)))
        self.detections += 1
        family = FAMILIES.get(rule, "other")
        self.families[family] = self.families.get(family, 0) + 1
        if source:
            self.sources.add(source)
        if account:
            self.accounts.add(account)
        if country:
            self.countries.add(country)


class Members(msgspec.Struct, kw_only=True):
    distinct: int
    estimated: bool       # more distinct values than the sample holds: ``distinct`` is a bottom-k estimate
    sample: list[tuple[str, int]]   # kept values with their detections, most first


class CampaignNote(msgspec.Struct, kw_only=True):
    """The campaign part of an incident record (``IncidentRecord.campaign``)."""
    window_start: str
    families: dict[str, int]
    events: int
    events_estimated: bool
    detections: int
    sources: Members
    accounts: Members
    countries: Members
    actions: dict[str, int]


def _members(t: Tally) -> Members:
    n, est = t.distinct()
    return Members(distinct=n, estimated=est, sample=sorted(t.kept.items(), key=lambda kv: (-kv[1], kv[0])))


def note(c: CampaignState) -> CampaignNote:
    events, estimated = c.events.distinct()
    return CampaignNote(window_start=c.start, families=dict(c.families), events=events, events_estimated=estimated,
                        detections=c.detections, sources=_members(c.sources),
                        accounts=_members(c.accounts), countries=_members(c.countries), actions=dict(c.actions))


def restore(n: CampaignNote) -> CampaignState:
    """A campaign's state rebuilt from its last record (its events count on from the record's)."""
    c = CampaignState(start=n.window_start, families=dict(n.families), detections=n.detections,
                      actions=dict(n.actions))
    for tally, members in ((c.sources, n.sources), (c.accounts, n.accounts), (c.countries, n.countries)):
        tally.kept = {v: k for v, k in members.sample}
        if len(tally.kept) >= tally.size:
            tally.edge = max(_hash(v) for v in tally.kept)
        for v in tally.kept:  # the sketch starts again from the sample (its distinct count goes on from here)
            tally.sketch.add(_hash(v))
    return c


def describe(campaign: dict) -> str:
    """One line about a campaign (``IncidentRecord.campaign`` as a dict): its size and the countries most
    seen. Raw text: account names come from attackers, so the caller escapes it for where it goes."""
    def count(name: str) -> str:
        m = campaign.get(name) or {}
        return f"{'~' if m.get('estimated') else ''}{m.get('distinct', 0):,}"
    countries = ", ".join(f"{c} {n:,}" for c, n in ((campaign.get("countries") or {}).get("sample") or [])[:3])
    events = f"{'~' if campaign.get('events_estimated') else ''}{campaign.get('events', 0):,}"
    families = ", ".join(sorted(campaign.get("families") or {}))
    sources = campaign.get("sources") or {}
    few = [str(v) for v, _ in (sources.get("sample") or [])] if 0 < sources.get("distinct", 0) <= 3 else []
    named = f" ({', '.join(few)})" if few else ""  # one scanner's campaign names it, so a search finds it
    return (f"campaign of {families or 'attacks'}: {events} events from {count('sources')} sources{named} against "
            f"{count('accounts')} accounts" + (f" (most from {countries})" if countries else ""))
