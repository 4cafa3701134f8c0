"""One thread per channel: its own inbox, pacer, retries and failure state, so a slow or dead
channel never holds the others back.

A message is tried up to ``retry.attempts`` times with exponential backoff (``initial_s`` doubled
up to ``max_s``, with ±20 % jitter). When the last try fails the channel is declared *failing*
(log line at ERROR, ``tollguard_notify_channel_failing`` = 1) and the message is *parked*: written
to ``park_file`` when one is configured, counted in ``tollguard_notify_parked_total``, and its
records released so the Kafka offset can move on. While failing, each new message gets one try
only; the first success clears the state.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from datetime import datetime, timezone

from streams.services.notify.pacer import Pacer
from streams.services.notify.render import Message

log = logging.getLogger("tollguard.notify")


def backoff(retry, attempt: int, rnd: random.Random = random.Random()) -> float:
    """Seconds to wait after failed try number ``attempt`` (1-based)."""
    base = min(retry.max_s, retry.initial_s * retry.factor ** (attempt - 1))
    return base * rnd.uniform(0.8, 1.2)


class Parker:
    """Where given-up messages go: a JSONL file (optional), always the log and a counter."""

    def __init__(self, path: str | None):
        self.path = path
        self._lock = threading.Lock()

    def park(self, channel: str, msg: Message, error: str) -> None:
        if not self.path:
            return
        line = json.dumps({"parked_at": datetime.now(timezone.utc).isoformat(), "channel": channel,
                           "error": error, "title": msg.title, "body": msg.body}, default=str)
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


class ChannelWorker(threading.Thread):
    def __init__(self, c, sender, ledger, metrics, redact, parker: Parker, stop: threading.Event):
        super().__init__(name=f"notify-{c.name}", daemon=True)
        self.c, self.sender, self.ledger, self.m, self.redact = c, sender, ledger, metrics, redact
        self.parker, self.stopping = parker, stop
        self.pacer = Pacer(c, on_fold=lambda n: metrics.folded.labels(c.name).inc(n))
        self.inbox: queue.Queue = queue.Queue()
        self.failing = False
        self._busy = False
        self._work = False  # the pacer has something to send now (set by this thread: the pacer is not shared)

    def put(self, rec: dict, ref, replay: bool) -> None:
        self.inbox.put((rec, ref, replay))

    def busy(self) -> bool:
        return self._busy or self._work or self.inbox.unfinished_tasks > 0

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                self._take(self.pacer.next_wake(0.25))
                for msg in self.pacer.due():
                    if self.stopping.is_set():
                        break
                    self.deliver(msg)
                self._work = self.pacer.has_work()
                self.m.pending.labels(self.c.name).set(len(self.pacer.pending) + len(self.pacer.folded))
        finally:
            self.sender.close()

    def _take(self, wait: float) -> None:
        try:
            item = self.inbox.get(timeout=wait) if wait > 0 else self.inbox.get_nowait()
        except queue.Empty:
            return
        self._busy = True
        try:
            while True:
                rec, ref, replay = item
                for done in self.pacer.offer(rec, ref, replay):
                    self.ledger.release(self.c.name, done)
                self._work = True
                self.inbox.task_done()
                item = self.inbox.get_nowait()
        except queue.Empty:
            pass
        finally:
            self._busy = False

    def deliver(self, msg: Message) -> bool:
        """Try, back off, try again; park when the tries are used up. False when parked or stopped."""
        self._busy = True
        try:
            attempts = 1 if self.failing else self.c.retry.attempts
            error = ""
            for attempt in range(1, attempts + 1):
                try:
                    self.sender.send(msg)
                except Exception as exc:  # a sender's failure, whatever its kind, is this channel's problem
                    error = self.redact(f"{type(exc).__name__}: {exc}")
                    self.m.failed.labels(self.c.name).inc()
                    log.warning("channel %s: %s %s not delivered (try %d/%d): %s", self.c.name, msg.kind,
                                msg.title[:200], attempt, attempts, error)
                    if attempt < attempts and self.stopping.wait(backoff(self.c.retry, attempt)):
                        return False  # stopping: the records stay held and are read again next run
                    continue
                self._finished(msg, sent=True)
                return True
            self._park(msg, error)
            return False
        finally:
            self._busy = False

    def _finished(self, msg: Message, sent: bool) -> None:
        if sent:
            self.m.sent.labels(self.c.name).inc()
            if self.failing:
                log.warning("channel %s delivers again", self.c.name)
            self.failing = False
            self.m.failing.labels(self.c.name).set(0)
        self.pacer.done(msg)
        for ref in msg.refs:
            self.ledger.release(self.c.name, ref)

    def _park(self, msg: Message, error: str) -> None:
        if not self.failing:
            log.error("channel %s is failing: %s", self.c.name, error)
        self.failing = True
        self.m.failing.labels(self.c.name).set(1)
        self.m.parked.labels(self.c.name).inc()
        log.error("channel %s: parked %s %s (%d record(s)): %s", self.c.name, msg.kind, msg.title[:200],
                  len(msg.refs), error)
        try:
            self.parker.park(self.c.name, msg, error)
        except OSError as exc:
            log.error("park file %s: %s", self.parker.path, exc)
        self._finished(msg, sent=False)


def wait_idle(workers, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not any(w.busy() for w in workers):
            return True
        time.sleep(0.05)
    return False
