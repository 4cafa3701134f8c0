"""tollguard's compiled engine (engine/, built by maturin). Private: use models.forest, not this module."""

__version__: str

class Forest:
    """An isolation forest scored as scikit-learn's ``IsolationForest.score_samples`` does (negated)."""

    def __init__(
        self,
        trees: list[tuple[list[int], list[int], list[int], list[float], list[bool], list[float], list[float], list[int]]],
        width: int,
        max_samples: float,
    ) -> None: ...
    def score(self, rows: list[float]) -> list[float]:
        """One score per row; ``rows`` holds ``width`` values per row, one row after another."""
    @property
    def width(self) -> int: ...
    @property
    def trees(self) -> int: ...

class LogReader:
    """One PBX security log file read as ``streams.intake.seclog.parse_line`` reads it, with its
    ``LogState`` held in Rust (identical results; tests/streams/intake/test_seclog_engine.py)."""

    def __init__(self, fmt: str, tz: str, tenant: str = "default", year: int | None = None) -> None:
        """``fmt`` one of seclog.FORMATS, ``tz`` a zoneinfo name (ValueError for an unknown one)."""
    def parse(self, lines: list[str]) -> list[dict[str, str | int | bool] | str | None]:
        """Per line (no newline): its event dict, None when it is no security event, or the reason
        it is refused (the reference's AdapterError text)."""
    def snapshot(self) -> dict[str, str | int | None]:
        """``LogState.snapshot()``: year, last, cut_tail, cut_left."""
    def restore(self, snap: dict[str, str | int | None]) -> None:
        """``LogState.restore`` of a snapshot into this reader."""

def sniff_line(line: str) -> str | None:
    """``streams.intake.seclog.sniff_line``."""

# The per-key windows (engine/src/window/): bit-for-bit ports of streams.state.timeset.TimeSet and
# Intervals and streams.state.valuewindow.ValueWindow, held to them by tests/engine/test_windows_engine.py.
# Not used by the detector yet. Where the reference raises (span 0, an epoch of an infinite or NaN end,
# an index out of range) these raise ValueError or IndexError. Unlike the reference they also refuse a
# negative keep (ValueError), an id below 0 or at or above 2**64 (every id the rules make fits), and a
# value outside the signed 64 bits (OverflowError; a value_sum field above ~9.2e12 would be one).

class TimeSet:
    """``streams.state.timeset.TimeSet``: a sorted set of ``(time, id)`` entries."""

    def __init__(self) -> None: ...
    @staticmethod
    def from_json(data: bytes) -> TimeSet:
        """``msgspec.json.decode(data, type=TimeSet)`` (``[t, ids]``); ValueError when msgspec would refuse it."""
    def to_json(self) -> bytes:
        """``msgspec.json.encode(timeset)``, byte for byte."""
    def __len__(self) -> int: ...
    @property
    def t(self) -> list[float]: ...
    @property
    def ids(self) -> list[int]: ...
    def add(self, time: float, ident: int) -> int: ...
    def count(self, end: float, seconds: float) -> int: ...
    def exceeded(self, i: int, seconds: float, limit: int, span: float | None = None) -> list[tuple[float, int]]: ...
    def prune(self, before: float, keep: int) -> None: ...
    def compact(self, lo: float, hi: float, keep: int) -> None: ...

class Intervals:
    """``streams.state.timeset.Intervals``: completed ``[start, end)`` intervals, sorted by end."""

    def __init__(self) -> None: ...
    @staticmethod
    def from_json(data: bytes) -> Intervals:
        """``[ends, starts, ids, by_start]`` (``by_start`` may be missing: rebuilt on first use)."""
    def to_json(self) -> bytes: ...
    def __len__(self) -> int: ...
    @property
    def ends(self) -> list[float]: ...
    @property
    def starts(self) -> list[float]: ...
    @property
    def ids(self) -> list[int]: ...
    @property
    def by_start(self) -> list[float]: ...
    def add(self, start: float, end: float, ident: int) -> int: ...
    def latest_start(self) -> float | None: ...
    def ended_by(self, t: float) -> int: ...
    def count_at(self, t: float) -> int: ...
    def holds(self, ident: int, start: float) -> bool: ...
    def overlapping(self, lo: float, hi: float) -> list[tuple[float, float]]: ...
    def prune(self, before: float, keep: int) -> None: ...

