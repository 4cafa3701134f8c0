"""anomaly — no guide section: the learned check (``models/``, README "The anomaly model").

Each completed outbound call to a real destination updates its extension's behaviour
features (models/features.py) and is scored by the model the shell loaded; a score above the
model card's threshold raises one alert per extension and incident epoch, naming the
features that stand out with the extension's usual value and the population's.

Features are running sums, so they are learnt in event-time order: ``check`` defers the call
and ``on_release`` learns it once the tenant's watermark has passed it (replay and the worker
release the same calls in the same order). Scoring waits for the shell's micro-batch flush.
"""

from .contract import Order

from models.explain import sentence
from models.features import FEATURES, ExtensionFeatures, call_facts

from ..state import Features

RULE = "anomaly"
SCOPE = "ext"
EVENTS = ("cdr",)
WANTS = {"outbound_end"}  # event kinds it judges (streams.rules.event_kind)
SEVERITY = "warning"
USUAL_ALPHA = 0.05  # weight of a new call in the extension's running "usual" feature values
RECENT_CALLS = 64


def check(ctx, cdr) -> None:
    if ctx.det.scorer is None or cdr.phase != "end" or cdr.direction != "outbound":
        return
    ctx.defer(RULE, cdr)


def on_release(ctx, cdr) -> None:
    facts = call_facts(cdr, ctx.tenant, ctx.det.scorer.rates)
    if facts is None:
        return
    f = ctx.st.anomaly
    if f is None:
        f = ctx.st.anomaly = Features()
    if cdr.call_id in f.calls:
        return  # learnt before (a re-delivered CDR)
    f.calls.append(cdr.call_id)
    del f.calls[:-RECENT_CALLS]
    vec = ExtensionFeatures.update(f, facts)
    before = list(f.usual) if f.usual else None  # None: no earlier call, nothing usual to compare with
    f.usual = [u + USUAL_ALPHA * (v - u) for u, v in zip(before or vec, vec)]
    ctx.det.scratch.setdefault(RULE, []).append((ctx.tenant.name, ctx.key, cdr.src, cdr.call_id, ctx.ts, vec, before))


def on_flush(det, out: list) -> None:
    queue = det.scratch.pop(RULE, None)
    if not queue:
        return
    scorer = det.scorer
    for item, score in zip(queue, scorer.score([q[5] for q in queue])):
        if score > scorer.threshold:
            tenant, key, ext, call_id, ts, vec, usual = item
            det.with_key(tenant, key, ts, out, lambda ctx: _alert(ctx, scorer, ext, call_id, float(score), vec, usual))


def _alert(ctx, scorer, ext: str, call_id: str, score: float, vec: list, usual: list) -> None:
    why = [{"feature": FEATURES[i], "value": round(vec[i], 3),
            "extension_usual": None if usual is None else round(usual[i], 3),
            "population_usual": round(float(scorer.pop[i]), 3)} for i in scorer.explain(vec)]
    ctx.emit(RULE, SEVERITY, "extension", ext,
             f"Extension {ext} behaves unusually (score {score:.3f} > {scorer.threshold:.3f}): {sentence(why)}",
             {"score": round(score, 4), "threshold": round(scorer.threshold, 4), "call_id": call_id,
              "model": scorer.version, "top_features": why},
             [Order("disable_outbound", ext, ctx.tenant.p.outbound_bar_seconds)],
             span=float(ctx.tenant.p.incident_seconds))
