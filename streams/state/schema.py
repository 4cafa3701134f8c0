"""The declared state of each partition scope: named, typed slots, one owner each.

What a key stores is persisted (in the worker, as changelog records that a restarted or
second worker reads back), so it is a schema, versioned in the record's tag:

- ``IpState``    (key ``ip:<address>``)        — the network rules, across tenants;
- ``ExtState``   (key ``ext:<tenant>/<ext>``)  — the call and registration rules, the model;
- ``TrunkState`` (key ``trunk:<tenant>/<trunk>``) — trunk concurrency;
- ``TenantState`` (key ``tenant:<tenant>``)  — failed authentications across the tenant (``distributed_lockout``).

Each slot names its owner: the core (incidents, calls) or the rule whose id it carries. A rule
touches only its own slot. A changed meaning gets a new name, and a changed layout a new
version tag; a value whose tag this version does not know is refused with a clear log line,
never read as something else (``decode_state``).

Every slot is order-robust and idempotent (sets keyed by event identity, intervals, maxima),
so events may arrive in any order and a re-applied event changes nothing.
"""

from __future__ import annotations

from typing import Union

import msgspec

from streams.state.timeset import Intervals, TimeSet
from streams.state.valuewindow import ValueWindow

VERSION = 5  # 2: the failure windows' entries carry whether the event proved its source (rules._common.flagged)
#            3: account_lockout reads its sources from its windows (account_source_ips, account_locked)
#            4: the operator's own rules' windows (``custom``, streams.rules.custom)
#            5: registration_lockout's entries carry their account (registration_accounts, registration_locked)


class Incident(msgspec.Struct, gc=False, array_like=True):
    """One alert's incident: detections of one rule and subject in one epoch (core-owned)."""
    first: float        # earliest detection instant known (a late event can move it earlier)
    count: int          # detections folded in
    alert_id: str
    until: float        # end of the epoch (or of the block it caused), FOREVER for permanent ones


class Call(msgspec.Struct, gc=False, array_like=True):
    """A call of this extension seen in the last hours (core-owned; ``call_duration`` times it)."""
    start: float
    deadline: Union[float, None] = None   # live limit: the call is hung up once event time passes it
    limit: int = 0
    dst: str = ""
    ended: bool = False                   # its end CDR was seen (a late start then arms no timer)
    hung: bool = False                    # hung up by the live timer (its end CDR then raises nothing)


class Device(msgspec.Struct, gc=False, array_like=True):
    """A registered device of an extension (``concurrent_registrations``)."""
    ip: str
    regs: list[float] = msgspec.field(default_factory=list)      # successful registrations (sorted)
    unregs: list[float] = msgspec.field(default_factory=list)    # unregistrations / expiries (sorted)


class SpendWindow(msgspec.Struct, gc=False, omit_defaults=True):
    """The money of one spend limit in one key (``spend_limit``), kept for sliding sums in any order.

    Costs are integer micro-units in time buckets of ``size`` seconds (a thirtieth of the window),
    so a sum does not depend on the order calls arrive in; each call is counted once by identity."""
    size: float = 0.0
    buckets: dict[int, list[float]] = msgspec.field(default_factory=dict)  # bucket -> [micro-units, latest instant]
    calls: dict[int, list] = msgspec.field(default_factory=dict)   # identity -> [answer, end, cost, destination]
    live: dict[str, list] = msgspec.field(default_factory=dict)    # call id -> [answer, cost per s, destination, identity]
    due: Union[float, None] = None                                 # when calls in progress reach the limit
    total: float = 0.0                                             # micro-units held in all buckets (a bound)


class Takeover(msgspec.Struct, gc=False, omit_defaults=True):
    """How an account signs in, and the halves of a takeover waiting for each other (``account_takeover``)."""
    since: Union[float, None] = None                                        # earliest sign-in known
    ips: dict[str, list[float]] = msgspec.field(default_factory=dict)     # remote address -> sign-in times
    agents: dict[str, list[float]] = msgspec.field(default_factory=dict)  # user-agent family -> sign-in times
    remote: Union[list, None] = None   # the first sign-in from outside the LAN: [time, address, agent, kind, family]
    fresh: list[list] = msgspec.field(default_factory=list)   # new sign-ins: [time, address, agent, what is new, kind, learning]
    calls: list[list] = msgspec.field(default_factory=list)   # risky calls: [start, call id, number, why, live]


