"""produce's delivery accounting, in-process with a fake producer: every event ends acknowledged,
failed with its line, or counted as not sent."""

import pytest
from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from streams.commands.produce import OVERHEAD, Ledger, Sender, Stop


class Future:
    def __init__(self):
        self.ok, self.err = [], []

    def add_callback(self, fn):
        self.ok.append(fn)

    def add_errback(self, fn):
        self.err.append(fn)


class FakeProducer:
    def __init__(self, fail_from: int | None = None, reject_over: int | None = None):
        self.sent, self.futures = [], []
        self.fail_from, self.reject_over = fail_from, reject_over

    def send(self, topic, key=None, value=b""):
        if self.fail_from is not None and len(self.sent) >= self.fail_from:
            raise KafkaTimeoutError("Failed to update metadata after 5.0 secs.")
        self.sent.append((topic, key, value))
        f = Future()
        self.futures.append((f, value))
        return f

    def settle(self):
        for f, value in self.futures:
            if self.reject_over is not None and len(value) > self.reject_over:
                for fn in f.err:
                    fn(MessageSizeTooLargeError("too large"))
            else:
                for fn in f.ok:
                    fn(None)


def test_batches_are_cut_by_bytes_before_they_outgrow_the_limit():
    p, ledger = FakeProducer(), Ledger()
    s = Sender(p, ledger, batch=6000, limit=10_000)
    for i in range(1000):
        s.add("t", b"k", b'{"e":"' + b"x" * 90 + b'"}', f"f:{i + 1}")
    s.flush()
    p.settle()
    assert all(len(v) + OVERHEAD <= 10_000 for _, _, v in p.sent)
    assert ledger.acked == 1000 and ledger.failed == 0 and ledger.unconfirmed == 0


def test_an_event_over_the_limit_is_refused_with_its_line():
    p, ledger = FakeProducer(), Ledger()
    s = Sender(p, ledger, batch=1, limit=500)
    s.add("t", b"k", b"x" * 100, "f:1")
    s.add("t", b"k", b"x" * 600, "f:2")
    p.settle()
    assert ledger.acked == 1 and ledger.failed == 1 and ledger.failures[0][0] == "f:2"


def test_a_broker_refusal_counts_every_event_of_the_record():
    p, ledger = FakeProducer(reject_over=300), Ledger()
    s = Sender(p, ledger, batch=10, limit=100_000)
    for i in range(25):
        s.add("t", None, b"x" * 50, f"f:{i + 1}")
    s.flush()
    p.settle()  # two records of 10 events are over 300 bytes; the last of 5 is not
    assert ledger.failed == 20 and ledger.acked == 5
    assert ledger.failures[0][0] == "f:1 to f:10" and ledger.failures[0][1].startswith("MessageSizeTooLargeError")


def test_when_the_broker_stops_taking_records_every_pending_event_is_counted():
    p, ledger = FakeProducer(fail_from=3), Ledger()
    s = Sender(p, ledger, batch=4, limit=100_000)
    with pytest.raises(Stop):
        for i in range(100):
            s.add("a" if i % 2 else "b", None, b"x", f"f:{i + 1}")
    s.abandon()
    p.settle()
    # 3 records of 4 went out; the 4th could not be sent; what waited in the other topic's batch was not sent
    assert ledger.acked == 12
    assert ledger.acked + ledger.failed == i + 1  # every event read so far is accounted for
    assert ledger.unconfirmed == 0
