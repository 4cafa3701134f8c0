"""The event contract: CDRs and security events in, alerts and actions out.

These structs are the public interface carriers write to; ``streams/schemas/*.json`` is
generated from them (``tollguard schema``). Decoding is done with msgspec because it
validates while it parses (about 1 µs per event), which keeps the hot path cheap.

Unknown extra fields are accepted and ignored by the detector; shells that forward events
(``produce``, the worker's repartition topics) forward the original bytes, so extra fields
are kept end to end.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timezone
from functools import lru_cache
from zlib import crc32
from typing import Annotated, Any, Iterable, Iterator, Literal, Union

import msgspec

from streams.domain.ruleids import SEVERITIES
from streams.reference.text import HOSTILE_JSON, escape

AwareDatetime = Annotated[
    datetime,
    msgspec.Meta(tz=True, description="RFC 3339 timestamp with an offset or Z"),
]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
OptText = Union[Annotated[str, msgspec.Meta(max_length=512)], None]
Seconds = Annotated[float, msgspec.Meta(ge=0, le=10_000_000)]


@lru_cache(maxsize=65536)
def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse an IP address once per distinct string (raises ValueError on junk). An IPv4-mapped
    IPv6 address (``::ffff:10.0.0.1``, how dual-stack sockets report IPv4 peers) is the IPv4 one."""
    ip = ipaddress.ip_address(text)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@lru_cache(maxsize=65536)
def canonical_ip(text: str) -> str:
    """One spelling per address (``::FFFF:10.0.0.1`` and ``10.0.0.1``; ``2001:DB8:0::1`` and
    ``2001:db8::1``), so an attacker cannot split one source's counts over several keys."""
    return str(parse_ip(text))


class Cdr(msgspec.Struct, tag_field="type", tag="cdr", kw_only=True, omit_defaults=True):
    """A call detail record: a completed call (``phase: end``) or a call in progress (``phase: start``)."""

    call_id: Text
    start: AwareDatetime
    src: Text
    dst: Annotated[str, msgspec.Meta(max_length=256)]
    tenant: Text = "default"
    phase: Literal["start", "end"] = "end"
    answer: Union[AwareDatetime, None] = None
    end: Union[AwareDatetime, None] = None
    duration: Union[Seconds, None] = None
    billsec: Union[Seconds, None] = None
    direction: Literal["outbound", "inbound", "internal"] = "outbound"
    trunk: OptText = None
    route: OptText = None
    disposition: Union[Literal["answered", "no_answer", "busy", "failed"], None] = None
    src_ip: OptText = None
    user_agent: OptText = None
    pin: Union[Literal["ok", "bad"], None] = None
    cost: Union[Annotated[float, msgspec.Meta(ge=0)], None] = None
    forwarded_from: OptText = None   # the extension whose call forwarding placed this call
    transferred_by: OptText = None   # the extension (or party) that transferred the call out
    diversion: OptText = None        # the SIP Diversion / History-Info number the call was diverted from

    def check(self) -> None:
        """What the schema cannot say (decode_event runs it; internal re-reads of checked events do not)."""
        if self.src_ip is not None:
            _check_ip(self.src_ip, "src_ip")
        _check_time(self.start, "start")
        if self.end is not None:
            _check_time(self.end, "end")
            if self.end < self.start:
                raise ValueError("`end` is before `start`")
        if self.answer is not None:
            _check_time(self.answer, "answer")

    @property
    def ts(self) -> datetime:
        """Event time: when the call started (phase start) or ended (phase end)."""
        if self.phase == "end":
            if self.end is not None:
                return self.end
            if self.duration is not None:
                return datetime.fromtimestamp(self.start.timestamp() + self.duration, timezone.utc)
        return self.start


class SecurityEvent(msgspec.Struct, tag_field="type", tag="security", kw_only=True, omit_defaults=True):
    """A registration, login or request seen by a PBX, SBC or web front end."""

    ts: AwareDatetime
    service: Text
    src_ip: Text
    outcome: Literal["success", "failure", "request"]
    tenant: Text = "default"
    action: OptText = None
    account: OptText = None
    user_agent: OptText = None
    protocol: Union[Literal["udp", "tcp", "tls", "http", "https", "ws", "wss"], None] = None
    port: Union[Annotated[int, msgspec.Meta(ge=0, le=65535)], None] = None
    contact: OptText = None
    reason: OptText = None
    dialled: OptText = None   # the number a refused call asked for (a scanner's probe), as the log gave it
    context: OptText = None   # the dialplan context or SIP profile the request arrived in
    round_trip: Union[bool, None] = None

    def check(self) -> None:
        """What the schema cannot say (decode_event runs it; internal re-reads of checked events do not)."""
        _check_ip(self.src_ip, "src_ip")
        _check_time(self.ts, "ts")


