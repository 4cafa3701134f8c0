"""anomaly — no guide section: the learned check (``models/``, README "The anomaly model").

Each completed outbound call to a real destination updates its extension's profile (the behaviour
features of models/features.py and their running usual values) and is scored by the model the
shell loaded. A score above the model card's threshold raises one alert per extension and incident
epoch, but only when at least one feature is riskier than both the extension's usual and the
population's (``models.risk``: the usual is what the extension's ordinary calls reach, its running
average plus twice its running deviation, and more calls alone never count); the alert names those
features, and only those.

A fraud burst must not become the extension's usual, so calls that are held stay out of the profile
(and are not scored: a detection already has them): a call whose own CDR tripped a rule of this
extension's key, a call that started while such a detection was open (from its instant, for its
incident span, at most ``HORIZON``), and a call that started within an incident span after a call
the model itself alerted on. The rule sees only detections in its own key (the ext scope, where the
worker runs it) raised on outbound CDRs: the call rules, ``account_takeover`` and ``spend_limit``
per extension; not trunk, tenant or IP rules, not sign-in or registration rules, not
``call_duration``'s live timer (docs/models.md "What the profile leaves out").

Order. Features are running sums, learnt in event-time order: ``check`` notes the detections each
outbound CDR tripped and defers the completed call; ``on_release`` queues it once the tenant's
watermark has passed it (replay and the worker release the same calls in the same order); the
micro-batch flush learns the queue, each extension's calls in release order, in rounds across
extensions, and scores each round before the next, so the model's verdict on a call is known
before its extension's next call is learnt, whatever the batch boundaries. A detection holds a call
released at R only if its event was before R (every shell has judged those by then) or was the
call's own, so what is held does not depend on arrival order either.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import msgspec

from models import risk
from models.explain import sentence
from models.features import FEATURES, CallFacts, ExtensionFeatures, call_facts

from streams.rules._common import OUTBOUND
from streams.rules.contract import Order
from streams.core.epochs import HORIZON
from streams.domain.events import event_ident
from streams.domain.incidents import Seen
from streams.state import Features
from streams.state.expiry import PROFILE

RULE = "anomaly"
SCOPE = "ext"
EVENTS = ("cdr",)
WANTS = OUTBOUND  # event kinds it judges (streams.rules._common.event_kind): the start notes detections, the end is learnt
SEVERITY = "warning"
STATE = ("anomaly",)  # the slots of its key's state it keeps (streams/state/schema.py)
USUAL_ALPHA = 0.05  # weight of a new call in the extension's running "usual" feature values
RECENT_CALLS = 64
MAX_HELD = 64  # detections remembered per extension (over it, the one that ends first goes)


def keeps(st, seen: float):
    """The model's profile of an extension (destinations called, usual behaviour) is meant to be long:
    ``PROFILE`` after its last event (instants, streams.state.expiry)."""
    if st.anomaly is not None:
        yield seen + PROFILE


class Pending(NamedTuple):
    """A call learnt since the last flush, waiting for its score."""
    tenant: str
    key: str
    ext: str
    call_id: str
    ts: float                        # when it was learnt (its completed CDR's event time): the alert's instant
    start: float
    vec: list[float]
    usual: Optional[list[float]]     # the extension's usual before this call (None: no earlier call)
    ident: int = 0
    spread: Optional[list[float]] = None  # how far its calls usually strayed from that usual (None: unknown)


def check(ctx, cdr) -> None:
    if ctx.detector.scorer is None:
        return
    _note(ctx)
    if cdr.phase == "end":
        ctx.defer(RULE, cdr)


def _note(ctx) -> None:
    """Remember the detections this CDR tripped in this key (the rules before this one in EVALUATION_ORDER)."""
    mine = None
    for rec in ctx.out:
        if not isinstance(rec, Seen) or rec.rule == RULE or rec.ident != ctx.ident:
            continue
        if mine is None:
            mine = {inc.alert_id for inc in ctx.state.incidents.values()}
        if rec.alert_id not in mine:
            continue  # another scope's (replay runs them all over one output)
        f = ctx.state.anomaly
        if f is None:
            f = ctx.state.anomaly = Features()
        _hold(f, [ctx.ts, rec.ts, rec.ts + min(rec.span, HORIZON), float(ctx.ident)])


def _hold(f: Features, entry: list[float]) -> None:
    """Remember a detection: [its event's time, from, until, the call's identity]."""
    if entry[1:] in (e[1:] for e in f.held):
        return
    f.held.append(entry)
    if len(f.held) > MAX_HELD:
        f.held.remove(min(f.held, key=lambda e: (e[2], e[1], e[0])))


def held(f: Features, released: float, start: float, ident: int) -> bool:
    """Does a rule hold this call (released at ``released``, started at ``start``)? Detections by events at or
    after ``released`` count only when they are the call's own."""
    return any(e[3] == ident or (e[0] < released and e[1] <= start < e[2]) for e in f.held)


class Released(NamedTuple):
    """A completed call the watermark has passed, to be learnt at the next flush."""
    tenant: str
    key: str
    ext: str
    call_id: str
    ts: float                        # its completed CDR's event time: when it counts as learnt, the alert's instant
    facts: CallFacts
    ident: int


def on_release(ctx, cdr) -> None:
    facts = call_facts(cdr, ctx.tenant, ctx.detector.scorer.rates)
    if facts is not None:
        ctx.detector.scratch.setdefault(RULE, []).append(
            Released(ctx.tenant.name, ctx.key, cdr.src, cdr.call_id, ctx.ts, facts, event_ident(cdr)))