class ValueWindow:
    """``streams.state.valuewindow.ValueWindow``: a ``(time, id)`` set whose entries carry an int value."""

    def __init__(self) -> None: ...
    @staticmethod
    def from_json(data: bytes) -> ValueWindow:
        """``[t, ids, vals]``."""
    def to_json(self) -> bytes: ...
    def __len__(self) -> int: ...
    @property
    def t(self) -> list[float]: ...
    @property
    def ids(self) -> list[int]: ...
    @property
    def vals(self) -> list[int]: ...
    def add(self, time: float, ident: int, value: int = 0) -> int: ...
    def hits(self, i: int, seconds: float, threshold: float, kind: str) -> list[tuple[float, int]]:
        """``kind``: event_count, value_count, or (any other name, as in the reference) value_sum."""
    def prune(self, before: float, keep: int) -> None: ...

# The event contract (engine/src/event/, a port of streams.domain.events' decoding; not wired in yet).
# ``fields``: ``type`` first, then every field, defaults included; a datetime is (its ``timestamp()``,
# (year, month, day, hour, minute, second, microsecond, UTC offset in minutes)).
EventFields = dict[str, str | float | int | bool | None | tuple[float, tuple[int, int, int, int, int, int, int, int]]]

def decode_events(raws: list[bytes], fields: bool = True) -> list[str | tuple[bytes, float, int, EventFields | None]]:
    """``decode_event_bytes`` of each input: the reason it is refused, or (the bytes it reads back as, the
    input object itself when nothing changed; ``event_time``; ``event_ident``; its fields, with ``fields``)."""

def decode_records(raws: list[bytes]) -> list[str | list[tuple[int | None, bytes, tuple[float, int, EventFields] | None, str | None]]]:
    """``record_events(raw, canonical=True)`` of each record: the reason a batch record cannot be split, or
    its items as (index or None, bytes, (event_time, event_ident, fields) or None, reason or None)."""

# Ids and epochs (engine/src/ids.rs, ports of the detector's ids, epochs and timestamps; not wired in yet).
# The same values as the reference, bit for bit, and the same exceptions where it raises.

def hash_id(*parts: str | int | float | bool | None) -> str:
    """``streams.core.detector._hash(*parts)``: the blake2b-80 hex of ``"|".join(map(str, parts))`` (alert,
    action and unblock ids). Each part of exactly one of these types (TypeError otherwise)."""

def epoch_of(at: float, span: float) -> int:
    """``streams.core.epochs.epoch_of``: 0 when ``span >= FOREVER``, else ``math.floor(at / span)``."""

def iso_text(ts: float) -> str:
    """``streams.core.epochs.iso(ts)`` as msgspec writes it in an alert or action record, without the quotes
    (``2024-12-07T08:47:14.123456Z``): ``datetime.fromtimestamp``'s half-even microseconds included."""

def incident_id(tenant: str, subject_type: str, subject: str, first_alert: str) -> str:
    """``streams.domain.incidents.incident_id``: ``i-`` and a blake2b-80 hex."""

def call_key(call_id: str) -> str:
    """``streams.domain.incidents._call_key``: the call id (at most 64 code points), else ``#`` and its
    blake2b-96 hex."""

def seen_ident(alert_id: str, ts: float) -> int:
    """``streams.domain.incidents._ident_of``: blake2b-56 of ``f"{alert_id}|{ts!r}"`` as a big-endian int."""

def detection_ident(alert_id: str, ident: int) -> int:
    """The detection ``IncidentFold._count_in`` counts once: blake2b-56 of ``f"{alert_id}|{ident}"``
    (``ident`` within 128 bits)."""

def campaign_hash(value: str) -> int:
    """``streams.domain.campaigns._hash``: blake2b-64 of ``value`` as a big-endian int."""

# The per-key state codec (engine/src/state/, the changelog values of streams/shells/worker/statecodec.py;
# not wired in yet). Byte for byte msgspec's, and refuses what decode_value refuses.

def state_roundtrip(raw: bytes) -> bytes:
    """``encode_value(decode_value(raw))`` for a key's state (``ip/5``, ``ext/5``, ``trunk/5``, ``tenant/5``),
    decoded into the Rust types and encoded back. ValueError where ``decode_value`` raises (another tag,
    named: "schema 'ext/4'"; a wrong-typed field; malformed or trailing bytes), and for a partition's
    ``clock/1`` or ``incidents/1`` record, which is not a key's state."""

def state_scope(raw: bytes) -> str:
    """The scope of a key's state value: ``"ip"``, ``"ext"``, ``"trunk"`` or ``"tenant"``; ValueError as
    ``state_roundtrip``."""

# The anomaly model's features (engine/src/features.rs, a port of models.features.ExtensionFeatures.update;
# not wired in yet). Bit for bit the reference's vector and msgspec's bytes of the state after the call.

