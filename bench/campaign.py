"""Issue 28's distributed registration flood, measured against ordinary traffic of the same size.

    python bench/campaign.py [--sizes 30000,150000] [--modes rules,model] [--runs 1] [--worker]

For each size N:

- **replay**: ``tollguard replay --format jsonl --policy fixtures/policy.example.yaml`` (``--no-model``
  for rules, the shipped model otherwise) in a fresh process, on N events of the flood
  (``bench/gen_campaign_flood.py``) and on the first N events of the simulator's week (``bench/run.py``'s
  ``simulated``, the same data ``make bench`` uses), judged with the same policy. Wall time is the
  whole command (start-up, model load, writing the records); the loop rate is replay's own summary
  (read, decode, order, rules). Alerts, actions and incidents are counted from the records' ``type``
  (incidents: distinct ``incident_id``), per 1,000 events.
- **worker** (``--worker``): the flood, ending at the wall clock, produced as a backlog of one-event
  records (keyed as ``tollguard produce`` keys them, ``bench/stream.py``), then one worker with the
  same policy (rules only) started on it. Once it is ready, a premium-rate call start (extension 2001
  to 09098790000, stamped with the wall clock) is produced on the CDR topic; its latency runs from
  that send to the moment its alert is read from the alerts topic. The drain rate is N over the time
  from ready to every input and repartition offset committed (as ``bench/stream.py``'s ``drain``, with
  every scope's repartition topic); the incident stage's catch-up (detections committed too) is given
  separately. The same-run baseline is ``bench/stream.py``'s ``drain`` of the simulated events (it waits
  on the input, by-ip, by-ext and by-trunk offsets, not by-tenant's).

Prints a markdown table on stdout (progress on stderr) and writes the raw results to
``.cache/bench/campaign-results.json``. Use a broker that is up (TOLLGUARD_BROKER, default
127.0.0.1:9092); every measurement has its own topic prefix and deletes its topics afterwards.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import run  # noqa: E402  (bench/run.py: data cache, machine, median_of, say)
from run import CACHE, say  # noqa: E402

POLICY = ROOT / "fixtures" / "policy.example.yaml"
FRAUD_EXT, FRAUD_DST = "2001", "09098790000"
SUMMARY = re.compile(r"in ([\d.]+) s \(([\d,]+) events/s\)")


# -- data -------------------------------------------------------------------------------------
def flood(n: int) -> Path:
    """The flood with the generator's fixed end (byte-identical on every machine), cached."""
    return run.generated(f"campaign-v1-{n}.jsonl", "gen_campaign_flood.py", n, [],
                         "failed registrations of a distributed flood")


def flood_now(n: int) -> Path:
    """The same flood ending at the wall clock (what the worker is sent), generated afresh."""
    path = CACHE / f"campaign-now-{n}.jsonl"
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_campaign_flood.py"), str(n), str(path), "--end", "now"],
                   check=True)
    return path


def ordinary(n: int) -> Path:
    """The first ``n`` events of the simulator's week (bench/run.py's cached simulation)."""
    sim = run.simulated(n)
    path = CACHE / f"{sim.parent.name}-first-{n}.jsonl"
    if not path.exists():
        with sim.open("rb") as src, path.open("wb") as out:
            for i, line in enumerate(src):
                if i >= n:
                    break
                out.write(line)
    return path


# -- replay -----------------------------------------------------------------------------------
def set_policy() -> Path:
    """The example policy with ``country_ip_block: set``: the firewall's country set blocks, not one record per source."""
    path = CACHE / "policy-country-set.yaml"
    path.write_text(POLICY.read_text() + "\ncountry_ip_block: set\n")
    return path


