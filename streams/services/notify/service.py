"""The Kafka side of ``tollguard notify``: read incidents and alerts in the ``<prefix>-notify``
group, hand each record to the channels that want it, commit what every channel has finished."""

from __future__ import annotations

import json
import logging
import threading
import time

from streams.kafka.config import Config
from streams.kafka.connect import kafka_python_kwargs
from streams.kafka.observe import Metrics
from streams.services.notify.channel import ChannelWorker, Parker, wait_idle
from streams.services.notify.ledger import Ledger
from streams.services.notify.senders import build

log = logging.getLogger("tollguard.notify")
STOP_GRACE = 15.0  # seconds a stop waits for messages in flight


class NotifyMetrics:
    def __init__(self):
        self.metrics = m = Metrics("notify")
        self.sent = m.counter("tollguard_notify_sent_total", "Messages delivered.", ("channel",))
        self.failed = m.counter("tollguard_notify_failed_total", "Delivery tries that failed.", ("channel",))
        self.parked = m.counter("tollguard_notify_parked_total", "Messages given up after their retries.", ("channel",))
        self.folded = m.counter("tollguard_notify_folded_total", "Messages folded into a storm message by the "
                                "per-minute cap.", ("channel",))
        self.records = m.counter("tollguard_notify_records_total", "Records read.", ("topic",))
        self.unreadable = m.counter("tollguard_notify_unreadable_total", "Records that were not JSON objects.", ("topic",))
        self.failing = m.gauge("tollguard_notify_channel_failing", "1 while the channel's last message was parked.",
                               ("channel",))
        self.pending = m.gauge("tollguard_notify_pending", "Digests and folded messages waiting.", ("channel",))
        self.lag = m.gauge("tollguard_notify_consumer_lag", "Records on the topic not yet read.", ("topic",))
        self.held = m.gauge("tollguard_notify_uncommitted", "Records read but not finished by every channel.")


