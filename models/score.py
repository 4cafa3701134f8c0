"""Live scoring: features per call as events arrive, the model called in micro-batches.

One IsolationForest call costs about the same for 1 row as for hundreds (rules.md §5), so
calls are queued and scored together when a shell flushes (replay: every 1,000 events and at
the end; worker: after each stream batch). Scores do not depend on batch boundaries, so both
shells raise the same ``anomaly`` alerts. An alert names the extension, the score and the
features that pushed it, each with its value, the extension's usual and the population's.
"""

from __future__ import annotations

import hashlib

import numpy as np

from streams.events import Action, Alert
from streams.rates import RateTable

from . import artifact
from .features import FEATURES, ExtensionFeatures, call_facts

RULE = "anomaly"
SEVERITY = "warning"
USUAL_ALPHA = 0.05  # weight of a new call in the extension's running "usual" feature values


class Scorer:
    def __init__(self, model, card: dict, rates: RateTable | None = None):
        self.model = model
        self.card = card
        self.threshold = float(card["threshold"])
        self.pop = np.asarray(card.get("population", {}).get("median", [0.0] * len(FEATURES)))
        self.spread = np.asarray(card.get("population", {}).get("iqr", [1.0] * len(FEATURES)))
        self.spread[self.spread <= 1e-9] = 1.0
        self.rates = rates or RateTable.load()
        self._queue: list[tuple] = []

    @classmethod
    def load(cls, path) -> "Scorer":
        model, card = artifact.load(path)
        return cls(model, card)

    def observe(self, ctx, cdr) -> None:
        """Update the extension's features with a completed outbound call and queue it for scoring."""
        facts = call_facts(cdr, ctx.tenant, self.rates)
        if facts is None or ctx.tenant.rule(RULE).mode == "off":
            return
        st = ctx.st.setdefault("af", {})
        vec = ExtensionFeatures.update(st, facts)
        usual = st.get("usual")
        before = list(usual) if usual else list(vec)
        st["usual"] = [u + USUAL_ALPHA * (v - u) for u, v in zip(before, vec)] if usual else list(vec)
        self._queue.append((ctx.tenant, ctx.key, cdr.src, cdr.call_id, ctx.when, vec, before, ctx.state_ref()))

    def flush(self) -> list:
        if not self._queue:
            return []
        queue, self._queue = self._queue, []
        X = np.asarray([q[5] for q in queue], dtype=np.float64)
        scores = -self.model.score_samples(X)
        out: list = []
        for (tenant, key, ext, call_id, when, vec, usual, state), score in zip(queue, scores):
            if score <= self.threshold:
                continue
            st = state()
            ts = when.timestamp()
            last = st.get("an") if st is not None else None
            if last is not None and ts - last < tenant.p.incident_seconds:
                continue  # one anomaly incident per extension per incident window
            if st is not None:
                st["an"] = ts
                state(st)
            out.extend(self._alert(tenant, ext, call_id, when, float(score), vec, usual))
        return out

    def _alert(self, tenant, ext, call_id, when, score, vec, usual) -> list:
        z = np.abs((np.asarray(vec) - self.pop) / self.spread)
        top = [int(i) for i in np.argsort(-z)[:3]]
        why = [{"feature": FEATURES[i], "value": round(vec[i], 3), "extension_usual": round(usual[i], 3),
                "population_usual": round(float(self.pop[i]), 3)} for i in top]
        setting = tenant.rule(RULE)
        alert_id = hashlib.blake2b(f"{tenant.name}|anomaly|{ext}|{call_id}".encode(), digest_size=10).hexdigest()
        names = ", ".join(f"{w['feature']}={w['value']:g} (usual {w['extension_usual']:g})" for w in why)
        alert = Alert(alert_id=alert_id, ts=when, tenant=tenant.name, rule=RULE, severity=setting.severity or SEVERITY,
                      subject_type="extension", subject=ext,
                      summary=f"Extension {ext} behaves unusually (score {score:.3f} > {self.threshold:.3f}): {names}",
                      evidence={"score": round(score, 4), "threshold": round(self.threshold, 4), "call_id": call_id,
                                "top_features": why}, mode="enforce" if setting.mode == "enforce" else "report")
        out: list = [alert]
        if setting.mode == "enforce":
            out.append(Action(action_id=hashlib.blake2b(f"{alert_id}|disable_outbound".encode(), digest_size=10).hexdigest(),
                              ts=when, tenant=tenant.name, kind="disable_outbound", target=ext,
                              duration_s=tenant.p.outbound_bar_seconds, alert_id=alert_id, reason=alert.summary))
        return out