class Burst(msgspec.Struct, gc=False, array_like=True):
    """A Wangiri burst found (``wangiri_inbound``): calling one of its numbers, or any number under its
    range ``prefix``, back in [start, until) is a callback."""
    start: float
    until: float
    callers: list[str]
    prefix: str = ""  # the range most callers share ("" none); last and defaulted, so older values still read


class Dialled(msgspec.Struct, gc=False, array_like=True):
    """An outbound call abroad, remembered while a burst it calls back may still be found (``wangiri_inbound``)."""
    start: float
    src: str
    call_id: str
    live: bool      # first seen starting (in progress): a callback alert hangs it up


class OneRing(msgspec.Struct, gc=False, omit_defaults=True):
    """One-ring inbound calls from one country (``wangiri_inbound``)."""
    calls: TimeSet = msgspec.field(default_factory=TimeSet)
    callers: dict[str, float] = msgspec.field(default_factory=dict)   # calling number -> latest call
    targets: dict[str, float] = msgspec.field(default_factory=dict)   # extension rung -> latest call
    bursts: list[Burst] = msgspec.field(default_factory=list)         # bursts found (the most recent few)


class ScanTarget(msgspec.Struct, gc=False, omit_defaults=True):
    """Calls to one foreign number from inbound or unauthenticated contexts (``route_scan``), kept for
    counting its distinct dial forms in a sliding window, in any order. The hashes are CRC-32s (the same
    in every process); the dicts name them (bounded, the most recent kept)."""
    tries: TimeSet = msgspec.field(default_factory=TimeSet)  # (instant, form hash << 32 | source hash << 1 | proven)
    forms: dict[str, float] = msgspec.field(default_factory=dict)    # dial form -> latest attempt
    sources: dict[str, float] = msgspec.field(default_factory=dict)  # source address ("": none known) -> latest
    callers: dict[str, float] = msgspec.field(default_factory=dict)  # calling number -> latest attempt


class Features(msgspec.Struct, gc=False, omit_defaults=True):
    """The anomaly model's per-extension behaviour (owned by ``anomaly``, see models/features.py)."""
    t: Union[float, None] = None                      # latest call start folded in
    s1: list[float] = msgspec.field(default_factory=lambda: [0.0, 0.0])        # ~1 h: calls, cost
    s24: list[float] = msgspec.field(default_factory=lambda: [0.0] * 8)        # ~24 h sums
    mx: float = 0.0                                   # decayed longest talk time
    seen: list[int] = msgspec.field(default_factory=list)        # destinations ever called (hashes)
    recent: dict[int, float] = msgspec.field(default_factory=dict)  # destination hash -> last call
    countries: dict[str, float] = msgspec.field(default_factory=dict)
    usual: Union[list[float], None] = None            # the extension's running usual feature values
    spread: Union[list[float], None] = None           # ... and how far its calls usually stray from them
    calls: list[str] = msgspec.field(default_factory=list)       # recent call ids (a call is learnt once)
    held: list[list[float]] = msgspec.field(default_factory=list)  # detections holding calls: [event time, from, until, call]


class IpState(msgspec.Struct, gc=False, tag=f"ip/{VERSION}", omit_defaults=True):
    incidents: dict[str, Incident] = msgspec.field(default_factory=dict)
    last: Union[float, None] = None   # core: the latest event time that touched this key (streams.state.expiry)
    auto_defense: dict[str, TimeSet] = msgspec.field(default_factory=dict)    # per auto-defense rule name
    registration_lockout: Union[TimeSet, None] = None
    registration_accounts: dict[int, str] = msgspec.field(default_factory=dict)  # account hash -> name (those held)
    registration_locked: dict[str, list[int]] = msgspec.field(default_factory=dict)  # epoch -> accounts locked, -1: blocked
    login_lockout: Union[TimeSet, None] = None
    blocks: dict[str, list[list[float]]] = msgspec.field(default_factory=dict)  # tenant -> [start, until]: what its alerts blocked (core: Ctx.block; global_blocklist reads)
    seen: dict[str, list[float]] = msgspec.field(default_factory=dict)          # tenant -> recent event times (global_blocklist)
    custom: dict[str, ValueWindow] = msgspec.field(default_factory=dict)    # the operator's own rules: rule|group -> window (bounded)