class Unblock(msgspec.Struct, tag_field="type", tag="unblock", kw_only=True, omit_defaults=True):
    """The SOC lifts the blocks on a target (``tollguard unblock``): sent on the security topic, judged
    by the IP scope for an address and by the tenant scope otherwise, honoured from ``ts`` on."""

    ts: AwareDatetime
    target: Text
    reason: Text
    tenant: Text = "default"
    by: OptText = None

    def check(self) -> None:
        _check_time(self.ts, "ts")


Event = Union[Cdr, SecurityEvent, Unblock]

Severity = Literal[SEVERITIES]  # type: ignore[valid-type]
SubjectType = Literal["ip", "account", "extension", "trunk", "number", "tenant"]
ActionKind = Literal["block_ip", "lock_account", "disable_outbound", "hangup_call", "block_number", "unblock"]


class Alert(msgspec.Struct, tag_field="type", tag="alert", kw_only=True):
    alert_id: str
    ts: datetime
    tenant: str
    rule: str
    severity: Severity
    subject_type: SubjectType
    subject: str
    summary: str
    evidence: dict[str, Any]
    mode: Literal["enforce", "report"]


class Action(msgspec.Struct, tag_field="type", tag="action", kw_only=True, omit_defaults=True):
    action_id: str
    ts: datetime
    tenant: str
    kind: ActionKind
    target: str
    duration_s: Union[int, None]
    alert_id: str
    reason: str
    from_ip: Union[str, None] = None  # lock_account: the source address the lock applies to (None: the whole account)


MIN_TIME = datetime(1971, 1, 1, tzinfo=timezone.utc)
MAX_TIME = datetime(2200, 1, 1, tzinfo=timezone.utc)  # far enough for any PBX; start + any duration stays representable


def _check_time(value: datetime, field: str) -> None:
    if not MIN_TIME <= value < MAX_TIME:
        raise ValueError(f"`{field}` is out of range ({value.isoformat()}): expected 1971 to 2199")


def event_time(event: "Event") -> float:
    """Event time in epoch seconds: a security event's ``ts``; a CDR's start (phase start) or end."""
    if not isinstance(event, Cdr):
        return event.ts.timestamp()
    if event.phase == "end":
        if event.end is not None:
            return event.end.timestamp()
        if event.duration is not None:
            return event.start.timestamp() + event.duration
    return event.start.timestamp()


def event_ident(event: "Event") -> int:
    """The identity the rules count an event by: the same event (a re-delivery, a producer's retry)
    gets the same one. A CDR is its call id; a security event is what tells two attempts apart.

    32 bits are enough: windows compare identities only between entries of the same instant.
    """
    if isinstance(event, Cdr):
        return crc32(event.call_id.encode())
    if isinstance(event, Unblock):
        return crc32(f"unblock|{event.ts.timestamp()!r}|{event.target}|{event.by}".encode())
    return crc32(f"{event.ts.timestamp()!r}|{event.src_ip}|{event.account}|{event.action}|{event.outcome}|"
                 f"{event.service}|{event.port}|{event.contact}".encode())


def _check_ip(value: str, field: str) -> None:
    try:
        parse_ip(value)
    except ValueError:
        raise ValueError(f"`{field}` is not an IP address: {value[:64]!r}") from None
    if "%" in value:  # Python 3.9+ reads fe80::1%eth0 as an address: one source, as many keys as suffixes
        raise ValueError(f"`{field}` carries an IPv6 scope id (%…), an interface name, not part of an address: "
                         f"{value[:64]!r}")


