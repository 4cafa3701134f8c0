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
