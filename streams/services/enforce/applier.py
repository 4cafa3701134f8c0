"""Carries out actions through the backends: expiry, once-only, retries with backoff, logs and counts.

Each (action, backend) pair is a :class:`Job`. A job that fails is retried after a doubling delay
up to the backend's ``retry.attempts``, then reported as failed; meanwhile other actions and other
backends go on (nothing here sleeps: :meth:`Applier.tick` runs the retries that are due). An
``unblock`` cancels pending retries of that tenant's blocks on the target; a block cancels a pending
``unblock`` of it. Tokens (the record's partition and offset) stay *unsettled* while a job for them
is pending, so the consumer never commits past an action that is not finished.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from streams.reference.text import safe
from streams.services.enforce.action import Action, iso
from streams.services.enforce.backends import Backend, Refused
from streams.services.enforce.ledger import Ledger
from streams.services.enforce.metrics import EnforceMetrics
from streams.services.enforce.steps import StepFailed

log = logging.getLogger("tollguard.enforce")


@dataclass
class Job:
    backend: Backend
    action: Action
    until: float | None  # the farthest end known for the target (>= the action's own)
    token: object
    failures: int = 0
    due: float = 0.0


def describe(a: Action) -> str:
    """How an action is named in logs: every attacker-influenced part escaped and cut."""
    alert = f", alert {safe(a.alert_id, 60)}" if a.alert_id else ""
    source = f" from {safe(a.from_ip, 64)}" if a.from_ip else ""
    return f"{a.kind} {safe(a.target, 80)}{source} (tenant {safe(a.tenant, 40)}, action {safe(a.action_id, 60)}{alert})"


class Applier:
    def __init__(self, backends: list[Backend], ledger: Ledger | None = None, metrics: EnforceMetrics | None = None,
                 clock: Callable[[], float] = time.time, dry_run: bool = False, out=None):
        self.backends, self.clock, self.dry_run = backends, clock, dry_run
        self.ledger = ledger or Ledger()
        self.metrics = metrics or EnforceMetrics()
        self.out = out or sys.stdout
        self.pending: list[Job] = []
        self.open: Counter = Counter()  # token -> jobs not finished

    # -- intake ---------------------------------------------------------------------------------
    def submit(self, action: Action, token: object = None) -> None:
        now = self.clock()
        if action.expired(now):
            self.metrics.expired.inc()
            log.info("expired, not applied: %s ended %s", describe(action),
                     iso(action.until) if action.until is not None else "(a hang-up older than any call)")
            return
        chosen = [b for b in self.backends if b.handles(action)]
        if not chosen:
            self._skip("no_backend", action, "no backend handles it")
            return
        self._supersede(action)
        until = self._extent(action, now)
        fresh = [b for b in chosen if not self._seen(b, action)]
        if not fresh:
            self._skip("duplicate", action, "already applied")
        for b in fresh:
            self.open[token] += 1
            self._attempt(Job(b, action, until, token))

    def _extent(self, action: Action, now: float) -> float | None:
        if action.kind == "unblock":
            self.ledger.lift(action.tenant, action.target)
            return None
        subject = action.target if action.from_ip is None else f"{action.target} from {action.from_ip}"
        return self.ledger.extend(action.tenant, action.kind, subject, action.until, now)

    def _seen(self, b: Backend, a: Action) -> bool:
        return self.ledger.done(b.name, a.action_id) or any(
            j.backend is b and j.action.action_id == a.action_id for j in self.pending)

    def _supersede(self, action: Action) -> None:
        """Drop pending retries this action overrules (an unblock: the target's blocks; a block: its unblock)."""
        def overruled(j: Job) -> bool:
            a = j.action
            return (a.tenant == action.tenant and a.target == action.target and a.kind != action.kind
                    and "unblock" in (a.kind, action.kind))
        for j in [j for j in self.pending if overruled(j)]:
            self.pending.remove(j)
            self._settle(j)
            self._skip("lifted" if action.kind == "unblock" else "superseded", j.action,
                       f"retry on {j.backend.name} dropped: a later {action.kind} overrules it")

    # -- running --------------------------------------------------------------------------------
    def _attempt(self, job: Job) -> None:
        now = self.clock()
        if job.failures and job.action.kind != "unblock" and job.until is not None and job.until <= now:
            self.metrics.expired.inc()
            log.info("expired while retrying on %s: %s", job.backend.name, describe(job.action))
            return self._settle(job)
        try:
            for step in job.backend.plan(job.action, job.until, now):
                self._run(job, step)
        except Refused as exc:
            self._skip("refused", job.action, f"{job.backend.name} refuses it: {exc}", logging.WARNING)
        except StepFailed as exc:
            return self._failed(job, str(exc), now)
        else:
            self._applied(job, now)
        self._settle(job)

    def _run(self, job: Job, step) -> None:
        if self.dry_run:
            print(f"dry-run {safe(job.backend.name, 64)} {describe(job.action)}: {step.describe()}",
                  file=self.out, flush=True)
        else:
            step.run()

    def _applied(self, job: Job, now: float) -> None:
        a = job.action
        self.ledger.record(job.backend.name, a.action_id, job.until if a.kind != "unblock" else None, now)
        if self.dry_run:
            return
        self.metrics.applied.labels(job.backend.name, a.kind).inc()
        left = a.remaining(now, job.until)
        log.warning("applied on %s: %s%s", job.backend.name, describe(a),
                    "" if a.kind in ("unblock", "hangup_call") else
                    (" until lifted" if left is None else f" for {left} s, until {iso(job.until)}"))

    def _failed(self, job: Job, reason: str, now: float) -> None:
        job.failures += 1
        a, b = job.action, job.backend
        if job.failures >= b.retry.attempts:
            self.metrics.failed.labels(b.name, a.kind).inc()
            log.error("FAILED on %s after %d tries, given up: %s: %s", b.name, job.failures, describe(a), reason)
            return self._settle(job)
        job.due = now + b.retry.delay(job.failures)
        self.pending.append(job)
        self.metrics.retries.labels(b.name, a.kind).inc()
        self.metrics.pending.set(len(self.pending))
        log.warning("try %d on %s failed, retry in %.1f s: %s: %s", job.failures, b.name, job.due - now,
                    describe(a), reason)

    def _settle(self, job: Job) -> None:
        self.open[job.token] -= 1
        if self.open[job.token] <= 0:
            del self.open[job.token]
        self.metrics.pending.set(len(self.pending))

    def _skip(self, reason: str, action: Action, why: str, level: int = logging.INFO) -> None:
        self.metrics.skipped.labels(reason).inc()
        log.log(level, "skipped (%s): %s: %s", reason, describe(action), safe(why, 300))

    def tick(self) -> None:
        """Run the retries that are due."""
        now = self.clock()
        due = [j for j in self.pending if j.due <= now]
        for j in due:
            self.pending.remove(j)
            self._attempt(j)

    def next_due(self) -> float | None:
        return min((j.due for j in self.pending), default=None)

    def unsettled(self) -> set:
        return set(self.open)

    def setup(self) -> list[str]:
        """Run each backend's setup steps (nft table, sets, rule). Returns what failed, one line per backend
        (the caller stops: a backend that cannot act would give up on every action and commit past it)."""
        failed = []
        for b in self.backends:
            for step in b.setup():
                try:
                    if self.dry_run:
                        print(f"dry-run {safe(b.name, 64)} setup: {step.describe()}", file=self.out, flush=True)
                    else:
                        done = step.run()
                        if done:
                            log.info("%s setup: %s", b.name, safe(done.strip().splitlines()[-1] if done.strip() else "", 300))
                except StepFailed as exc:
                    self.metrics.failed.labels(b.name, "setup").inc()
                    log.error("FAILED to set up %s: %s", b.name, exc)
                    hint = ("; nftables needs root or CAP_NET_ADMIN (or try --dry-run)"
                            if "not permitted" in str(exc).lower() else "")
                    failed.append(f"{b.name}: {exc}{hint}")
                    break
        return failed