class Service:
    def __init__(self, loaded, config: Config, metrics: NotifyMetrics):
        self.loaded, self.config, self.m = loaded, config, metrics
        s = loaded.settings
        self.stop = threading.Event()
        self.ledger = Ledger([c.name for c in s.channels])
        parker = Parker(s.park_file)
        self.workers = [ChannelWorker(c, build(c, loaded.secrets[c.name]), self.ledger, metrics, loaded.redactor,
                                      parker, self.stop) for c in s.channels]
        wanted = {r for c in s.channels for r in c.records}
        self.topics = {getattr(config, r): [w for w in self.workers if r in w.c.records] for r in sorted(wanted)}
        self.group = s.group or f"{config.prefix}-notify"
        self.last_record = time.monotonic()
        self.last_loop = time.monotonic()
        self.consumer = None

    def health(self) -> tuple[bool, dict]:
        stale = time.monotonic() - self.last_loop
        failing = [w.c.name for w in self.workers if w.failing]
        return stale < 60, {"failing_channels": failing, "uncommitted": self.ledger.held(), "group": self.group}

    def run(self, idle_timeout: float | None) -> int:
        from kafka import KafkaConsumer
        s = self.loaded.settings
        from streams.kafka.topics import ensure_read
        ensure_read(self.config, [self.config.incidents, self.config.alerts])
        self.consumer = KafkaConsumer(group_id=self.group, enable_auto_commit=False, allow_auto_create_topics=False,
                                      auto_offset_reset=self.loaded.settings.start, client_id=self.group,
                                      session_timeout_ms=int(s.session_timeout_s * 1000),
                                      heartbeat_interval_ms=int(s.session_timeout_s * 1000 / 3),
                                      **kafka_python_kwargs(self.config))
        self.consumer.subscribe(list(self.topics), listener=_listener(self))
        for w in self.workers:
            w.start()
        log.info("notify: group %s reads %s on %s for %d channel(s): %s", self.group, ", ".join(self.topics),
                    self.config.where, len(self.workers), ", ".join(w.c.name for w in self.workers))
        last_commit = 0.0
        try:
            while not self.stop.is_set():
                self.last_loop = time.monotonic()
                batch = self.consumer.poll(timeout_ms=200, max_records=500)
                for tp, records in batch.items():
                    for r in records:
                        self.dispatch(tp, r)
                if time.monotonic() - last_commit >= self.loaded.settings.commit_interval_s:
                    self.commit()
                    last_commit = time.monotonic()
                if idle_timeout is not None and self._idle(idle_timeout):
                    log.info("notify: idle for %.1f s, stopping", idle_timeout)
                    break
        finally:
            self.shutdown()
        return 0

    def _idle(self, idle_timeout: float) -> bool:
        if not self.consumer.assignment():  # still joining the group (a crashed member's session may run out first)
            self.last_record = time.monotonic()
        return time.monotonic() - self.last_record >= idle_timeout and not any(w.busy() for w in self.workers)

    def dispatch(self, tp, r) -> None:
        self.last_record = time.monotonic()
        self.m.records.labels(tp.topic).inc()
        if not self.ledger.known(tp):
            meta = self.consumer.committed(tp, metadata=True)
            self.ledger.start(tp, r.offset, meta.metadata if meta is not None else None)
        workers = self.topics.get(tp.topic, [])
        try:
            rec = json.loads(r.value)
        except (ValueError, TypeError):
            rec = None
        if not isinstance(rec, dict):
            self.m.unreadable.labels(tp.topic).inc()
            workers = []  # nothing to send: finished at once (the offset is committed past it)
        replays = self.ledger.read((tp.topic, tp.partition), r.offset, [w.c.name for w in workers])
        for w in workers:
            w.put(rec, (tp.topic, tp.partition, r.offset), replays[w.c.name])

    def commit(self) -> None:
        from kafka.errors import KafkaError
        from kafka.structs import OffsetAndMetadata, TopicPartition
        pending = self.ledger.commits()
        if not pending:
            return
        offsets = {TopicPartition(t, p): OffsetAndMetadata(off, meta, -1) for (t, p), (off, meta) in pending.items()}
        try:
            self.consumer.commit(offsets)
        except KafkaError as exc:  # a rebalance or a broker away: the next commit carries the same offsets
            log.warning("notify: commit failed, will retry: %s", self.loaded.redactor(self.config.redact(str(exc))))
            self.ledger.mark_dirty(list(pending))
        self._gauges()

    def _gauges(self) -> None:
        self.m.held.set(self.ledger.held())
        for topic in self.topics:
            lag = 0
            for tp in self.consumer.assignment():
                if tp.topic == topic:
                    high = self.consumer.highwater(tp)
                    if high is not None:
                        lag += max(0, high - self.consumer.position(tp))
            self.m.lag.labels(topic).set(lag)

    def shutdown(self) -> None:
        if not self.stop.is_set() and not wait_idle(self.workers, STOP_GRACE):
            log.warning("notify: channels still busy after %.0f s; their records are read again next run", STOP_GRACE)
        self.stop.set()
        for w in self.workers:
            w.join(timeout=STOP_GRACE)
        if self.consumer is not None:
            try:
                self.commit()
            finally:
                self.consumer.close(autocommit=False)


def _listener(service: "Service"):
    from kafka import ConsumerRebalanceListener

    class Rebalance(_Rebalance, ConsumerRebalanceListener):
        pass
    return Rebalance(service)


class _Rebalance:
    """Before partitions go to another member: commit what is finished, forget them here.
    (Messages of theirs still queued here may then be sent twice: at-least-once.)"""

    def __init__(self, service: Service):
        self.service = service

    def on_partitions_revoked(self, revoked) -> None:
        self.service.commit()
        for tp in revoked:
            self.service.ledger.forget((tp.topic, tp.partition))

    def on_partitions_assigned(self, assigned) -> None:
        pass  # the committed offset and its metadata are read at a partition's first record
