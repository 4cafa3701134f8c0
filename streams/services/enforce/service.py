"""The Kafka shell of ``tollguard enforce``: consume ``<prefix>.actions``, apply, commit what is done.

Offsets are committed by hand, only up to the first record whose jobs are not finished (retries
pending), so a restart re-reads what was not carried out; the ledger skips what was.
``--dry-run`` reads from the group's committed position and never commits.
"""

from __future__ import annotations

import logging
import signal
import sys
import time

from streams.kafka.config import Config
from streams.kafka.connect import kafka_python_kwargs, preflight
from streams.kafka.observe import serve
from streams.reference.text import safe
from streams.services.enforce.action import BadAction, parse
from streams.services.enforce.applier import Applier

log = logging.getLogger("tollguard.enforce")
STALE_S = 60.0  # /health fails when the topic has not been polled for this long


class Service:
    def __init__(self, config: Config, applier: Applier, group: str, idle_timeout: float | None = None):
        self.config, self.applier, self.group, self.idle_timeout = config, applier, group, idle_timeout
        self.seen: dict = {}  # partition -> next offset to read
        self.committed: dict = {}
        self.stopping = False
        self.last_poll = time.time()

    def run(self, port: int | None) -> int:
        from kafka import KafkaConsumer
        if self.config.actions not in preflight(self.config, [self.config.actions]):
            log.warning("enforce: %s does not exist yet on %s; waiting for a worker to create it",
                        self.config.actions, self.config.where)
        from streams.kafka.topics import ensure_read
        ensure_read(self.config, [self.config.actions])
        consumer = KafkaConsumer(self.config.actions, group_id=self.group, enable_auto_commit=False,
                                 allow_auto_create_topics=False,
                                 auto_offset_reset="earliest", **kafka_python_kwargs(self.config))
        server = serve(self.applier.metrics.registry, self.health, port)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        log.info("enforce: %d backend(s) [%s] on %s, group %s%s", len(self.applier.backends),
                    ", ".join(f"{b.name}:{b.TYPE}" for b in self.applier.backends), self.config.actions,
                    self.group, " (dry run: nothing is changed or committed)" if self.applier.dry_run else "")
        failed = self.applier.setup()
        if failed:  # acting with a broken backend would give up on each action and commit past it: a lost block
            for line in failed:
                print(f"enforce: cannot set up backend {safe(line, 400)}", file=sys.stderr)
            consumer.close()
            if server:
                server.stop()
            return 2
        try:
            self.loop(consumer)
        finally:
            self.commit(consumer)
            consumer.close()
            if server:
                server.stop()
        return 0

    def _stop(self, *_):
        self.stopping = True

    def loop(self, consumer) -> None:
        quiet_since = time.monotonic()
        while not self.stopping:
            batch = consumer.poll(timeout_ms=int(self._wait() * 1000))
            self.last_poll = time.time()
            self.applier.metrics.last_poll.set(self.last_poll)
            for tp, msgs in batch.items():
                for msg in msgs:
                    self.take(tp, msg)
            self.applier.tick()
            self.commit(consumer)
            if batch or self.applier.pending:
                quiet_since = time.monotonic()
            elif self.idle_timeout is not None and time.monotonic() - quiet_since >= self.idle_timeout:
                log.info("enforce: nothing for %g s, stopping (--idle-timeout)", self.idle_timeout)
                break

    def _wait(self) -> float:
        due = self.applier.next_due()
        return 1.0 if due is None else min(1.0, max(0.0, due - time.time()))

    def take(self, tp, msg) -> None:
        self.seen[tp] = msg.offset + 1
        try:
            action = parse(msg.value)
        except BadAction as exc:
            self.applier.metrics.skipped.labels("invalid").inc()
            log.warning("skipped (invalid): %s[%d]@%d: %s", safe(tp.topic, 200), tp.partition, msg.offset, exc)
            return
        self.applier.submit(action, (tp, msg.offset))

    def commit(self, consumer) -> None:
        if self.applier.dry_run:
            return
        from kafka.errors import KafkaError
        from kafka.structs import OffsetAndMetadata
        held: dict = {}
        for tp, offset in self.applier.unsettled():
            held[tp] = min(offset, held.get(tp, offset))
        upto = {tp: held.get(tp, nxt) for tp, nxt in self.seen.items()}
        todo = {tp: OffsetAndMetadata(o, "", -1) for tp, o in upto.items() if self.committed.get(tp) != o}
        if not todo:
            return
        try:
            consumer.commit(todo)
            self.committed.update({tp: o.offset for tp, o in todo.items()})
        except KafkaError as exc:  # a rebalance: the records are read again, the ledger skips what was done
            log.warning("enforce: commit failed (%s); uncommitted records will be read again", exc)

    def health(self) -> tuple[bool, dict]:
        age = time.time() - self.last_poll
        return age < STALE_S, {"last_poll_age_s": round(age, 1), "pending_retries": len(self.applier.pending),
                               "dry_run": self.applier.dry_run, "group": self.group}
