"""The worker's pipeline in-process: input partitions read in any interleaving, ingest, repartition
records read in any interleaving, scopes, marks; alert ids equal replay's.

No broker: the same Ingest and ScopeRunner classes the Faust app wires together, driven by a
scheduler that reads the sources' records in random-sized batches, as two workers and a
rebalance would, and delivers each scope partition's records in order (Kafka's guarantee).
"""

import json
import random
from collections import deque, namedtuple

import pytest

from streams.core.types import SCOPES
from streams.policy import Policy
from streams.shells.replay import replay_file
from streams.commands.simulate import simulate
from streams.kafka.topics import LANES
from streams.shells.worker.ingest import Ingest, lane_marks, partition_of
from streams.shells.worker.scope import ScopeRunner

Rec = namedtuple("Rec", "topic partition offset value")
PARTS = 4
NOW = 1_900_000_000.0  # the worker's wall clock: after the simulated days


def input_partitions(lines: list[bytes]) -> dict[tuple[str, int], list[Rec]]:
    """Records as `tollguard produce` keys them: CDRs by tenant/extension, security events by source IP."""
    out: dict[tuple[str, int], list[Rec]] = {(t, p): [] for t in ("p.cdr", "p.security") for p in range(PARTS)}
    for line in lines:
        ev = json.loads(line)
        if ev["type"] == "cdr":
            topic, key = "p.cdr", f"{ev.get('tenant', 'default')}/{ev['src']}"
        else:
            topic, key = "p.security", ev["src_ip"]
        tp = (topic, partition_of(key.encode(), PARTS))
        out[tp].append(Rec(*tp, len(out[tp]), line))
    return out


def broadcast(marks: dict, logs: dict) -> None:
    from streams.shells.worker import records
    for lane, lmarks in lane_marks(marks).items():
        value = records.encode(lmarks, [])
        for dest, log in logs.items():
            if dest[2] == lane:
                log.append(value)


def run_pipeline(lines: list[bytes], pol: Policy, seed: int, scorer_factory=None) -> dict[str, str]:
    """The alert ids (with their rules) the pipeline raised."""
    return {a.alert_id: a.rule for a in pipeline_output(lines, pol, seed, scorer_factory)
            if a.__class__.__name__ == "Alert"}


def pipeline_output(lines: list[bytes], pol: Policy, seed: int, scorer_factory=None) -> list:
    rnd = random.Random(seed)
    sources = {tp: deque(recs) for tp, recs in input_partitions(lines).items()}
    ingest = Ingest(PARTS, pol, clock=lambda: NOW)
    ingest.expect({"p.cdr": PARTS, "p.security": PARTS})
    runners = {s: ScopeRunner(s, pol, {}, PARTS, lambda k, p: partition_of(k.encode(), PARTS) == p, scorer_factory)
               for s in SCOPES}
    # each scope partition's two lanes, each in order, read at their own random paces (as two agents read them)
    logs: dict[tuple[str, int, str], deque] = {(s, p, lane): deque() for s in runners for p in range(PARTS)
                                               for lane in LANES}
    out: list = []

    def read_scopes(k: int) -> None:  # scope partitions consume their logs, in order, at random paces
        for dest, log in logs.items():
            for _ in range(min(len(log), rnd.randint(0, k))):
                runners[dest[0]].apply(dest[1], log.popleft(), [], out)

    while any(sources.values()):
        tp = rnd.choice([tp for tp, q in sources.items() if q])
        batch = [sources[tp].popleft() for _ in range(min(len(sources[tp]), rnd.randint(1, 40)))]
        for dest, values in ingest.route(batch).out.items():
            logs[dest].extend(values)
        if rnd.random() < 0.3:  # a mark broadcast, as the worker's timer sends one: each lane its own sources'
            broadcast(ingest.marks(), logs)
        read_scopes(3)
    for s in ingest.sources.values():  # the end of the input: every source goes idle
        s.idle = True
    broadcast(ingest.marks(full=True), logs)
    while any(logs.values()):
        read_scopes(10)
    for r in runners.values():
        for p in range(PARTS):
            out += r.flush(p)[0]
    return out