def replay_cli(path: Path, mode: str, policy: Path | None = None) -> dict:
    """One ``tollguard replay --format jsonl`` in a fresh process; its records counted by type."""
    out = CACHE / "campaign-replay-out.jsonl"
    cmd = [sys.executable, "-m", "streams.cli", "replay", "--format", "jsonl", "--policy", str(policy or POLICY), str(path)]
    if mode == "rules":
        cmd.insert(4, "--no-model")
    t0 = time.monotonic()
    with out.open("wb") as fh:
        r = subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.PIPE, text=True, check=True)
    wall = time.monotonic() - t0
    counts = {"alert": 0, "action": 0}
    rules: Counter = Counter()
    incidents: set[str] = set()
    with out.open("rb") as fh:
        for line in fh:
            rec = json.loads(line)
            kind = rec.get("type")
            if kind == "incident":
                incidents.add(rec["incident_id"])
            elif kind in counts:
                counts[kind] += 1
                if kind == "alert":
                    rules[rec["rule"]] += 1
    out.unlink()
    events = run.count(path)
    m = SUMMARY.search(r.stderr)
    return {"events": events, "mode": mode + (" + country set" if policy else ""), "wall_s": round(wall, 2), "wall_events_per_s": events / wall,
            "loop_s": float(m.group(1)) if m else None,
            "loop_events_per_s": float(m.group(2).replace(",", "")) if m else None,
            "alerts": counts["alert"], "actions": counts["action"], "incidents": len(incidents),
            "alerts_by_rule": dict(rules.most_common())}


# -- worker -----------------------------------------------------------------------------------
def worker_flood(n: int, partitions: int = 4, timeout: float = 300.0, workers: int = 1, policy: Path | None = None) -> dict:
    """The flood as a backlog, ``workers`` workers on it (one process each, one group) judging with ``policy``
    (default the example policy), a fraud call start sent once the first is ready (module doc)."""
    import stream
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from streams.core.types import SCOPES

    path = flood_now(n)
    prefix = stream.new_prefix("camp")
    stream.ensure(prefix, partitions)
    recs = stream.read_records(path, 1)
    stream.produce_backlog(prefix, recs)
    procs = [stream.start_worker(prefix, partitions, f"w{i}", policy=policy or POLICY) for i in range(workers)]
    admin = consumer = producer = None
    try:
        stream.wait_ready(procs[0][1])
        t0 = time.monotonic()
        admin = KafkaAdminClient(bootstrap_servers=[stream.BOOT])
        consumer = KafkaConsumer(f"{prefix}.alerts", bootstrap_servers=[stream.BOOT], auto_offset_reset="earliest",
                                 group_id=None, enable_auto_commit=False)
        producer = KafkaProducer(bootstrap_servers=[stream.BOOT], acks=1, linger_ms=0)
        ts = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        fraud = {"type": "cdr", "phase": "start", "call_id": f"fraud-{prefix}", "start": ts, "tenant": "default",
                 "src": FRAUD_EXT, "dst": FRAUD_DST, "direction": "outbound", "trunk": "sip-local"}
        t_sent = time.monotonic()
        producer.send(f"{prefix}.cdr", key=f"default/{FRAUD_EXT}".encode(), value=json.dumps(fraud).encode())
        producer.flush()
        scoped = [f"{prefix}.{t}" for t in ("cdr", "security", *(f"by-{s}{lane}" for s in SCOPES for lane in ("", "-calls")))]
        t_alert, alert_rule, t_drained, t_incidents = watch(prefix, consumer, admin, scoped, t0, timeout)
        rss = round(sum(stream.rss_mb(proc.pid) for proc, _ in procs), 1)
        out = {"events": n, "partitions": partitions, "workers": workers, "records": len(recs), "rss_mb": rss,
               "policy": "example" if policy is None else "+ country set",
               "drain_s": round(t_drained - t0, 2) if t_drained else None,
               "events_per_s": n / (t_drained - t0) if t_drained else None,
               "incidents_caught_up_s": round(t_incidents - t0, 2) if t_incidents else None,
               "fraud_sent_after_ready_s": round(t_sent - t0, 2),
               "fraud_latency_s": round(t_alert - t_sent, 2) if t_alert else None,
               "fraud_rule": alert_rule, "timeout_s": timeout}
        out.update(output_counts(prefix))
        return out
    finally:
        for c in (producer, consumer, admin):
            if c is not None:
                c.close()
        for proc, _ in procs:
            stream.stop(proc)
        stream.drop_topics(prefix)


