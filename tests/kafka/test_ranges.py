"""tollguard ranges against the real broker: listed on the compacted topic, listed back, and honoured by a
running worker (which reads the topic as a table every worker holds whole)."""

import json
import os
import subprocess
import sys
import time

from tests.builders import cdr
from tests.kafka.conftest import ROOT, consume, produce


def run(env, *args):
    return subprocess.run([sys.executable, "-m", "streams.cli", "ranges", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_loaded_ranges_are_listed_and_a_running_worker_alerts_on_them(broker, prefix, worker, tmp_path):
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_BROKER=f"kafka://{broker}", TOLLGUARD_PARTITIONS="2")
    w = worker()  # creates the topics, then reads the (empty) ranges topic
    f = tmp_path / "ranges.csv"
    f.write_text("prefix,label,source,expires\n+88213,IRSF satellite range,feed-x,\n+3719,premium LV,manual,2020-01-01\n")
    loaded = run(env, "load", str(f))
    assert loaded.returncode == 0 and "2 range(s) listed" in loaded.stdout, loaded.stderr
    listed = run(env, "list")
    assert "+88213" in listed.stdout and "+3719" not in listed.stdout  # expired: only with --all
    assert "+3719" in run(env, "list", "--all").stdout
    time.sleep(3)  # the worker polls the topic every second
    call = cdr(t=0, call_id="irsf-1", src="1001", dst="+88213123456", billsec=30)
    produce(broker, f"{prefix}.cdr", [json.dumps(call).encode()], [b"default/1001"])
    got = consume(broker, f"{prefix}.alerts", want=1, timeout=90, predicate=lambda a: a["rule"] == "high_risk_range")
    assert got and got[0]["evidence"]["range"] == "+88213", w.log()
    removed = run(env, "load", "--remove", str(f))
    assert removed.returncode == 0 and "taken off" in removed.stdout
    assert "+88213" not in run(env, "list").stdout


def read_raw(broker, topic, timeout=30.0):
    """(key, value) of every record on ``topic`` that arrived within ``timeout`` (stops at the first)."""
    from kafka import KafkaConsumer
    c = KafkaConsumer(topic, bootstrap_servers=[broker], auto_offset_reset="earliest", enable_auto_commit=False,
                      group_id=None, consumer_timeout_ms=500)
    deadline, out = time.monotonic() + timeout, []
    try:
        while time.monotonic() < deadline and not out:
            out += [(m.key, m.value) for m in c]
    finally:
        c.close()
    return out


def test_a_wangiri_bursts_range_is_listed_by_the_worker_and_its_callbacks_alerted(broker, prefix, worker, tmp_path):
    """Issue 26.3: the burst's range goes to the ranges topic (label wangiri, with the block's expiry), and
    a callback to a number of the range that never rang is alerted; the worker's own listing never makes
    high_risk_range fire as well (replay has no listing)."""
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_BROKER=f"kafka://{broker}", TOLLGUARD_PARTITIONS="2")
    pol = tmp_path / "policy.yaml"
    pol.write_text("timezone: Europe/London\nhome_country: GB\ninternational_prefix: ['00', '+']\n"
                   "national_prefix: '0'\nextensions:\n  defaults: {international: true}\n")
    w = worker(policy=str(pol))
    rings = [cdr(t=i * 20, src=f"3719001234{i % 8}", dst=f"10{i % 12:02d}", direction="inbound", billsec=0,
                 duration=2, disposition="no_answer", call_id=f"w{i}") for i in range(15)]
    back = cdr(t=900, src="1003", dst="0037190012348", direction="outbound", billsec=40, duration=45,
               disposition="answered", call_id="cb1")
    events = rings + [back]
    produce(broker, f"{prefix}.cdr", [json.dumps(e).encode() for e in events], [b"default/x"] * len(events))
    got = consume(broker, f"{prefix}.alerts", want=2, timeout=90, predicate=lambda a: a["rule"] == "wangiri_inbound")
    assert {a["subject"] for a in got} == {"LV", "1003"}, w.log()
    listed = read_raw(broker, f"{prefix}.ranges")
    assert listed, w.log()
    assert [k for k, _ in listed] == [b"+3719001234"]
    rng = json.loads(listed[0][1])
    assert rng["label"] == "wangiri" and rng["source"].startswith("tollguard:wangiri_inbound:default:") and rng["expires"]
    assert "+3719001234" in run(env, "list", "--all").stdout  # the test day is in the past: its listing has expired
    later = consume(broker, f"{prefix}.alerts", want=10, timeout=5, predicate=lambda a: a["rule"] == "high_risk_range")
    assert not later