def learn(det, scorer=None, out: list | None = None) -> list[Pending]:
    """Learn the calls released since the last flush, each extension's in release order; with ``scorer``, judge
    them and alert (into ``out``). A call the model alerts on holds its extension's next calls as a rule's
    detection does, so an extension with later calls in the batch after such a call is learnt again from where
    it stood, one call and one verdict at a time: what is learnt does not depend on the batch boundaries.
    Returns what was learnt (training takes it here, with no scorer)."""
    lanes: dict[str, list[Released]] = {}
    for c in det.scratch.pop(RULE, None) or []:
        lanes.setdefault(c.key, []).append(c)
    if scorer is None:
        return [p for lane in lanes.values() for p in _learn_lane(det, lane)]
    saved = {key: _saved(det, lane[0]) for key, lane in lanes.items()}
    tried = {key: _learn_lane(det, lane) for key, lane in lanes.items()}
    flat = [p for ps in tried.values() for p in ps]
    scores = iter(scorer.judge([p.vec for p in flat]) if flat else [])
    learnt: list[Pending] = []
    for key, lane in lanes.items():
        judged = [(p, float(next(scores))) for p in tried[key]]
        why = [_why(scorer, p, x) for p, x in judged]
        if any(w and p.call_id != lane[-1].call_id for (p, _), w in zip(judged, why)):
            judged, why = _again(det, scorer, lane, saved[key])
        for (p, x), w in zip(judged, why):
            if w:
                det.with_key(p.tenant, p.key, p.ts, out, lambda ctx: _alert(ctx, scorer, p, x, w))
        scorer.record([p.vec for p, _ in judged], [x for _, x in judged])
        learnt += [p for p, _ in judged]
    return learnt


def _learn_lane(det, lane: list[Released]) -> list[Pending]:
    batch: list[Pending] = []
    for c in lane:
        det.with_key(c.tenant, c.key, c.ts, [], lambda ctx: _learn(ctx, c, batch))
    return batch


def _saved(det, c: Released) -> Features | None:
    """A copy of the extension's profile as it stands (to learn its calls again from)."""
    st = det.state.get(c.key)
    f = None if st is None else st.anomaly
    return None if f is None else msgspec.msgpack.decode(msgspec.msgpack.encode(f), type=Features)


def _again(det, scorer, lane: list[Released], saved: Features | None) -> tuple[list, list]:
    """Learn an extension's calls again from ``saved``, each judged before the next (a verdict may hold the next)."""
    c0 = lane[0]
    det.with_key(c0.tenant, c0.key, c0.ts, [], lambda ctx: setattr(ctx.state, "anomaly", saved))
    judged, why = [], []
    for c in lane:
        for p in _learn_lane(det, [c]):
            x = float(scorer.judge([p.vec])[0])
            judged.append((p, x))
            why.append(_why(scorer, p, x))
            if why[-1]:
                det.with_key(p.tenant, p.key, p.ts, [], lambda ctx: _hold_for(ctx, p))
    return judged, why


def _why(scorer, p: Pending, score: float) -> list[int]:
    """The riskier features of a call above the threshold; empty when it is no alert (a call odd only for being
    less risky than usual says nothing)."""
    return scorer.riskier(p.vec, p.usual, p.spread) if score > scorer.threshold else []


def _hold_for(ctx, p: Pending) -> None:
    """The model's own detection holds the extension's calls for an incident span from this call's start."""
    span = min(float(ctx.tenant.settings.incident_seconds), HORIZON)
    _hold(ctx.state.anomaly, [p.ts, p.start, p.start + span, float(p.ident)])


def _learn(ctx, c: Released, batch: list) -> None:
    f = ctx.state.anomaly
    if f is None:
        f = ctx.state.anomaly = Features()
    if c.call_id in f.calls:
        return  # learnt before (a re-delivered CDR)
    f.calls.append(c.call_id)
    del f.calls[:-RECENT_CALLS]
    if f.held:
        f.held[:] = [e for e in f.held if e[2] > c.ts - HORIZON]  # no call released from now on starts that early
        if held(f, c.ts, c.facts.ts, c.ident):
            return
    vec = ExtensionFeatures.update(f, c.facts)
    before = list(f.usual) if f.usual else None  # None: no earlier call, nothing usual to compare with
    spread = list(f.spread) if f.spread and before else None
    f.usual = [u + USUAL_ALPHA * (v - u) for u, v in zip(before or vec, vec)]
    f.spread = [d + USUAL_ALPHA * (abs(v - u) - d) for d, u, v in zip(spread or [0.0] * len(vec), before or vec, vec)]
    batch.append(Pending(c.tenant, c.key, c.ext, c.call_id, c.ts, c.facts.ts, vec, before, c.ident, spread))


def on_flush(det, out: list) -> None:
    learn(det, det.scorer, out)


def _alert(ctx, scorer, p: Pending, score: float, riskier: list[int]) -> None:
    high = risk.high(p.usual, p.spread)
    why = [{"feature": FEATURES[i], "value": round(p.vec[i], 3),
            "extension_usual": None if p.usual is None else round(p.usual[i], 3),
            "extension_high": None if high is None else round(float(high[i]), 3),
            "population_usual": round(float(scorer.pop[i]), 3)} for i in riskier]
    span = float(ctx.tenant.settings.incident_seconds)
    ctx.emit(RULE, SEVERITY, "extension", p.ext,
             f"Extension {p.ext} behaves unusually (score {score:.3f} > {scorer.threshold:.3f}), riskier than usual: "
             f"{sentence(why)}",
             {"score": round(score, 4), "threshold": round(scorer.threshold, 4), "call_id": p.call_id,
              "model": scorer.version, "top_features": why},
             [Order("disable_outbound", p.ext, ctx.tenant.settings.outbound_bar_seconds)], span=span)
    _hold_for(ctx, p)
