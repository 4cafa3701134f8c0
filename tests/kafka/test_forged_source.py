"""Issue 25.1 on the real broker: chan_sip "Call from" lines whose caller text names another
address, shipped by `tollguard produce --input asterisk-log` to a running worker, block nobody
but the scanner whose own lines are unambiguous (old code: block_ip 198.51.100.77 for 604,800 s,
inbound_probe, from the 60 forged lines alone)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from tests.kafka.conftest import ROOT, consume

FORGED, REAL, SCANNER = "198.51.100.77", "203.0.113.9", "203.0.113.50"


def call_line(when: datetime, i: int, caller: str, source: str) -> str:
    return (f"[{when:%Y-%m-%d %H:%M:%S}] NOTICE[1234][C-{i:08x}] chan_sip.c: Call from '{caller}' ({source}:5060) "
            f"to extension '0044113490{i:04d}' rejected because extension not found in context 'from-sip-external'.")


def produce_log(broker: str, prefix: str, path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGUARD_")}
    env.update(TOLLGUARD_BROKER=f"kafka://{broker}", TOLLGUARD_TOPIC_PREFIX=prefix)
    return subprocess.run([sys.executable, "-m", "streams.cli", "produce", "--input", "asterisk-log", "--tz", "UTC",
                           str(path)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_forged_caller_lines_block_only_the_unambiguous_scanner(broker, prefix, worker, tmp_path):
    # "Call from" proves no round trip, so only an operator who lets unproven UDP block (issue 25.2) gets a
    # block at all; with that policy the forged lines must still block nobody
    policy = tmp_path / "policy.yaml"
    policy.write_text("block_on_unverified_udp: true\n")
    w = worker(policy=str(policy))
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=10)
    forged = [call_line(start + timedelta(seconds=i), i, f"x' ({FORGED}:5060) to extension ", REAL) for i in range(60)]
    scanner = [call_line(start + timedelta(seconds=60 + i), 60 + i, "scanner", SCANNER) for i in range(60)]
    path = tmp_path / "messages"
    path.write_text("\n".join(forged + scanner) + "\n")

    r = produce_log(broker, prefix, path)
    assert r.returncode == 0, r.stderr
    rejected = [ln for ln in r.stderr.splitlines() if ": rejected: " in ln]
    assert len(rejected) == 60 and all("ambiguous" in ln and FORGED in ln for ln in rejected), r.stderr[-2000:]

    # the scanner is blocked (so the worker did judge these lines) ...
    blocks = consume(broker, f"{prefix}.actions", want=1, timeout=45,
                     predicate=lambda a: a["kind"] == "block_ip" and a["target"] == SCANNER)
    assert blocks, w.log()
    # ... and nothing the worker wrote names the forged address, nor the sender hiding behind it
    actions = consume(broker, f"{prefix}.actions", want=10**6, timeout=6, idle=2)
    alerts = consume(broker, f"{prefix}.alerts", want=10**6, timeout=6, idle=2)
    assert {a["target"] for a in actions if a["kind"] == "block_ip"} == {SCANNER}, actions
    text = json.dumps([actions, alerts])
    assert FORGED not in text and REAL not in text
    assert any(a["rule"] == "inbound_probe" and a["subject"] == SCANNER for a in alerts), alerts