def features_update(
    state: bytes, facts: tuple[float, str, str | None, bool, bool, bool, float, float, bool]
) -> tuple[bytes, list[float]]:
    """``ExtensionFeatures.update(f, c)`` with ``f`` given as ``msgspec.msgpack.encode(f)`` (a
    ``streams.state.Features``) and ``c`` as the fields of its ``CallFacts`` in order (ts, dst, country,
    international, premium, offhours, billsec, cost, failed; floats and bools exactly): the state's bytes
    after the call (what ``msgspec.msgpack.encode(f)`` gives then) and the feature vector. ValueError for
    bytes msgspec would not decode as a ``Features``, TypeError for a field of another type, IndexError and
    ZeroDivisionError where the reference raises (an ``s1``/``s24`` too short; no calls after the call)."""

# The canonical order (engine/src/order.rs, a port of streams.core.ordering; not wired in yet). Release for
# release the reference's: CPython's heapq algorithm on the reference's tuples (time, order, seq, item,
# late), so equal times, -0.0 and NaN times come out where the reference puts them; a NaN time object held
# twice compares equal to itself, as in Python. Times must be floats and tenants exact strs (TypeError).

class Sequencer:
    """``streams.core.ordering.Sequencer`` with ``str`` tenants and ``bytes`` order keys."""

    def __init__(self, lateness: float = 0.0) -> None: ...
    lateness: float
    def push(self, tenant: str, ts: float, order: bytes, item: object) -> bool:
        """Hold ``item``; True when it is late (its tenant already released something later)."""
    def release(self, tenant: str, watermark: float) -> list[tuple[float, object, bool]]:
        """``(time, item, late)`` of this tenant up to ``watermark - lateness``, in canonical order."""
    def drain(self) -> list[tuple[str, float, object, bool]]:
        """``list(Sequencer.drain())``: everything still held, tenant by tenant (first pushed first)."""
    def tenants(self) -> list[str]:
        """The tenants holding something, in the order of their first push."""
    def __len__(self) -> int: ...
    @property
    def late(self) -> int:
        """How many items were late when pushed."""
    @property
    def frontier(self) -> dict[str, float]:
        """Per tenant, the latest on-time time released (a new dict, in the reference's order)."""

def order_events(keys: list[tuple[str, float, bytes] | None], lateness: float) -> list[tuple[int, bool]]:
    """``in_event_time_order`` over records whose keys are ``keys`` (None: a record passed straight on):
    ``(index into keys, late)`` in the order the reference yields the records. KeyError(tenant) where the
    reference raises it (a tenant's first time NaN or ``-inf``)."""

# The key lifecycle (engine/src/lifecycle.rs), not used by the detector yet: held to
# streams.state.lifecycle.KeyLifecycle and streams.state.expiry by tests/engine/test_lifecycle_engine.py.
# It keeps the keys' states itself (the detector's ``state``), given and returned as changelog values;
# a tenant is its name and its ``retention`` dict (``CompiledTenant.retention``: a float per scope).

class KeyLifecycle:
    """``streams.state.lifecycle.KeyLifecycle`` with the states it keeps."""

    def __init__(self, max_keys: int | None = 200_000) -> None: ...
    def write(self, key: str, scope: str, raw: bytes, tenant: str, retention: dict[str, float], ts: float) -> bool:
        """``write(state, key, scope, st, tenant, ts)``: True when stored (perhaps evicted at once, over the
        budget); ``last`` is set as the reference sets it. ValueError, OverflowError or IndexError where
        the reference raises (an expiry that is NaN or infinite, a block of fewer than two times);
        KeyError for an unknown scope."""
    def expire(self, tenant: str, retention: dict[str, float], limit: float) -> int:
        """``expire(state, tenant, limit)``: how many keys were deleted."""
    def rebuild(self, key: str, scope: str, raw: bytes, tenant: str, retention: dict[str, float]) -> None:
        """Hold a key read back from the changelog and index it, as ``rebuild`` does."""
    def state(self, key: str) -> bytes | None:
        """The changelog value of a held key."""
    def keys(self) -> list[str]:
        """The held keys, in no particular order."""
    def indexed(self, key: str) -> tuple[float, str] | None:
        """The expiry bucket and tenant a key is indexed under."""
    @property
    def counts(self) -> dict[str, int]: ...
    @property
    def expired(self) -> int: ...
    @property
    def evicted(self) -> int: ...
    @property
    def max_keys(self) -> int | None: ...
    def __len__(self) -> int: ...


# The registered country of an address (engine/src/country.rs), for the Rust detector: the iptocc crate
# at the version whose tables the iptocc wheel embeds, held to streams.reference.countries.country_of by
# tests/engine/test_country_engine.py.

def country_of(ip: str) -> str | None:
    """``streams.reference.countries.country_of(ip)`` without its cache."""

def countries_of(ips: list[str]) -> list[str | None]:
    """``country_of`` of each address, in order."""