class ExtState(msgspec.Struct, gc=False, tag=f"ext/{VERSION}", omit_defaults=True):
    incidents: dict[str, Incident] = msgspec.field(default_factory=dict)
    last: Union[float, None] = None   # core: the latest event time that touched this key (streams.state.expiry)
    calls: dict[str, Call] = msgspec.field(default_factory=dict)
    call_frequency: Union[TimeSet, None] = None
    pin_failures: Union[TimeSet, None] = None
    daily_calls: dict[int, TimeSet] = msgspec.field(default_factory=dict)       # local day -> calls
    sequential_calls: dict[str, TimeSet] = msgspec.field(default_factory=dict)  # number -> calls
    devices: dict[str, Device] = msgspec.field(default_factory=dict)           # concurrent_registrations
    anomaly: Union[Features, None] = None
    account_failures: dict[str, TimeSet] = msgspec.field(default_factory=dict)  # registration|login -> failures
    account_source_ips: dict[int, str] = msgspec.field(default_factory=dict)  # account_lockout: failure source id -> IP
    account_locked: dict[str, list[int]] = msgspec.field(default_factory=dict)  # account_lockout: kind|epoch -> locked ids
    next_timer: Union[float, None] = None   # core: the earliest live-call deadline of this key
    account_takeover: Union[Takeover, None] = None
    spend_limit: dict[str, SpendWindow] = msgspec.field(default_factory=dict)  # per limit (and country)
    custom: dict[str, ValueWindow] = msgspec.field(default_factory=dict)    # the operator's own rules: rule|group -> window (bounded)


class TrunkState(msgspec.Struct, gc=False, tag=f"trunk/{VERSION}", omit_defaults=True):
    incidents: dict[str, Incident] = msgspec.field(default_factory=dict)
    last: Union[float, None] = None   # core: the latest event time that touched this key (streams.state.expiry)
    live: dict[str, float] = msgspec.field(default_factory=dict)               # call id -> start (phase start seen)
    live_latest: Union[float, None] = None                                    # latest start in ``live`` (None: unknown)
    pending: dict[str, list] = msgspec.field(default_factory=dict)           # call id -> [start, identity]: to judge
    done: Intervals = msgspec.field(default_factory=Intervals)                  # completed calls [start, end)
    spend_limit: dict[str, SpendWindow] = msgspec.field(default_factory=dict)  # per limit (and country)
    custom: dict[str, ValueWindow] = msgspec.field(default_factory=dict)    # the operator's own rules: rule|group -> window (bounded)


class TenantState(msgspec.Struct, gc=False, tag=f"tenant/{VERSION}", omit_defaults=True):
    incidents: dict[str, Incident] = msgspec.field(default_factory=dict)
    last: Union[float, None] = None
    failures: Union[TimeSet, None] = None                                    # distributed_lockout
    failure_sources: Union[TimeSet, None] = None     # distributed_lockout: each failure as (instant, its source)
    failure_accounts: Union[TimeSet, None] = None    # distributed_lockout: each failure as (instant, its account)
    accounts: dict[str, float] = msgspec.field(default_factory=dict)        # failing account -> last time (bounded)
    sources: dict[str, float] = msgspec.field(default_factory=dict)         # failing source IP -> last time (bounded)
    probes: dict[str, TimeSet] = msgspec.field(default_factory=dict)        # inbound_probe: per source (bounded)
    wangiri_inbound: dict[str, OneRing] = msgspec.field(default_factory=dict)  # per calling country (bounded)
    wangiri_dialled: dict[str, list[Dialled]] = msgspec.field(default_factory=dict)  # wangiri_inbound: E.164 -> calls to it
    spend_limit: dict[str, SpendWindow] = msgspec.field(default_factory=dict)  # per limit (and country)
    route_scan: dict[str, ScanTarget] = msgspec.field(default_factory=dict)  # per target E.164 (bounded)


KeyState = Union[IpState, ExtState, TrunkState, TenantState]
STATE_TYPES = {"ip": IpState, "ext": ExtState, "trunk": TrunkState, "tenant": TenantState}
CORE_SLOTS = {  # the slots the detection core keeps; every other slot is one rule's (its STATE, the rule contract)
    "ip": ("incidents", "last", "blocks"),   # blocks: what the tenants' alerts blocked (Ctx.block)
    "ext": ("incidents", "last", "calls", "next_timer"),  # its calls in progress (call_duration sets their limits), earliest timer
    "trunk": ("incidents", "last"),
    "tenant": ("incidents", "last"),
}
EMPTY = {scope: t() for scope, t in STATE_TYPES.items()}  # what a key that holds nothing looks like


class StateVersionError(ValueError):
    """A persisted value written by another schema version (or not by tollguard at all)."""