def watch(prefix: str, consumer, admin, scoped: list[str], t0: float, timeout: float) -> tuple:
    """Until the fraud alert is read, the scopes have committed everything and then the incident stage
    too (or ``timeout`` from ``t0``): (alert time, its rule, drained time, incidents caught-up time)."""
    import stream
    t_alert = alert_rule = t_drained = t_incidents = None
    next_lag = 0.0
    while t_alert is None or t_drained is None or t_incidents is None:
        now = time.monotonic()
        if now - t0 > timeout:
            break
        for msgs in consumer.poll(timeout_ms=200, max_records=5000).values():
            for msg in msgs:
                a = json.loads(msg.value)
                if t_alert is None and a.get("subject") == FRAUD_EXT:
                    t_alert, alert_rule = time.monotonic(), a.get("rule")
        if now >= next_lag:
            next_lag = now + 0.5
            consumer.topics()
            if t_drained is None and stream.committed_lag(prefix, admin, consumer, scoped) == 0 and now - t0 > 2:
                t_drained = time.monotonic()
            if t_drained is not None and t_incidents is None and \
                    stream.committed_lag(prefix, admin, consumer, [f"{prefix}.detections"]) == 0:
                t_incidents = time.monotonic()
    return t_alert, alert_rule, t_drained, t_incidents


def output_counts(prefix: str) -> dict:
    """Distinct alerts, actions and incidents the worker wrote for the flood (read back from its output
    topics, by id; the fraud call's own alerts, their actions and its incident are left out)."""
    import stream
    from kafka import KafkaConsumer
    c = KafkaConsumer(f"{prefix}.alerts", f"{prefix}.actions", f"{prefix}.incidents", bootstrap_servers=[stream.BOOT],
                      auto_offset_reset="earliest", group_id=None, consumer_timeout_ms=4000)
    alerts: dict[str, str] = {}
    rules: dict[str, str] = {}
    actions: dict[str, str] = {}
    incidents: dict[str, str] = {}
    for m in c:
        if m.value is None:
            continue
        rec = json.loads(m.value)
        if m.topic.endswith(".alerts"):
            alerts[rec["alert_id"]] = rec["subject"]
            rules[rec["alert_id"]] = rec["rule"]
        elif m.topic.endswith(".actions"):
            actions[rec["action_id"]] = rec["alert_id"]
        else:
            incidents[rec["incident_id"]] = rec["subject"]
    c.close()
    fraud = {a for a, subject in alerts.items() if subject == FRAUD_EXT}
    return {"worker_alerts": len(alerts) - len(fraud), "worker_actions": sum(a not in fraud for a in actions.values()),
            "worker_incidents": sum(s != FRAUD_EXT for s in incidents.values()),
            "worker_alerts_by_rule": dict(Counter(r for a, r in rules.items() if a not in fraud).most_common())}


# -- report -----------------------------------------------------------------------------------
def per_k(x: int, n: int) -> str:
    return f"{1000 * x / n:,.1f}"


