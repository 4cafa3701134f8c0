"""The same events in any order give the same alert ids (docs/stream.md), in-process, no broker.

A simulated day of completed CDRs and security events is judged in file order, sorted by call
start, sorted by call end, shuffled within an hour and with every event repeated: by replay
(which sorts) and by the worker's way (arrival order, event time from the latest seen).
"""
import json
import random
from pathlib import Path

import pytest

from streams.core.detector import Detector
from streams.domain.events import EventError, decode_event, event_time
from streams.policy import Policy
from streams.shells.replay import run
from streams.commands.simulate import simulate


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    d = tmp_path_factory.mktemp("cdronly")
    simulate(1, 3, d, extensions=40, live=False)
    return d


def orders(lines: list[bytes]) -> dict[str, list[bytes]]:
    evs = [decode_event(line) for line in lines]
    start = [e.start.timestamp() if hasattr(e, "start") else e.ts.timestamp() for e in evs]
    end = [event_time(e) for e in evs]
    rnd = random.Random(11)
    jitter = [t + rnd.uniform(0, 3600) for t in end]
    idx = range(len(lines))
    return {
        "file": lines,
        "by_start": [lines[i] for i in sorted(idx, key=start.__getitem__)],
        "by_end": [lines[i] for i in sorted(idx, key=end.__getitem__)],
        "shuffled_1h": [lines[i] for i in sorted(idx, key=jitter.__getitem__)],
        "repeated": [x for line in lines for x in (line, line)],
    }


def alert_ids(out) -> dict[str, str]:
    return {r.alert_id: r.rule for r in out if r.__class__.__name__ == "Alert"}


def by_replay(lines, pol):
    out = []
    run(((f"f", i, line, None) for i, line in enumerate(lines)), Detector(pol), out.append, lambda r: None)
    return alert_ids(out)


def by_arrival(lines, pol):
    det, out, latest = Detector(pol), [], {}
    for line in lines:
        e = decode_event(line)
        out += det.process(e)
        latest[e.tenant] = max(latest.get(e.tenant, float("-inf")), event_time(e))
        out += det.advance(e.tenant, latest[e.tenant])
    out += det.finish()
    return alert_ids(out)


def by_partitions(lines, pol, parts: int = 2, rounds: int = 0):
    """The worker's way over a producer's partitions (keyed by ``event_key``): each partition in
    its own order, the partitions consumed one after another (``rounds=0``) or in random slices;
    event time is the lowest a partition with records still to come has reached (a partition
    not started holds it back, a finished one is idle), as the worker's marks have it."""
    from streams.domain.events import event_key
    from streams.shells.worker.ingest import partition_of
    evs = []
    for line in lines:
        try:
            evs.append(decode_event(line))
        except EventError:
            pass  # replay sends it to the DLQ; so does ingest
    queues = [[e for e in evs if partition_of(event_key(e).encode(), parts) == p] for p in range(parts)]
    order: list[int] = []
    if rounds:
        rnd = random.Random(rounds)
        left = [len(q) for q in queues]
        while any(left):
            p = rnd.choice([i for i, n in enumerate(left) if n])
            k = min(left[p], rnd.randint(1, 50))
            order += [p] * k
            left[p] -= k
    else:
        order = [p for p in reversed(range(parts)) for _ in queues[p]]
    det, out = Detector(pol), []
    seen: list[dict] = [{} for _ in range(parts)]
    pos = [0] * parts
    for p in order:
        e = queues[p][pos[p]]
        pos[p] += 1
        out += det.process(e)
        seen[p][e.tenant] = max(seen[p].get(e.tenant, float("-inf")), event_time(e))
        live = [s for q, s in enumerate(seen) if pos[q] < len(queues[q])]
        out += det.advance(e.tenant, min((s.get(e.tenant, float("-inf")) for s in live), default=event_time(e)))
    out += det.finish()
    return alert_ids(out)


def test_partitions_read_one_after_another_agree_with_replay(day):
    """What a worker that reads a backlog does: one input partition drained before the next is read
    (found by make demo: an extension's regular re-registrations, all read first, pushed out the
    ones a hijacker's registration on the other partition needed)."""
    root = Path(__file__).resolve().parents[3]
    for lines, pol in (((day / "events.jsonl").read_bytes().splitlines(), Policy.load(day / "policy.yaml")),
                       ((root / "fixtures/sample-events.jsonl").read_bytes().splitlines(),
                        Policy.load(root / "fixtures/policy.example.yaml"))):
        want = by_replay(lines, pol)
        for parts, rounds in ((2, 0), (3, 0), (2, 7), (4, 8)):
            got = by_partitions(lines, pol, parts, rounds)
            missing = sorted(want[k] for k in set(want) - set(got))
            extra = sorted(got[k] for k in set(got) - set(want))
            assert not missing and not extra, f"{parts} partitions, rounds {rounds}: missing {missing}, extra {extra}"


def test_replay_and_arrival_order_agree_for_every_order(day):
    lines = (day / "events.jsonl").read_bytes().splitlines()
    pol = Policy.load(day / "policy.yaml")
    want = by_replay(lines, pol)
    assert len(want) > 20 and len(set(want.values())) > 6
    for name, seq in orders(lines).items():
        for shell in (by_replay, by_arrival):
            got = shell(seq, pol)
            missing = sorted(want[k] for k in set(want) - set(got))
            extra = sorted(got[k] for k in set(got) - set(want))
            assert not missing and not extra, f"{shell.__name__} on {name}: missing {missing}, extra {extra}"


def test_a_live_feed_in_its_own_order_agrees_with_replay(tmp_path):
    simulate(1, 4, tmp_path, extensions=30)
    lines = (tmp_path / "events.jsonl").read_bytes().splitlines()
    assert any(json.loads(line).get("phase") == "start" for line in lines)
    pol = Policy.load(tmp_path / "policy.yaml")
    assert by_arrival(lines, pol) == by_replay(lines, pol)


def test_replay_does_not_depend_on_file_order_with_the_model(day):
    from models.score import Scorer
    scorer = Scorer.load(Path(__file__).resolve().parents[3] / "models" / "default.skops")
    lines = (day / "events.jsonl").read_bytes().splitlines()
    pol = Policy.load(day / "policy.yaml")

    def with_model(seq):
        out = []
        run(((f"f", i, line, None) for i, line in enumerate(seq)), Detector(pol, scorer=scorer), out.append,
            lambda r: None)
        return alert_ids(out)
    want = with_model(lines)
    assert "anomaly" in want.values()
    for name, seq in orders(lines).items():
        assert with_model(seq) == want, name
