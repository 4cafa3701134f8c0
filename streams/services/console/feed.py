"""Follows ``<prefix>.incidents`` (and the worker's ``/metrics`` for health) on a thread of its own,
away from the page's event loop, and wakes the page's live streams when something changed."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from streams.kafka.topic_io import TopicReader

log = logging.getLogger("tollguard.console")


class IncidentFeed:
    def __init__(self, config, store):
        self.config = config
        self.store = store
        self.ready = threading.Event()  # read to the topic's end as it was at start-up
        self.error: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = None  # called on the page's loop when something changed
        self._stop = threading.Event()
        self.read = 0

    def attach(self, loop: asyncio.AbstractEventLoop, wake) -> None:
        self._loop, self._wake = loop, wake

    def start(self) -> threading.Thread:
        t = threading.Thread(target=self.run, name="tollguard-console-feed", daemon=True)
        t.start()
        return t

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        while not self._stop.is_set():
            readers = []
            try:
                readers = [(TopicReader(self.config, self.config.alerts), self.store.apply_alert),
                           (TopicReader(self.config, self.config.incidents), self.store.apply)]
                self._follow(readers)
            except Exception as exc:  # the broker may be down: say so on the page, and retry
                self.error = f"cannot read {self.config.incidents}: {exc!r}"
                log.warning("console: %s; retrying in 5 s", self.error)
                self._stop.wait(5)
            finally:
                for reader, _ in readers:
                    reader.close()

    def _follow(self, readers) -> None:
        missing = [r.tps for r, _ in readers].count([])
        if missing:  # no worker has created the topics yet (or their metadata is not known): look again shortly
            self.ready.set()
            self.error = f"{self.config.incidents} or {self.config.alerts} does not exist yet (no worker has run)"
            self._stop.wait(2)
            return
        self.error = None
        while not self._stop.is_set():
            changed = 0
            complete = True
            for reader, apply in readers:  # alerts first: an incident's evidence is there when its row shows
                for rec in reader.to_end(time.monotonic() + 1.0):
                    self.read += 1
                    changed += apply(rec)
                complete = complete and reader.complete
            if complete:
                self.ready.set()
            if changed:
                self._notify()
            else:
                self._stop.wait(0.2)

    def _notify(self) -> None:
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake)


def worker_health(url: str | None, timeout: float = 1.0) -> dict:
    """The worker's lag and throughput from its Prometheus ``/metrics`` (what the page's health panel shows)."""
    if not url:
        return {"known": False, "reason": "no --metrics URL given"}
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            text = r.read(2_000_000).decode("utf-8", "replace")
    except OSError as exc:
        return {"known": False, "reason": f"{url}: {exc}"}
    out: dict = {"known": True, "lag": 0.0, "events": 0.0, "dead_letters": 0.0, "alerts": 0.0}
    names = {"tollguard_input_lag_records": "lag", "tollguard_events_total": "events",
             "tollguard_dlq_total": "dead_letters", "tollguard_alerts_total": "alerts"}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, _, value = line.rpartition(" ")
        field = names.get(name.split("{", 1)[0])
        if field is None:
            continue
        try:
            out[field] += float(value)
        except ValueError:
            continue
    return out