def table(results: dict) -> str:
    L = ["| traffic | events | replay | wall s | events/s (wall) | events/s (loop) | alerts /1k | actions /1k "
         "| incidents /1k | alerts, actions, incidents |",
         "|---|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in results["replay"]:
        L.append(f"| {r['traffic']} | {r['events']:,} | {r['mode']} | {r['wall_s']:.1f} | {r['wall_events_per_s']:,.0f} | "
                 f"{run.fmt(r['loop_events_per_s'])} | {per_k(r['alerts'], r['events'])} | "
                 f"{per_k(r['actions'], r['events'])} | {per_k(r['incidents'], r['events'])} | "
                 f"{r['alerts']:,}, {r['actions']:,}, {r['incidents']:,} |")
    if results.get("worker"):
        L += ["", "| traffic | events | policy | workers | worker drain s | events/s | incident stage caught up s | "
              "fraud call start → alert | worker alerts, actions, incidents | RSS |",
              "|---|---:|---|---:|---:|---:|---:|---|---|---:|"]
        for r in results["worker"]:
            if r["traffic"] == "flood":
                lat = (f"{r['fraud_latency_s']:.2f} s ({r['fraud_rule']})" if r["fraud_latency_s"] is not None
                       else f"none within {r['timeout_s']:.0f} s")
                L.append(f"| flood | {r['events']:,} | {r.get('policy', 'example')} | {r.get('workers', 1)} | "
                         f"{run.fmt(r['drain_s'], 1)} | "
                         f"{run.fmt(r['events_per_s'])} | "
                         f"{run.fmt(r['incidents_caught_up_s'], 1)} | {lat} | {r['worker_alerts']:,}, "
                         f"{r['worker_actions']:,}, {r['worker_incidents']:,} | {r['rss_mb']:.0f} MB |")
            else:
                L.append(f"| ordinary | {r['events']:,} | example | {r['workers']} | {r['seconds']:.1f} | "
                         f"{run.fmt(r['events_per_s'])} | "
                         f"- | - | - | "
                         f"{r['rss_mb'][0]:.0f} MB |")
    return "\n".join(L)


def save(results: dict) -> None:
    (CACHE / "campaign-results.json").write_text(json.dumps(results, indent=1, default=str))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="30000,150000", help="comma-separated event counts (default 30000,150000)")
    ap.add_argument("--modes", default="rules,model", help="replay modes: rules, model or both (default both)")
    ap.add_argument("--runs", type=int, default=1, help="runs per replay figure; the median is shown (default 1)")
    ap.add_argument("--worker", action="store_true", help="also the worker's drain and a fraud call's latency")
    ap.add_argument("--worker-sizes", default=None, help="sizes for the worker (default: --sizes)")
    ap.add_argument("--timeout", type=float, default=300.0, help="longest wait for a worker to drain (s)")
    ap.add_argument("--workers", type=lambda v: [int(x) for x in v.split(",")], default=[1],
                    help="worker processes draining the flood, one measurement each (default 1; e.g. 1,2)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the ordinary-traffic rows")
    ap.add_argument("--country-set", action="store_true", help="the worker judges with `country_ip_block: set`")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",") if s]
    modes = [m for m in a.modes.split(",") if m]
    m = run.machine()
    say(f"{m['cpu']}, {m['cores']} cores; commit {m['commit']}")
    results: dict = {"machine": m, "replay": [], "worker": []}
    for n in sizes:
        data = [("flood", flood(n))] + ([] if a.no_baseline else [("ordinary", ordinary(n))])
        for mode in modes:
            for traffic, path in data:
                res = run.median_of(a.runs, lambda: replay_cli(path, mode), f"replay {mode}, {traffic} {n:,}",
                                    key="wall_events_per_s")
                results["replay"].append({"traffic": traffic, **res})
    save(results)
    if a.worker:
        import stream
        for n in [int(s) for s in (a.worker_sizes or a.sizes).split(",") if s]:
            pol = set_policy() if a.country_set else None
            runs = [("flood", lambda w=w: worker_flood(n, timeout=a.timeout, workers=w, policy=pol)) for w in a.workers]
            if not a.no_baseline:
                runs.append(("ordinary", lambda: stream.drain(ordinary(n), 4, 1, policy=POLICY, timeout=a.timeout)))
            for traffic, fn in runs:
                try:
                    res = fn()
                except (Exception, SystemExit) as exc:  # a broker restarted under us: keep what was measured, say what was not
                    say(f"worker, {traffic} {n:,}: not measured ({type(exc).__name__}: {exc})")
                    results.setdefault("not_measured", []).append(f"worker, {traffic} {n:,}: {type(exc).__name__}")
                    continue
                say(f"worker, {traffic} {n:,}: {res}")
                results["worker"].append({"traffic": traffic, **res})
                save(results)
    print(table(results))
    for what in results.get("not_measured", []):
        print(f"\nNot measured: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