# A tenant's policy as the engine reads it (engine/src/policy.rs): the document Tenant.document() writes,
# held to streams.policy.compiled.Tenant by tests/engine/test_policy_engine.py. Not used by the detector yet.

TENANT_DOC_VERSION: int

class TenantDoc:
    """``streams.policy.compiled.Tenant`` read from its ``document()`` (ValueError: not one, or another version)."""
    def __init__(self, doc: bytes) -> None: ...
    @property
    def name(self) -> str: ...
    def in_lan(self, ip: str) -> bool:
        """``Tenant.in_lan(parse_ip(ip))`` (ValueError: not an address)."""
    def exempt(self, ip: str) -> bool:
        """``Tenant.exempt(parse_ip(ip))``."""
    def business_hours(self, ts: float) -> bool | None:
        """``Tenant.business_hours(ts)``."""
    def local_day(self, ts: float) -> int:
        """``Tenant.local_day(ts)``."""
    def flood_settings(self) -> dict:
        """What the engine read of the flood rules' settings, as plain values."""

# The detector's output records (engine/src/record.rs), as streams.domain.events.encode writes the Python
# structs, held to it by tests/engine/test_record_engine.py. Not used by the detector yet. An instant is a
# float (written as iso() writes it); an action is its fields in declared order.

ActionFields = tuple[str, float, str, str, str, int | None, str, str, str | None]

def alert_json(alert_id: str, ts: float, tenant: str, rule: str, severity: str, subject_type: str, subject: str,
               summary: str, evidence: dict, mode: str) -> bytes:
    """``encode(Alert(...))`` (TypeError: a set, bytes or a float key in the evidence)."""

def action_json(fields: ActionFields) -> bytes:
    """``encode(Action(...))``."""

def seen_json(alert_id: str, ts: float, tenant: str, rule: str, severity: str, subject_type: str, subject: str,
              summary: str, span: float, ident: int, call_id: str | None, cost: float | None,
              actions: list[ActionFields], campaign: str | None, source: str | None, account: str | None,
              country: str | None) -> bytes:
    """``encode(Seen(...))``."""

# The one way to emit an alert (engine/src/emit.rs): Ctx.emit and what it calls, on a key's state given as its
# changelog value. Held to streams.core.detector.Ctx.emit by tests/engine/test_emit_engine.py; not used yet.

CAMPAIGN_RULES: list[str]

def emit_step(doc: TenantDoc, other: TenantDoc | None, scope: str, state: bytes, ts: float, settled: float, ident: int,
              source: tuple[str, str | None, float | None, str | None, str | None, str | None],
              call: tuple[str, str, str, str, str, dict, list[tuple[str, str, int | None, str | None]], str,
                          float | None, float | None, bool]) -> tuple[bool, list[bytes], bytes, bool]:
    """One ``Ctx.emit``: (a new alert?, the records it appended as ``encode`` writes them, the state after,
    whether it recorded a block: ``Ctx.blocks_changed``).
    ``source`` is (``"none"``, ``"cdr"`` or ``"security"``, call_id, cost, outcome, src_ip, account); ``call`` is
    emit's arguments in order; ``other`` is the ``tenant=`` a rule passed. ValueError for a tenant whose
    ``privacy`` is on (not ported yet)."""

def rule_step(rule: str, doc: TenantDoc, tenants: dict[str, TenantDoc], scope: str, state: bytes, event: bytes, ts: float,
              settled: float, ident: int, blocks_changed: bool, cost: float | None) -> tuple[list[bytes], bytes, bool]:
    """One rule's ``check(ctx, event)`` (engine/src/rules/): the records it appended, the state after, and
    ``Ctx.blocks_changed``. ``event`` as ``encode`` writes it; ``tenants`` the other tenants' documents by name
    (``global_blocklist``: KeyError for one missing); ``cost`` a CDR's cost as ``_seen`` works it out. ValueError
    for a rule, scope or event the engine does not judge yet."""

def ip_scope_step(doc: TenantDoc, tenants: dict[str, TenantDoc], state: bytes | None, event: bytes, ts: float,
                  settled: float, ident: int, cost: float | None) -> tuple[list[bytes], bytes | None]:
    """``Detector.process``'s IP scope for one event (the active rules in evaluation order on one key): the
    records and the state after (``state`` None: a key not held yet); ``([], None)`` when no rule of the scope
    judges the event (an inbound CDR, a kind no rule wants). ValueError for a tenant with rules of its own in
    the scope or with privacy on (not in the engine yet)."""

def ip_scope_rules() -> list[tuple[str, bool, bool, str | None]]:
    """The IP scope's ported rules in evaluation order: (rule, judges security events, judges CDRs, the one
    kind it wants or None for every kind)."""
