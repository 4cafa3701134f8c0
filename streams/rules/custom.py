"""custom — no guide section: the operator's own rules, written in the policy (``rules:`` entries with ``kind:``).

Each is a count (``event_count``), a distinct count (``value_count``) or a sum (``value_sum``) of
the events of one type that match its ``where`` filter, per key (extension, source address or trunk)
and ``group_by`` values, within a sliding window of ``seconds``. More than ``threshold`` raises one
alert per incident epoch, named by the rule's own name, with the actions it lists. The window is
order-free and counts each event once (a call once by its call id, at its start; a sum only over
completed CDRs, which carry the numbers), as the built-in windows do. ``rules: {custom: off}``
switches them all off; each has its own ``mode``. docs/policy.md "Rules of your own" has examples.
"""

from __future__ import annotations

from zlib import crc32

from streams.core.epochs import HORIZON
from streams.domain.events import Cdr
from streams.reference.countries import country_of
from streams.rules._common import first_per_epoch, flagged, may_block, proven_orders
from streams.policy.customrule import text
from streams.rules.contract import Order
from streams.state.valuewindow import ValueWindow

RULE = "custom"
SCOPE = ("ip", "ext", "trunk")
EVENTS = ("cdr", "security")
SEVERITY = "warning"
STATE = ("custom",)  # the slots of its key's state it keeps (streams/state/schema.py)

KEEP = 4096        # entries a window keeps at most (the newest): a bound on memory under a flood
MAX_WINDOWS = 512  # windows per key (rule and group), the least recently touched forgotten first
MAX_GROUP = 128    # characters of a group value kept (the values come from the traffic)
MICRO = 1_000_000  # sums in integer micro-units: the same total in any order


def applies(tenant, scope: str, events: str) -> bool:
    """Only where the tenant has a rule of its own for this scope and event type."""
    return bool(tenant.custom_rules(scope, events))


def check(ctx, ev) -> None:
    events = "cdr" if isinstance(ev, Cdr) else "security"
    for name, rule, where in ctx.tenant.custom_rules(ctx.scope, events):
        _judge(ctx, ev, name, rule, where, events)


def _judge(ctx, ev, name: str, rule, where: dict, events: str) -> None:
    for f, allowed in where.items():
        if text(value_of(ctx, ev, f)) not in allowed:
            return
    value = 0
    if rule.kind == "value_count":
        v = value_of(ctx, ev, rule.field)
        if v is None:
            return
        value = crc32(text(v).encode())
    elif rule.kind == "value_sum":
        v = value_of(ctx, ev, rule.field)
        if v is None or (events == "cdr" and ev.phase != "end"):
            return
        value = round(float(v) * MICRO)
    subject = _subject(ev, rule.key)
    if not subject:
        return
    group = tuple(text(value_of(ctx, ev, f))[:MAX_GROUP] for f in rule.group_by)
    windows = ctx.state.custom
    wkey = "|".join((name, *group))
    win = windows.pop(wkey, None) or ValueWindow()
    windows[wkey] = win  # most recently touched last
    if len(windows) > MAX_WINDOWS:
        del windows[next(iter(windows))]
    at = ctx.call_start if events == "cdr" else ctx.ts
    i = win.add(at, flagged(ctx.ident, ev) if events == "security" else ctx.ident << 1 | 1, value)
    if i < 0:
        return
    orders = _orders(ctx, ev, rule, subject)
    threshold = rule.threshold * MICRO if rule.kind == "value_sum" else rule.threshold
    hits = win.hits(i, rule.seconds, threshold, rule.kind)
    span = ctx.span(orders)
    for end, measure in (first_per_epoch(hits, span) if len(hits) > 1 else hits):
        _emit(ctx, name, rule, subject, group, end, measure, orders, win, span)
    win.prune(ctx.settled - rule.seconds - HORIZON, KEEP)


def _emit(ctx, name, rule, subject, group, end, measure, orders, win, span) -> None:
    shown = measure / MICRO if rule.kind == "value_sum" else int(measure)
    what = {"event_count": f"{shown} {'calls' if rule.events == 'cdr' else 'events'}", "value_count": f"{shown} distinct {rule.field}",
            "value_sum": f"{rule.field} totalling {shown:g}"}[rule.kind]
    evidence = {"kind": rule.kind, "measure": shown, "threshold": rule.threshold, "seconds": rule.seconds,
                "key": rule.key, **({"field": rule.field} if rule.field else {}),
                **({"group": dict(zip(rule.group_by, group))} if group else {})}
    acts, variant = proven_orders(ctx, may_block(ctx, win, end, rule.seconds), list(orders), evidence)
    where = f" ({', '.join(f'{k} {v}' for k, v in zip(rule.group_by, group))})" if group else ""
    summary = f"{rule.summary or name}: {rule.key.replace('_', ' ')} {subject}{where} had {what} in {rule.seconds:g} s, " \
              f"over {rule.threshold:g}"
    ctx.emit(name, rule.severity, rule.subject_type, subject, summary, evidence, acts,
             variant="|".join((*group, variant)) if variant or group else "", at=end, span=span)


def _orders(ctx, ev, rule, subject: str) -> list[Order]:
    s = ctx.tenant.settings
    out = []
    for a in rule.actions:
        if a == "block_ip":
            out.append(Order("block_ip", subject, s.block_seconds))
        elif a == "disable_outbound":
            out.append(Order("disable_outbound", subject, s.outbound_bar_seconds))
        elif a == "lock_account":  # for the source that failed (the guide's Blocked IPs table), never the LAN's phones
            out.append(Order("lock_account", f"{ctx.tenant.name}/{subject}", s.block_seconds, ev.src_ip))
    return out


def _subject(ev, key: str) -> str | None:
    if key == "source_ip":
        return ev.src_ip
    if key == "trunk":
        return ev.trunk
    return ev.src if isinstance(ev, Cdr) else ev.account


def value_of(ctx, ev, field: str):
    """The event's value of ``field``, or one the detector derives (``dst_country``, ``dst_type``, ``src_country``)."""
    if field == "dst_country":
        return ctx.num.region
    if field == "dst_type":
        return ctx.num.number_type
    if field == "src_country":
        return country_of(ev.src_ip) if ev.src_ip else None
    return getattr(ev, field, None)
