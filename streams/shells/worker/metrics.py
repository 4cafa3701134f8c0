"""The worker's Prometheus metrics and health (served by ``streams.kafka.observe`` on ``--web-port``).

Counters follow the records: events read per input topic, dead letters, alerts by rule, actions
by kind, incident updates; gauges for late events, input lag (records on the broker not yet
read, per input partition) and the age of the oldest unacknowledged work; a histogram of the
time a batch takes per stage.
"""

from __future__ import annotations

import time

from streams.kafka.observe import Metrics

LAG_EVERY = 5.0
STUCK_S = 120.0  # health fails when read records wait longer than this for their commit


class WorkerMetrics:
    def __init__(self):
        m = self.m = Metrics("worker")
        self.events = m.counter("tollguard_events_total", "Events read, by input topic.", ("topic",))
        self.dlq = m.counter("tollguard_dlq_total", "Records sent to the dead-letter queue.")
        self.late = m.gauge("tollguard_late_events", "Events judged after their tenant's watermark had passed them.")
        self.alerts = m.counter("tollguard_alerts_total", "Alerts raised, by rule.", ("rule",))
        self.actions = m.counter("tollguard_actions_total", "Actions published, by kind.", ("kind",))
        self.incidents = m.counter("tollguard_incident_updates_total", "Incident records written.")
        self.lag = m.gauge("tollguard_input_lag_records", "Records on the broker not yet read, per input partition.",
                           ("topic", "partition"))
        self.lane_lag = m.gauge("tollguard_lane_lag_seconds",
                                "Age (wall clock since it was produced) of the last record a stage lane read: how far "
                                "that lane is behind.", ("stage", "lane"))
        self.batch = m.histogram("tollguard_batch_seconds", "Time to process one batch, by stage.", ("stage",),
                                 buckets=(0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.model = m.gauge("tollguard_model_info", "The anomaly model in use (value 1), by version.", ("version",))
        self.scored = m.gauge("tollguard_model_scored_calls", "Calls the model in use has scored since it was loaded.")
        self.feature_median = m.gauge("tollguard_model_feature_median",
                                      "Median of each feature over the latest calls scored (live drift).", ("feature",))
        self.score_quantile = m.gauge("tollguard_model_score_quantile",
                                      "Quantiles of the latest anomaly scores.", ("quantile",))
        self.above = m.gauge("tollguard_model_above_threshold_share",
                             "Share of the latest calls scored above the model's threshold.")
        self.model_refused = m.counter("tollguard_model_refused_total",
                                       "Models published on <prefix>.models refused, by reason (no_key, unsigned, "
                                       "unknown_key, bad_signature, invalid); the model in use stays.", ("reason",))
        self.started = False
        self.oldest_pending: float | None = None  # monotonic time the oldest unacknowledged batch was read

    def count_out(self, records) -> None:
        for rec in records:
            name = rec.__class__.__name__
            if name == "Alert":
                self.alerts.labels(rec.rule).inc()
            elif name == "Action":
                self.actions.labels(rec.kind).inc()
            elif name == "IncidentRecord":
                self.incidents.inc()

    def observe_model(self, scorer) -> None:
        """The model in use and its live figures (from ``Scorer.live``), for ``tollguard model drift``."""
        if scorer is None:
            return
        from models.features import FEATURES
        self.model.clear()
        self.model.labels(scorer.version).set(1)
        self.scored.set(scorer.scored)
        live = scorer.live()
        if live is None:
            return
        for name, v in zip(FEATURES, live["median"]):
            self.feature_median.labels(name).set(v)
        for q, v in live["score_quantiles"].items():
            self.score_quantile.labels(str(q)).set(v)
        self.above.set(live["above_threshold"])

    def timed(self, stage: str):
        return self.batch.labels(stage).time()

    def health(self) -> tuple[bool, dict]:
        if not self.started:
            return False, {"reason": "starting: not yet consuming"}
        waited = 0.0 if self.oldest_pending is None else time.monotonic() - self.oldest_pending
        if waited > STUCK_S:
            return False, {"reason": f"records read {waited:.0f} s ago are still not committed"}
        return True, {"pending_s": round(waited, 1)}
