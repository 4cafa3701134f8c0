"""The counters ``tollguard enforce`` serves on ``/metrics``."""

from __future__ import annotations

from streams.kafka.observe import Metrics


class EnforceMetrics:
    def __init__(self, metrics: Metrics | None = None):
        m = self.registry = metrics or Metrics("enforce")
        self.applied = m.counter("tollguard_enforce_applied_total", "Actions carried out, by backend and kind.",
                                 ("backend", "kind"))
        self.failed = m.counter("tollguard_enforce_failed_total",
                                "Actions given up on after every retry (or a failed setup, kind=setup).",
                                ("backend", "kind"))
        self.retries = m.counter("tollguard_enforce_retries_total", "Failed tries that were retried later.",
                                 ("backend", "kind"))
        self.expired = m.counter("tollguard_enforce_expired_total", "Actions not applied: their block had ended.")
        self.skipped = m.counter("tollguard_enforce_skipped_total",
                                 "Actions or backends skipped: duplicate, invalid, refused, no_backend, lifted, superseded.",
                                 ("reason",))
        self.pending = m.gauge("tollguard_enforce_pending_retries", "Tries waiting for their retry.")
        self.last_poll = m.gauge("tollguard_enforce_last_poll_seconds", "When the actions topic was last polled.")