class EventError(ValueError):
    """A malformed input record; ``reason`` is precise enough to fix the producer."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


MAX_EVENT_BYTES = 64 * 1024  # a CDR or security event is well under 2 KB; anything this big is not one
_decoder = msgspec.json.Decoder(Event)
_encoder = msgspec.json.Encoder()


def decode_event(raw: bytes | str) -> Event:
    """Decode and validate one JSON event, or raise EventError with the reason."""
    return _decode(raw)[0]


def decode_event_bytes(raw: bytes) -> tuple[Event, bytes]:
    """``decode_event``, and the bytes ``decode_checked`` reads back as the very same event: the input
    itself, or (when text had to be escaped or an address respelled) the event re-encoded. The
    worker forwards these, so its scopes decode without checking or cleaning again."""
    event, altered = _decode(raw)
    return event, (encode(event) if altered else raw)


def _decode(raw: bytes | str) -> tuple[Event, bool]:
    if len(raw) > MAX_EVENT_BYTES:
        raise EventError(f"event is {len(raw)} bytes; at most {MAX_EVENT_BYTES} are accepted")
    try:
        event = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise EventError(_explain(str(exc), raw)) from None
    except msgspec.DecodeError as exc:
        raise EventError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise EventError("not valid JSON: nested too deeply") from None
    try:
        event.check()
    except ValueError as exc:
        raise EventError(f"{exc} - at `$`") from None
    final = _canonical(_defused(event, raw))
    return final, final is not event


def decode_checked(raw: bytes) -> Event:
    """Re-read bytes that ``decode_event_bytes`` gave (the worker's scopes): no second check or clean-up."""
    return _decoder.decode(raw)


def _canonical(event: Event) -> Event:
    """IPv6 source addresses in their one canonical spelling (IPv4 text is unique already)."""
    ip = getattr(event, "src_ip", None)
    if ip and ":" in ip:
        canon = canonical_ip(ip)
        if canon != ip:
            return msgspec.structs.replace(event, src_ip=canon)
    return event


def _defused(event: Event, raw: bytes | str) -> Event:
    """The event with control and invisible format characters in its text fields written out
    (``\\x1b``, ``\\u202e``): the contract carries them only escaped, so no rule, alert or key holds
    one raw. Refusing such events instead would let an attacker hide from detection by adding one
    to their user agent. Clean records (nearly all) pass after one regex test of the raw bytes."""
    if not HOSTILE_JSON.search(raw if isinstance(raw, bytes) else raw.encode()):
        return event
    changes = {}
    for name in event.__struct_fields__:
        value = getattr(event, name)
        if isinstance(value, str):
            clean = escape(value)
            if clean is not value and clean != value:
                changes[name] = clean
    return msgspec.structs.replace(event, **changes) if changes else event


MAX_BATCH = 1 << 20  # events per batch record (positions inside a record are 20 bits wide)
_batch_decoder = msgspec.json.Decoder(list[msgspec.Raw])


def is_batch(raw: bytes) -> bool:
    """A batch record is a JSON array of events (how carriers exporting CDRs in bulk send them)."""
    return raw.lstrip()[:1] == b"["


def split_batch(raw: bytes) -> list[bytes]:
    """The events of a batch record, each as its own JSON bytes (not yet validated).

    Raises EventError when the record is not a JSON array or holds more than MAX_BATCH events;
    a bad *element* is for the caller to reject on its own, so one typo loses one event.
    """
    try:
        items = _batch_decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise EventError(f"batch record is not a JSON array of events: {exc}") from None
    except RecursionError:
        raise EventError("batch record is not a JSON array of events: nested too deeply") from None
    if len(items) > MAX_BATCH:
        raise EventError(f"batch record holds {len(items)} events; at most {MAX_BATCH} are accepted")
    return [bytes(item) for item in items]


def join_batch(raws: Iterable[bytes]) -> bytes:
    """One batch record from JSON-encoded events (what ``split_batch`` takes apart)."""
    return b"[" + b",".join(raws) + b"]"


def record_events(raw: bytes, canonical: bool = False) -> Iterator[tuple[int | None, bytes, Event | None, str | None]]:
    """Each event of one input record, judged alone: (index or None, its bytes, event or None, reason or None).

    A record is one event (index None) or a batch record (index = position in the array).
    Both shells read records through this, so a bad element costs that element only, with the
    same reason in ``replay`` and in the worker's DLQ. Raises EventError when a batch record
    cannot be split at all. Anything unexpected while decoding is a reason, never a crash. With
    ``canonical`` an accepted event's bytes are those of ``decode_event_bytes``.
    """
    if not is_batch(raw):
        items: list[tuple[int | None, bytes]] = [(None, raw)]
    else:
        items = list(enumerate(split_batch(raw)))
    for i, item in items:
        try:
            if canonical:
                event, item = decode_event_bytes(item)
                yield i, item, event, None
            else:
                yield i, item, decode_event(item), None
        except Exception as exc:  # EventError, or anything else: bad input never stops a shell
            why = exc.reason if isinstance(exc, EventError) else f"unreadable event: {exc!r}"
            yield i, item, None, why if i is None else f"event [{i}] of the batch: {why}"


def _explain(msg: str, raw: bytes | str) -> str:
    if "required field `type`" in msg or "`$.type`" in msg:
        return msg + " (expected \"type\": \"cdr\" or \"security\")"
    return msg


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


def to_builtins(obj: Any) -> Any:
    return msgspec.to_builtins(obj)


def event_key(event: Event) -> str:
    """The partition key a producer uses: extension for CDRs, source IP for security events."""
    if isinstance(event, Cdr):
        return f"{event.tenant}/{event.src}"
    if isinstance(event, Unblock):
        return event.target
    return event.src_ip


def schemas() -> dict[str, dict]:
    """JSON Schemas of the contract, one per record type (written to streams/schemas/)."""
    out = {}
    for name, typ in (("cdr", Cdr), ("security", SecurityEvent), ("unblock", Unblock), ("alert", Alert),
                      ("action", Action)):
        schema = msgspec.json.schema(typ)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = f"tollguard {name} record"
        out[name] = schema
    return out
