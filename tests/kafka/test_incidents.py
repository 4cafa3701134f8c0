"""Incidents end to end on the real broker: worker -> incidents topic -> `incidents`, `ack`, `resolve`, `unblock`."""

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone

from streams.domain.events import encode
from tests.builders import sec
from tests.kafka.conftest import BOOTSTRAP, ROOT, consume, produce

IP = "198.51.100.23"


def cli(prefix: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_BROKER=f"kafka://{BOOTSTRAP}",
               TOLLGUARD_PARTITIONS="2")
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def attack(start: float | None = None) -> list[bytes]:
    """A scanner's registration, then 30 failed ones; from ``start`` (epoch seconds) when given."""
    evs = [sec(t=0, ip=IP, action="register", account="1001", user_agent="friendly-scanner")]
    evs += [sec(t=5 + i, ip=IP, action="register", account=str(1000 + i % 7), user_agent="PolycomVVX")
            for i in range(30)]
    if start is not None:
        for i, e in enumerate(evs):
            e["ts"] = datetime.fromtimestamp(start + (0 if i == 0 else 5 + i), timezone.utc).isoformat()
    return [json.dumps(e).encode() for e in evs]


def newest(records: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for r in records:
        if r["version"] >= out.get(r["incident_id"], {}).get("version", 0):
            out[r["incident_id"]] = r
    return out


def test_one_incident_for_a_scanner_that_brute_forces_and_the_socs_decisions_on_it(broker, prefix, worker):
    w = worker()
    produce(broker, f"{prefix}.security", attack(time.time() - 120), [IP.encode()] * 31)  # still open: blocked 7 days

    def both(r):  # one scanner's attack: one campaign of the tenant, naming the scanner
        return (r["subject_type"] == "campaign" and {"scanner_user_agent", "registration_lockout"} <= set(r["rules"])
                and [ip for ip, _ in r["campaign"]["sources"]["sample"]] == [IP])
    got = consume(broker, f"{prefix}.incidents", want=1, timeout=60, predicate=both)
    assert got, w.log()
    inc_id = got[0]["incident_id"]
    incidents = newest(consume(broker, f"{prefix}.incidents", want=10**6, timeout=8, idle=3))
    assert set(incidents) == {inc_id}  # one incident, not one per rule

    listed = cli(prefix, "incidents", "--format", "jsonl")
    assert listed.returncode == 0, listed.stderr
    rec = [json.loads(x) for x in listed.stdout.splitlines() if inc_id in x]
    assert len(rec) == 1 and rec[0]["status"] in ("open", "updated")
    table = cli(prefix, "incidents", "--open")
    assert inc_id in table.stdout and "registration_lockout" in table.stdout

    ack = cli(prefix, "ack", inc_id, "--note", "looking into it", "--by", "alice")
    assert ack.returncode == 0, ack.stderr + ack.stdout + w.log()
    assert "acknowledged by alice" in ack.stdout
    res = cli(prefix, "resolve", inc_id, "--false-positive", "--note", "pen test", "--by", "bob")
    assert res.returncode == 0, res.stderr
    final = newest(consume(broker, f"{prefix}.incidents", want=10**6, timeout=8, idle=3))[inc_id]
    assert final["status"] == "resolved" and final["verdict"] == "false_positive"
    assert [(d["status"], d["by"], d["note"]) for d in final["decisions"]] == \
        [("acknowledged", "alice", "looking into it"), ("resolved", "bob", "pen test")]
    assert inc_id not in cli(prefix, "incidents", "--open").stdout
    missing = cli(prefix, "ack", "i-0000", "--wait", "1")
    assert missing.returncode == 1 and "no incident" in missing.stderr


def test_unblock_lifts_the_block_for_the_blocklist_and_the_enforcers(broker, prefix, worker):
    w = worker()
    produce(broker, f"{prefix}.security", attack(time.time() - 120)[:1], [IP.encode()])  # blocked for 7 days
    blocks = consume(broker, f"{prefix}.actions", want=1, timeout=60, predicate=lambda a: a["kind"] == "block_ip")
    assert blocks and blocks[0]["target"] == IP, w.log()
    out = cli(prefix, "unblock", IP, "--reason", "customer's new SBC", "--by", "carol")
    assert out.returncode == 0, out.stderr
    lifted = consume(broker, f"{prefix}.actions", want=1, timeout=30, predicate=lambda a: a["kind"] == "unblock")
    assert lifted and lifted[0]["target"] == IP and "carol" in lifted[0]["reason"], w.log()
    from kafka import KafkaConsumer
    c = KafkaConsumer(f"{prefix}.blocklist", bootstrap_servers=[broker], auto_offset_reset="earliest",
                      group_id=None, consumer_timeout_ms=3000)
    values = [m.value for m in c if json.loads(m.key) == ["default", IP]]
    c.close()
    assert values[0] is not None and values[-1] is None  # the entry, then its tombstone
    inc = [r for r in consume(broker, f"{prefix}.incidents", want=10**6, timeout=6, idle=2)
           if any(d["status"] == "lifted" for d in r["decisions"])]
    assert inc and inc[-1]["decisions"][-1]["by"] == "carol"
