"""How incidents end, in replay and in the worker's incident stage, in-process (issue 26.7; the same on the
real broker: tests/kafka/test_incident_equivalence.py).

The worker closes an incident when its tenant's later detections or its wall clock pass the incident's
``until``, swept every 5 s between batches; replay closes at the end of input against its tenant's latest
event time, or ``--now``. Given the same clock, both must end every incident in the same state, however the
sweeps fall between the detections.
"""

import json
import random
from pathlib import Path

from streams.core.detector import Detector
from streams.domain.events import decode_event, encode
from streams.domain.incidents import IncidentBook, Seen, incident_key
from streams.policy import Policy
from streams.shells.replay import run
from streams.shells.worker.incidents import IncidentRunner
from streams.shells.worker.ingest import partition_of
from tests.builders import T0, cdr, policy

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "fixtures" / "sample-events.jsonl"
POLICY = ROOT / "fixtures" / "policy.example.yaml"
HOUR = 3600.0


def replayed(lines, pol, now=None) -> dict:
    """Replay's incidents at the end of input: (tenant, subject, first alert) -> record."""
    out = []
    run(lines, Detector(pol), out.append, lambda r: None, now=now)
    return {_key(r): r for r in out if r.__class__.__name__ == "IncidentRecord"}


def worked(lines, pol, wall: float, seed: int) -> dict:
    """The worker's incidents: the detector's detections through the incident stage's records (two partitions),
    a sweep at ``wall`` falling after random detections, and the sweeps once the input is idle."""
    rnd = random.Random(seed)
    seen = []
    run(lines, _Tap(Detector(pol), seen), lambda r: None, lambda r: None)
    runner = IncidentRunner({}, lambda key, part: partition_of(key.encode(), 2) == part)
    out: list = []
    for rec in seen:
        part = partition_of(incident_key(rec).encode(), 2)
        runner.apply(part, encode(rec), [], out)
        if rnd.random() < 0.5:  # the end of a batch (records of a batch are recorded once), and a sweep
            runner.finish(out)
            for p in (0, 1):
                out += runner.sweep(p, wall)
    runner.finish(out)
    for p in (0, 1):
        out += runner.sweep(p, wall)
    latest: dict = {}
    for r in out:
        if r.__class__.__name__ == "IncidentRecord" and r.version >= getattr(latest.get(r.incident_id), "version", 0):
            latest[r.incident_id] = r
    return {_key(r): r for r in latest.values()}


class _Tap:
    """The detector as replay drives it, its detections copied out (what the scope stage sends to the
    incident stage)."""

    def __init__(self, det, seen):
        self.det, self.seen = det, seen

    def __getattr__(self, name):
        return getattr(self.det, name)

    def _tap(self, records):
        self.seen += [r for r in records if isinstance(r, Seen)]
        return records

    def feed(self, ev):
        return self._tap(self.det.feed(ev))

    def finish(self):
        return self._tap(self.det.finish())

    def flush(self):
        return self._tap(self.det.flush())


def _key(r) -> tuple:
    return r.tenant, r.subject_type, r.subject, min(r.alert_ids)


def final(incidents: dict) -> dict:
    return {k: (r.status, r.severity, sorted(r.alert_ids), r.summary, r.until) for k, r in incidents.items()}


def lines_of(events):
    return [("mem", i, json.dumps(e).encode(), None) for i, e in enumerate(events)]


def night() -> list:
    """An ordinary call, then an hour later premium-rate calls: the input ends inside the incident's hour."""
    return [cdr(t=0, call_id="ok", billsec=60)] + [
        cdr(t=HOUR + 60 * i, dst=f"0909879{i:04d}", call_id=f"p{i}", billsec=120) for i in range(4)]


def test_replay_closes_at_the_end_of_input_what_now_has_passed():
    pol = policy()
    last = T0.timestamp() + HOUR + 180
    (open_,) = replayed(lines_of(night()), pol).values()     # the input's own end: the hour is not over
    assert open_.status in ("open", "updated") and open_.until.timestamp() > last
    (same,) = replayed(lines_of(night()), pol, now=last).values()
    assert same.status == open_.status
    (over,) = replayed(lines_of(night()), pol, now=open_.until.timestamp()).values()
    assert over.status == "closed" and over.version == open_.version + 1


def test_the_worker_and_replay_end_a_night_the_same_way_given_the_same_clock():
    pol = policy()
    for wall in (T0.timestamp() + HOUR + 600, T0.timestamp() + 30 * 86400):
        want = final(replayed(lines_of(night()), pol, now=wall))
        assert final(worked(lines_of(night()), pol, wall, seed=1)) == want


def test_a_sweep_between_two_detections_does_not_close_an_incident_a_later_block_keeps_going():
    """The wall clock has passed the first detection's hour; the second, in that hour, blocks for 7 days
    still in force: the incident is not over, whether a sweep came between them or not."""
    def seen(alert_id, ts, span):
        return Seen(alert_id=alert_id, ts=ts, tenant="t", rule="r", severity="alert", subject_type="ip",
                    subject="192.0.2.1", summary=alert_id, span=span)
    wall = 5 * HOUR
    book = IncidentBook()
    book.fold(seen("a1", 0.0, HOUR))
    assert [u.status for u in book.sweep(None, None, floor=wall)] == ["closed"]
    updates, _ = book.fold(seen("a2", 60.0, 7 * 86400.0))
    assert updates[-1].status == "updated"
    assert book.sweep(None, None, floor=wall) == []
    # a later detection that ends before the clock leaves it closed, with no open record in between
    book = IncidentBook()
    book.fold(seen("a1", 0.0, HOUR))
    book.sweep(None, None, floor=wall)
    updates, _ = book.fold(seen("a2", 1800.0, 2 * HOUR))
    assert updates[-1].status == "closed" and updates[-1].until.timestamp() == 1800.0 + 2 * HOUR


def test_the_fixture_day_ends_the_same_in_both_shells_whenever_the_sweeps_fall():
    pol = Policy.load(POLICY)
    lines = [("sample", i, raw, None) for i, raw in enumerate(SAMPLE.read_bytes().splitlines(), 1)]
    end = max(decode_event_time(raw) for raw in SAMPLE.read_bytes().splitlines())
    for wall in (end + 2 * HOUR, end + 3 * 86400, end + 30 * 86400):
        want = final(replayed(lines, pol, now=wall))
        statuses = {v[0] for v in want.values()}
        assert "closed" in statuses
        for seed in range(4):
            got = final(worked(lines, pol, wall, seed))
            assert got == want, (wall, seed, {k: (got.get(k), want.get(k)) for k in set(got) | set(want)
                                              if got.get(k) != want.get(k)})


def decode_event_time(raw: bytes) -> float:
    from streams.domain.events import EventError, event_time
    try:
        return event_time(decode_event(raw))
    except (EventError, ValueError):
        return 0.0

