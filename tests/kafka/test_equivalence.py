"""The same detections on both shells: replay vs producer -> broker -> worker -> alert topic."""

import subprocess
import sys

from streams.policy import Policy
from streams.shells.replay import replay_file
from tests.kafka.conftest import ROOT, consume

SAMPLE = ROOT / "fixtures" / "sample-events.jsonl"
POLICY = ROOT / "fixtures" / "policy.example.yaml"


def produce_file(prefix: str, path, broker: str) -> subprocess.CompletedProcess:
    env = {"TOLLGUARD_TOPIC_PREFIX": prefix, "TOLLGUARD_BROKER": f"kafka://{broker}", "TOLLGUARD_PARTITIONS": "2",
           "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "streams.cli", "produce", str(path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_worker_alerts_equal_replay_alerts(broker, prefix, worker):
    """Rules and the shipped anomaly model, in both shells."""
    from models.score import Scorer
    out, _, _ = replay_file([str(SAMPLE)], Policy.load(POLICY), scorer=Scorer.load(ROOT / "models" / "default.skops"))
    want = {r.alert_id: r.rule for r in out if r.__class__.__name__ == "Alert"}
    w = worker(policy=str(POLICY), model=True)
    p = produce_file(prefix, SAMPLE, broker)
    assert p.returncode == 0, p.stderr
    got = consume(broker, f"{prefix}.alerts", want=len(want), timeout=60, idle=4)
    got_ids = {a["alert_id"]: a["rule"] for a in got}
    assert got_ids == want, f"missing {set(want) - set(got_ids)}, extra {set(got_ids) - set(want)}\n{w.log()}"
    assert "3 rejected" in p.stderr and "sample-events.jsonl:102: rejected" in p.stderr
    assert consume(broker, f"{prefix}.dlq", want=0, timeout=5, idle=1) == []  # produce never sends bad lines
    # the incident stage: the same incidents (what each holds) and the same actions, repeats dropped
    want_inc = {_incident(r) for r in out if r.__class__.__name__ == "IncidentRecord"}
    latest: dict = {}
    for rec in consume(broker, f"{prefix}.incidents", want=10**6, timeout=12, idle=4):
        if rec["version"] >= latest.get(rec["incident_id"], {}).get("version", 0):
            latest[rec["incident_id"]] = rec
    got_inc = {_incident(r) for r in latest.values()}
    assert got_inc == want_inc, f"missing {want_inc - got_inc}\nextra {got_inc - want_inc}"
    want_act = sorted(r.action_id for r in out if r.__class__.__name__ == "Action" and r.kind != "hangup_call")
    got_act = sorted(a["action_id"] for a in consume(broker, f"{prefix}.actions", want=len(want_act), timeout=20, idle=2)
                     if a["kind"] != "hangup_call")
    assert got_act == want_act


def _incident(r) -> tuple:
    """What an incident holds, whichever shell folded it (ids and status depend on arrival order and the
    clock). A hang-up is ordered only for a call still in progress when its live timer fires: the
    worker may already have read the call's end by then, replay (in order) never has."""
    get = r.get if isinstance(r, dict) else lambda k: getattr(r, k)
    acts = [a if isinstance(a, dict) else {"kind": a.kind, "action_id": a.action_id} for a in get("actions")]
    return (get("tenant"), get("subject_type"), get("subject"), tuple(sorted(get("rules"))),
            tuple(sorted(get("alert_ids"))), tuple(sorted(a["action_id"] for a in acts if a["kind"] != "hangup_call")),
            get("severity"))


def test_batch_records_give_the_same_alerts(broker, prefix, worker):
    """JSON-array records (many events per Kafka record) reach the same detections; a bad element
    is dead-lettered alone with its index, an unreadable batch as a whole."""
    import json

    from kafka import KafkaProducer

    out, _, _ = replay_file([str(SAMPLE)], Policy.load(POLICY))
    want = {r.alert_id for r in out if r.__class__.__name__ == "Alert"}
    lines = []
    for line in SAMPLE.read_bytes().splitlines():
        try:
            json.loads(line)
        except ValueError:
            continue  # not JSON: it could not sit inside an array (replay rejects it too)
        lines.append(line)
    w = worker(policy=str(POLICY))
    p = KafkaProducer(bootstrap_servers=[broker], acks="all", max_request_size=4 * 1024 * 1024)
    bad = b'{"type":"cdr","call_id":12}'
    for i in range(0, len(lines), 50):
        chunk = lines[i:i + 50]
        if i == 100:
            chunk = chunk[:7] + [bad] + chunk[7:]
        p.send(f"{prefix}.cdr" if i % 100 else f"{prefix}.security", value=b"[" + b",".join(chunk) + b"]")
    p.send(f"{prefix}.cdr", value=b'[{"type":')
    p.flush(60)
    p.close()
    got = {a["alert_id"] for a in consume(broker, f"{prefix}.alerts", want=len(want), timeout=60, idle=4)}
    assert got == want, f"missing {want - got}, extra {got - want}\n{w.log()}"
    dead = consume(broker, f"{prefix}.dlq", want=10, timeout=10, idle=2)
    element = [d for d in dead if d.get("index") == 7]
    assert len(element) == 1 and element[0]["raw"] == bad.decode() and "`$.call_id`" in element[0]["reason"]
    whole = [d for d in dead if d["raw"] == '[{"type":']
    assert len(whole) == 1 and "not a JSON array" in whole[0]["reason"] and "index" not in whole[0]


def test_a_backlog_read_at_start_gives_replays_alerts(broker, prefix, worker):
    """The feed is on the topics before any worker runs (a night's CDRs, a worker deployed late): the
    worker drains partitions in whatever order its fetches return them. (Whether that order hurts
    depends on the fetches; test_order_robust reads partitions one after another deterministically.)"""
    out, _, _ = replay_file([str(SAMPLE)], Policy.load(POLICY))
    want = {r.alert_id: r.rule for r in out if r.__class__.__name__ == "Alert"}
    p = produce_file(prefix, SAMPLE, broker)
    assert p.returncode == 0, p.stderr
    w = worker(policy=str(POLICY))
    got = {a["alert_id"]: a["rule"] for a in consume(broker, f"{prefix}.alerts", want=len(want), timeout=60, idle=4)}
    assert got == want, f"missing {set(want) - set(got)}, extra {set(got) - set(want)}\n{w.log()}"


def test_a_country_sweep_under_the_country_set_is_one_alert_in_both_shells(broker, prefix, worker, tmp_path):
    """``country_ip_block: set``: the knocks of 400 sources from countries not allowed are one alert for the
    tenant in the worker as in replay (the requests reach the tenant key too), and a source that signed in
    and one that called keep their own."""
    import json
    from datetime import datetime, timedelta, timezone

    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.read_text() + "\ncountry_ip_block: set\n")
    t0 = datetime(2026, 10, 1, 8, 0, tzinfo=timezone.utc)
    nets = ["8.8", "1.2", "5.45", "41.0"]  # US, CN, RU, ZA
    events = [{"type": "security", "ts": (t0 + timedelta(seconds=i)).isoformat(), "service": "sip", "action": "register",
               "src_ip": f"{nets[i % 4]}.{i // 200}.{i % 200 + 1}", "account": f"10{i % 9}",
               "outcome": ("failure", "request")[i % 2]} for i in range(400)]
    events.append({"type": "security", "ts": (t0 + timedelta(seconds=401)).isoformat(), "service": "sip",
                   "action": "register", "src_ip": "5.45.9.9", "account": "1001", "outcome": "success"})
    events.append({"type": "cdr", "call_id": "abroad-1", "start": (t0 + timedelta(seconds=402)).isoformat(),
                   "end": (t0 + timedelta(seconds=460)).isoformat(), "billsec": 50, "src": "1002",
                   "dst": "02079460000", "src_ip": "41.0.9.9", "tenant": "default"})
    path = tmp_path / "sweep.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    out, _, _ = replay_file([str(path)], Policy.load(policy))
    want = {r.alert_id: (r.rule, r.subject_type, r.subject) for r in out if r.__class__.__name__ == "Alert"}
    assert sorted(v for v in want.values() if v[0] == "country_ip") == [
        ("country_ip", "ip", "41.0.9.9"), ("country_ip", "ip", "5.45.9.9"), ("country_ip", "tenant", "default")]
    w = worker(policy=str(policy))
    p = produce_file(prefix, path, broker)
    assert p.returncode == 0, p.stderr
    got = {a["alert_id"]: (a["rule"], a["subject_type"], a["subject"])
           for a in consume(broker, f"{prefix}.alerts", want=len(want), timeout=60, idle=4)}
    assert got == want, f"missing {set(want) - set(got)}, extra {set(got) - set(want)}\n{w.log()}"
