"""spend_limit — no guide section: money, not calls (carriers' per-destination caps, ClearIP's spend windows).

``spend_limits`` in the policy caps what one extension, one trunk, the whole tenant or the calls to
one destination country may spend within a sliding window, costed from the tenant's rate table
(``rates:``, else the shipped one) or the CDR's own ``cost``. A call costs from its answer to its
end at its destination's rate.

Costs count while the call runs: a call in progress (``phase: start``) adds its rate to a
projection, and a timer fires at the instant the calls in progress would take the window over
the limit, so the cap cuts them while they run instead of reporting them after. Completed calls
are summed per time bucket (a thirtieth of the window), in integer micro-units, so the sums and
the instant a window first goes over do not depend on the order calls arrive in, and a call seen
twice is counted once.

Actions (enforce mode): calls in progress are hung up; an extension's cap also bars the
extension (``outbound_bar_seconds``); a destination cap blocks the country's calling code for
the window. Trunk and tenant caps cut only the calls in progress.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from zlib import crc32

import phonenumbers

from streams.rules.contract import Order
from streams.core.epochs import HORIZON
from streams.state import SpendWindow

RULE = "spend_limit"
SCOPE = ("ext", "trunk", "tenant")
EVENTS = ("cdr",)
WANTS = {"outbound_start", "outbound_end"}


def routes(cdr, tenant) -> bool:
    """Outbound calls, when the tenant caps its whole spend or its spend per destination country (the tenant
    key sums them); the extension's and trunk's caps are judged under their own keys."""
    return tenant.caps_tenant_spend
SEVERITY = "critical"
STATE = ("spend_limit",)  # the slots of its key's state it keeps (streams/state/schema.py)

BUCKETS = 30             # buckets per window: windows slide in steps of a thirtieth of their length
MAX_CALLS = 4096         # completed calls kept per window and key (the oldest go first)
MAX_COUNTRIES = 64       # destination windows per tenant (the least recently used go first)
MICRO = 1_000_000
TOP = 5                  # destinations named in an alert
SUBJECT = {"ext": "extension", "trunk": "trunk", "tenant": "tenant"}


def looks_back(p):
    """How far back its state reaches, per scope (a key's retention, streams.state.expiry)."""
    for lim in p.spend_limits:  # a window's calls, and a call in progress up to the longest call
        yield {"extension": "ext", "trunk": "trunk"}.get(lim.scope, "tenant"), lim.window + p.max_call_duration


def keeps(st, seen: float):
    """Past its look-back, a key is kept while a timer is still to fire for calls in progress
    (instants, streams.state.expiry)."""
    for w in st.spend_limit.values():
        if w.due is not None:
            yield w.due + HORIZON


def check(ctx, cdr) -> None:
    limits = _limits(ctx)
    if not limits or cdr.direction != "outbound":
        return
    n = ctx.num
    if n.kind in ("short", "emergency"):
        return
    country = n.region or "ZZ"
    dst = (n.e164 or cdr.dst)[:32]
    ident = crc32(cdr.call_id.encode())
    for lim in limits:
        label = _label(lim, country)
        w = _window(ctx.state, label, lim.window)
        if cdr.phase == "start":
            if ident in w.calls or cdr.call_id in w.live:
                continue
            rate = ctx.tenant.rates.per_second(n)
            if rate > 0:
                answer = cdr.answer.timestamp() if cdr.answer is not None else ctx.call_start
                w.live[cdr.call_id[:128]] = [answer, rate, dst, ident]
                _project(ctx, lim, label, w)
            continue
        w.live.pop(cdr.call_id[:128], None)
        if ident in w.calls:
            continue
        span = _answered(cdr, ctx.ts)
        if span is None:
            continue
        a, e = span
        cost = cdr.cost if cdr.cost is not None else ctx.tenant.rates.cost(n, e - a)
        if cost <= 0:
            continue
        w.calls[ident] = [a, e, cost, dst]
        _spread(w, a, e, round(cost * MICRO))
        _judge_completed(ctx, lim, label, w, a, e)
        _prune(ctx, lim, w)
        if w.live:
            _project(ctx, lim, label, w)


def on_timer(ctx, label: str) -> None:
    w = ctx.state.spend_limit.get(label)
    lim = _limit_of(ctx, label)
    if w is None or lim is None or w.due is None or w.due > ctx.ts:
        return
    w.due = None
    _expire_live(ctx, w)
    spent = _spent(w, ctx.ts, lim.window)
    if spent > lim.max_cost * MICRO:
        _alert(ctx, lim, label, w, ctx.ts, ctx.ts, live=True)
        w.live.clear()  # cut (or reported): they no longer project
    else:
        _project(ctx, lim, label, w, step=1.0)


def pending(st):
    for label, w in getattr(st, "spend_limit", {}).items():
        if w.due is not None:
            yield w.due, label


# -- the limits of this key ---------------------------------------------------------------------
def _limits(ctx) -> list:
    if ctx.scope == "tenant":
        return [lim for lim in ctx.tenant.settings.spend_limits if lim.scope in ("tenant", "destination_country")]
    want = SUBJECT[ctx.scope]
    return [lim for lim in ctx.tenant.settings.spend_limits if lim.scope == want]


def _label(lim, country: str) -> str:
    base = f"{lim.scope}/{lim.window:g}"
    return f"{base}/{country}" if lim.scope == "destination_country" else base


def _limit_of(ctx, label: str):
    scope, window = label.split("/")[:2]
    return next((lim for lim in ctx.tenant.settings.spend_limits if lim.scope == scope and f"{lim.window:g}" == window), None)


def _window(st, label: str, seconds: float) -> SpendWindow:
    w = st.spend_limit.get(label)
    if w is None:
        if label.startswith("destination_country/"):
            _bound_countries(st.spend_limit)
        w = st.spend_limit[label] = SpendWindow(size=seconds / BUCKETS)
    elif w.size != seconds / BUCKETS:  # the policy changed the window: start again
        w = st.spend_limit[label] = SpendWindow(size=seconds / BUCKETS)
    return w


def _bound_countries(windows: dict) -> None:
    countries = [k for k in windows if k.startswith("destination_country/")]
    if len(countries) < MAX_COUNTRIES:
        return
    def latest(k):
        return max((b[1] for b in windows[k].buckets.values()), default=float("-inf"))
    for k in sorted(countries, key=latest)[:len(countries) - MAX_COUNTRIES + 1]:
        del windows[k]


# -- money over time ----------------------------------------------------------------------------
def _answered(cdr, end: float) -> tuple[float, float] | None:
    """[answer, end] of a completed call's talk time, or None when it was not answered.

    Talk time is ``billsec``; else end - ``answer``; else, for a call not marked unanswered, its
    ``duration`` (or end - start). It ends at ``end`` (the CDR's event time) unless ``answer`` says
    when it began."""
    start = cdr.start.timestamp()
    answer = cdr.answer.timestamp() if cdr.answer is not None else None
    talk = cdr.billsec
    if talk is None:
        if answer is not None:
            talk = end - answer
        elif cdr.disposition in (None, "answered"):
            talk = cdr.duration if cdr.duration is not None else end - start
    if not talk or talk <= 0:
        return None
    if answer is None:
        answer = max(start, end - talk)
    return answer, answer + talk


def _spread(w: SpendWindow, a: float, e: float, micro: int) -> None:
    """Add ``micro`` units spent evenly over [a, e] to the buckets it overlaps (whole units, summing exactly)."""
    size = w.size
    first, last = math.floor(a / size), math.floor(e / size)
    if first == last or e <= a:
        _add(w, first, micro, e)
        return
    given = 0
    for k in range(first, last + 1):
        hi = min(e, (k + 1) * size)
        part = micro - given if k == last else int(micro * (hi - a) / (e - a)) - given
        given += part
        if part > 0:
            _add(w, k, part, hi)


def _add(w: SpendWindow, k: int, micro: int, instant: float) -> None:
    w.total += micro
    buckets = w.buckets
    b = buckets.get(k)
    if b is None:
        buckets[k] = [float(micro), instant]
    else:
        b[0] += micro
        if instant > b[1]:
            b[1] = instant


def _spent(w: SpendWindow, t: float, seconds: float) -> float:
    """Micro-units spent in the window ending at ``t``: completed buckets plus calls in progress up to ``t``."""
    last = math.floor(t / w.size)
    first = last - BUCKETS + 1
    buckets = w.buckets
    total = sum(buckets[k][0] for k in range(first, last + 1) if k in buckets)
    lo = t - seconds
    for a, rate, _, _ in w.live.values():
        if a < t:
            total += rate * (t - max(a, lo)) * MICRO
    return total


def _judge_completed(ctx, lim, label: str, w: SpendWindow, a: float, e: float) -> None:
    """Windows that end while this call spent, or after it within the window, and went over: the first
    instant of each (in buckets), whatever order the calls came in."""
    size, buckets = w.size, w.buckets
    limit = lim.max_cost * MICRO
    if w.total <= limit:
        return  # everything held is within the limit: no window of it can be over
    first = math.floor(a / size)
    stop = min(math.floor(e / size), math.floor(ctx.ts / size)) + BUCKETS - 1
    running = sum(buckets[k][0] for k in range(first - BUCKETS + 1, first + 1) if k in buckets)
    k = first
    while True:
        if running > limit and k in buckets:
            b = buckets[k]  # within the bucket, as if it spent evenly: where the sum passed the limit
            at = min(k * size + size * max(0.0, (limit - running + b[0]) / b[0]), b[1])
            _alert(ctx, lim, label, w, at, min((k + 1) * size, b[1]), live=False)
            return  # later windows of the same run are the same incident
        k += 1
        if k > stop:
            return
        b = buckets.get(k)
        if b is not None:
            running += b[0]
        old = buckets.get(k - BUCKETS)
        if old is not None:
            running -= old[0]


def _project(ctx, lim, label: str, w: SpendWindow, step: float = 0.001) -> None:
    """When do the calls in progress take the window over the limit? Arm a timer for that instant."""
    _expire_live(ctx, w)
    if not w.live:
        w.due = None
        return
    limit = lim.max_cost * MICRO
    rate = sum(v[1] for v in w.live.values()) * MICRO
    if w.total + rate * ctx.tenant.settings.max_call_duration <= limit:
        w.due = None  # not even everything held plus the calls running to the longest call reaches it
        return
    now = max(ctx.ts, max(v[0] for v in w.live.values()))
    spent = _spent(w, now, lim.window)
    if spent > limit:
        due = now
    else:
        # a millisecond past the limit; the window's trailing edge can only delay it (checked again then,
        # in steps of at least a second)
        due = now + max((limit - spent) / rate + 0.001, step)
    horizon = min(v[0] for v in w.live.values()) + ctx.tenant.settings.max_call_duration
    if due > horizon:
        w.due = None
        return
    if w.due is None or due != w.due:
        w.due = due
        ctx.schedule(RULE, due, label)


def _expire_live(ctx, w: SpendWindow) -> None:
    """A call in progress whose end never came stops counting after the longest call (call_duration cuts it)."""
    limit = ctx.tenant.settings.max_call_duration
    for cid in [c for c, v in w.live.items() if ctx.ts - v[0] > limit]:
        del w.live[cid]


def _prune(ctx, lim, w: SpendWindow) -> None:
    """Forget calls and buckets older than the window plus the lateness horizon. Both are held in
    about the order they came (event time, give or take the feed's disorder), so the old ones are
    dropped from the front, and an entry that came late is dropped once it reaches the front."""
    cutoff = ctx.settled - lim.window - HORIZON
    if cutoff == float("-inf"):
        return
    calls = w.calls
    while calls:
        ident = next(iter(calls))
        if calls[ident][1] >= cutoff:
            break
        del calls[ident]
    if len(calls) > MAX_CALLS:
        for ident, _ in sorted(calls.items(), key=lambda kv: kv[1][1])[:len(calls) - MAX_CALLS]:
            del calls[ident]
    buckets = w.buckets
    kmin = math.floor(cutoff / w.size)
    while buckets:
        k = next(iter(buckets))
        if k >= kmin:
            break
        w.total -= buckets.pop(k)[0]
    if len(buckets) > 4 * MAX_CALLS:
        for k in sorted(buckets)[:len(buckets) - 4 * MAX_CALLS]:
            w.total -= buckets.pop(k)[0]


# -- the alert ----------------------------------------------------------------------------------
def _alert(ctx, lim, label: str, w: SpendWindow, at: float, by: float, live: bool) -> None:
    """The limit was passed at ``at``; the amounts are those of the window ending at ``by`` (the end of
    the bucket it was passed in, or the timer's instant for calls in progress)."""
    scope = ctx.scope
    subject_type = SUBJECT[scope]
    subject = ctx.key.split(":", 1)[1]
    if scope != "tenant":
        subject = subject.split("/", 1)[1]
    else:
        subject = ctx.tenant.name
    country = label.split("/")[2] if lim.scope == "destination_country" else None
    if country is not None:
        subject_type, subject = "country", country
    what = {"extension": f"Extension {subject}", "trunk": f"Trunk {subject}", "tenant": f"Tenant {subject}",
            "country": f"Calls to {country}"}[subject_type]
    acts = [Order("hangup_call", cid, None) for cid in sorted(w.live)] if live else []
    if lim.scope == "extension":
        acts.append(Order("disable_outbound", subject, ctx.tenant.settings.outbound_bar_seconds))
    elif country is not None:
        code = phonenumbers.country_code_for_region(country)
        if code:
            acts.append(Order("block_number", f"+{code}", int(lim.window)))
    span = _span(ctx, lim)
    if not live and ctx.joins_later(RULE, subject_type, subject, label, at, span):  # only counted in: no figures
        # (a join that cuts calls in progress keeps them: the hang-up's reason quotes the spend it cut at)
        ctx.emit(RULE, SEVERITY, subject_type, subject,
                 f"{what} is still over the spend limit of {lim.max_cost:.2f} per {_human(lim.window)}", {}, acts,
                 variant=label, at=at, span=span)
        return
    spending = _by_destination(w, by, lim.window)
    spent = sum(c for _, c in spending)
    tops = spending[:TOP]
    named = ", ".join(f"{d} {c:.2f}" for d, c in tops[:3])
    ctx.emit(RULE, SEVERITY, subject_type, subject,
             f"{what} went over the spend limit of {lim.max_cost:.2f} per {_human(lim.window)}: {spent:.2f}"
             + (" with calls in progress" if live else "") + (f"; top destinations {named}" if named else ""),
             {"spent": round(spent, 4), "max_cost": lim.max_cost, "window_seconds": lim.window, "scope": lim.scope,
              "window_end": datetime.fromtimestamp(by, timezone.utc).isoformat().replace("+00:00", "Z"),
              "in_progress": sorted(w.live) if live else [], "top_destinations": [
                  {"destination": d, "cost": round(c, 4)} for d, c in tops]},
             acts, variant=label, at=at, span=span)


def _span(ctx, lim) -> float:
    """One incident per limit and subject per bar (an extension), else per window."""
    if lim.scope == "extension" and ctx.tenant.settings.outbound_bar_seconds:
        return float(ctx.tenant.settings.outbound_bar_seconds)
    return float(max(lim.window, ctx.tenant.settings.incident_seconds))


def _by_destination(w: SpendWindow, at: float, seconds: float) -> list[tuple[str, float]]:
    """What each destination cost in the window ending at ``at``, most first."""
    lo = at - seconds
    spent: dict[str, float] = {}
    get = spent.get
    for a, e, cost, dst in w.calls.values():  # a tenant's day of calls, for every hang-up it orders: kept lean
        overlap = (at if at < e else e) - (lo if lo > a else a)  # min(e, at) - max(a, lo), as min and max choose
        if overlap > 0 and e > a:
            spent[dst] = get(dst, 0.0) + cost * overlap / (e - a)
    for a, rate, dst, _ in w.live.values():
        if a < at:
            spent[dst] = spent.get(dst, 0.0) + rate * (at - max(a, lo))
    return sorted(spent.items(), key=lambda kv: (-kv[1], kv[0]))


def _human(seconds: float) -> str:
    for unit, n in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= n and seconds % n == 0:
            return f"{seconds / n:g} {unit}"
    return f"{seconds:g} s"