def action_ids(out: list) -> set[str]:
    """The ids of the actions published: the detections folded into incidents, as both shells publish them."""
    from streams.domain.incidents import IncidentBook, settle
    published, _ = settle(out, IncidentBook())
    return {a.action_id for a in published if a.__class__.__name__ == "Action"}


@pytest.fixture(scope="module")
def live_day(tmp_path_factory):
    d = tmp_path_factory.mktemp("pipeline")
    simulate(1, 33, d, extensions=40)
    return d


@pytest.mark.parametrize("seed", range(int(__import__("os").environ.get("PIPELINE_SEEDS", 6))))
def test_any_interleaving_of_partitions_gives_replays_alert_ids(live_day, seed):
    pol = Policy.load(live_day / "policy.yaml")
    out, _, _ = replay_file([str(live_day / "events.jsonl")], pol)
    want = {r.alert_id: r.rule for r in out if r.__class__.__name__ == "Alert"}
    got = run_pipeline((live_day / "events.jsonl").read_bytes().splitlines(), pol, seed)
    missing = sorted(want[k] for k in set(want) - set(got))
    extra = sorted(got[k] for k in set(got) - set(want))
    assert not missing and not extra, f"seed {seed}: missing {missing}, extra {extra}"


@pytest.fixture(scope="module")
def cdr_day(tmp_path_factory):
    d = tmp_path_factory.mktemp("pipeline-cdr")
    simulate(1, 34, d, extensions=40, live=False)
    return d


@pytest.mark.parametrize("seed", range(3))
def test_with_the_model_too(live_day, cdr_day, seed):
    """The anomaly model learns per extension in event-time order: the interleaving does not matter either."""
    from pathlib import Path

    from models.score import Scorer
    model = Path(__file__).resolve().parents[4] / "models" / "default.skops"
    for day in (live_day, cdr_day):
        pol = Policy.load(day / "policy.yaml")
        out, _, _ = replay_file([str(day / "events.jsonl")], pol, scorer=Scorer.load(model))
        want = {r.alert_id: r.rule for r in out if r.__class__.__name__ == "Alert"}
        assert "anomaly" in want.values()
        got = run_pipeline((day / "events.jsonl").read_bytes().splitlines(), pol, seed, lambda: Scorer.load(model))
        missing = sorted(want[k] for k in set(want) - set(got))
        extra = sorted(got[k] for k in set(got) - set(want))
        assert not missing and not extra, f"{day.name} seed {seed}: missing {missing}, extra {extra}"


@pytest.fixture(scope="module")
def flood(tmp_path_factory):
    """A distributed registration flood (bench/gen_campaign_flood.py): every failure from a new address."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[4]
    path = tmp_path_factory.mktemp("flood") / "flood.jsonl"
    subprocess.run([sys.executable, str(root / "bench" / "gen_campaign_flood.py"), "3000", str(path),
                    "--accounts", "50", "--minutes", "20"], check=True)
    return root / "fixtures" / "policy.example.yaml", path


@pytest.mark.parametrize("seed", range(2))
def test_a_distributed_flood_orders_the_same_actions_as_replay(flood, seed):
    """Which sources an account lock names is read from the account's window, not from the order the
    failures arrived in; and every detection's locks are ordered, not only the first's."""
    policy_path, path = flood
    pol = Policy.load(policy_path)
    out, _, _ = replay_file([str(path)], pol)
    want = {a.action_id for a in out if a.__class__.__name__ == "Action"}
    assert want
    got = action_ids(pipeline_output(path.read_bytes().splitlines(), pol, seed))
    assert len(want - got) == 0 and len(got - want) == 0, \
        f"seed {seed}: {len(want - got)} of {len(want)} missing, {len(got - want)} extra"
