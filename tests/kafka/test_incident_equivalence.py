"""The same incidents, in the same final state, on both shells (issue 26.7): `tollguard replay --format jsonl`
vs `tollguard produce` -> broker -> worker -> `<prefix>.incidents`.

test_equivalence compares alerts, and what incidents hold; this compares what the SOC sees at the end: each
incident's newest record (status, severity, subject, its alert ids, summary).

What "final" means on each side:

- the worker: the newest record of each incident once the input is read and nothing more comes. Every input
  partition then goes idle (docs/stream.md), every detection is folded, and the incident sweep (every 5 s)
  closes what its tenant's later detections *or the worker's wall clock* have passed (an incident's `until`:
  the end of its longest block, else `incident_seconds` after its last detection). An incident whose block is
  still in force stays open.
- replay: each incident's record at the end of input, closed when its tenant's latest event time, or the
  clock given with `--now`, has passed its `until`. Given the wall clock (`--now`), replay ends where the
  worker does; without it, replay ends at the input's own last instant, so history it reads ends the same
  way on any day.

Only an incident whose `until` falls while the test runs (between the worker's start and replay's `--now`)
may legitimately be closed on one side and open on the other; its status is left out (none is expected).
Both shells run rules only: the anomaly model's alerts are compared in test_equivalence.
"""

import json
import subprocess
import sys
import time
from datetime import datetime, timezone

from tests.kafka.conftest import ROOT, consume

POLICY = ROOT / "fixtures" / "policy.example.yaml"
SAMPLE = ROOT / "fixtures" / "sample-events.jsonl"


def tollguard(prefix: str, broker: str, *args: str) -> subprocess.CompletedProcess:
    env = {"TOLLGUARD_TOPIC_PREFIX": prefix, "TOLLGUARD_BROKER": f"kafka://{broker}", "TOLLGUARD_PARTITIONS": "2",
           "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=180)


def ts(text: str | None) -> float | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def final_state(records, during: tuple[float, float]) -> list[tuple]:
    """Each incident as the SOC sees it at the end, sorted (incident ids are left out: they name the first
    detection to *arrive*). The status of an incident whose end fell ``during`` the run is not compared."""
    out = []
    for r in records:
        until = ts(r["until"])
        status = "?" if until is not None and during[0] - 6 <= until <= during[1] else r["status"]
        out.append((r["tenant"], r["subject_type"], r["subject"], ts(r["opened"]), status, r["severity"],
                    tuple(sorted(r["alert_ids"])), r["summary"]))
    return sorted(out, key=repr)


def newest(records: list[dict]) -> list[dict]:
    out: dict[str, dict] = {}
    for r in records:
        if r["version"] >= out.get(r["incident_id"], {}).get("version", 0):
            out[r["incident_id"]] = r
    return list(out.values())


def run_both(broker: str, prefix: str, worker, path, *input_args: str) -> tuple[list, list, list]:
    """Worker's final incidents, replay's, and replay's alerts, for one input file under the example policy."""
    t0 = time.time()
    w = worker(policy=str(POLICY))
    p = tollguard(prefix, broker, "produce", *input_args, str(path))
    assert p.returncode == 0, p.stderr
    r = tollguard(prefix, broker, "replay", "--policy", str(POLICY), "--no-model", "-q", "--format", "jsonl",
                  *input_args, str(path))  # only to know how many incidents to wait for
    assert r.returncode == 0, r.stderr
    expect = len({json.loads(x)["alert_ids"][0] for x in r.stdout.splitlines() if '"type":"incident"' in x})
    # nothing new for 12 s: past the input's idleness (2 s) and two incident sweeps (every 5 s)
    got = newest(consume(broker, f"{prefix}.incidents", want=expect, timeout=120, idle=12))
    t1 = time.time()
    r = tollguard(prefix, broker, "replay", "--policy", str(POLICY), "--no-model", "-q", "--format", "jsonl",
                  "--now", f"{t1:.3f}", *input_args, str(path))
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    want = [x for x in out if x["type"] == "incident"]
    assert want and got, f"replay {len(want)} incidents, worker {len(got)}\n{w.log()}"
    return final_state(got, (t0, t1)), final_state(want, (t0, t1)), [x for x in out if x["type"] == "alert"]


def diff(got: list, want: list) -> str:
    return (f"worker only:\n  " + "\n  ".join(map(repr, [g for g in got if g not in want]))
            + "\nreplay only:\n  " + "\n  ".join(map(repr, [x for x in want if x not in got])))


def test_the_demo_day_ends_in_the_same_incidents_on_both_shells(broker, prefix, worker, tmp_path):
    """What `make demo` feeds: the fixture day moved into the last week (scripts/demo_events.py), the example
    policy. Blocks of days are still in force at the end (open on both), hour-long incidents are over (closed)."""
    events = tmp_path / "events.jsonl"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "demo_events.py"), str(SAMPLE), str(events)],
                   check=True, capture_output=True)
    got, want, _ = run_both(broker, prefix, worker, events)
    statuses = {s[4] for s in want}
    assert {"closed"} < statuses and statuses & {"open", "updated"}, statuses  # both kinds of end are compared
    assert got == want, diff(got, want)


def night_csv() -> str:
    """An Asterisk Master.csv (cdr_csv, 21 columns: accountcode, src, dst, dcontext, clid, channel, dstchannel,
    lastapp, lastdata, start, answer, end, duration, billsec, disposition, amaflags, uniqueid, userfield,
    peeraccount, linkedid, sequence), rows in the order Asterisk writes them (call end): a Monday's ordinary
    calls, then at 3 a.m. extension 1007 dialling UK premium-rate numbers (09...) for 8 minutes."""
    rows = []

    def call(src: str, dst: str, start: str, billsec: int, trunk: str = "PJSIP/trunk-uk") -> None:
        n = len(rows) + 1
        s = datetime.fromisoformat(start)
        answer, end = s.timestamp() + 4, s.timestamp() + 4 + billsec
        at = [datetime.fromtimestamp(x, s.tzinfo).strftime("%Y-%m-%d %H:%M:%S") for x in (s.timestamp(), answer, end)]
        uid = f"{int(s.timestamp())}.{n}"
        rows.append((end, ["", src, dst, "from-internal", f'"Ext {src}" <{src}>', f"PJSIP/{src}-{n:08x}",
                           f"{trunk}-{n:08x}", "Dial", f"{trunk}/{dst},60", *at, str(billsec + 4), str(billsec),
                           "ANSWERED", "DOCUMENTATION", uid, "", "", uid, str(n)]))

    day = "2026-11-16T{}:00+00:00"
    for i, (src, dst, hhmm) in enumerate([("1003", "01632960123", "09:12"), ("1003", "02079460000", "10:40"),
                                          ("2000", "01134960001", "11:05"), ("1005", "1003", "11:30"),
                                          ("2000", "0033142278186", "14:20"), ("1005", "01632960777", "16:45")]):
        call(src, dst, day.format(hhmm), 120 + 30 * i, "PJSIP/1003" if dst == "1003" else "PJSIP/trunk-uk")
    for i in range(8):
        call("1007", f"0909879{i:04d}", f"2026-11-17T03:0{i}:{i * 7:02d}+00:00", 300 + 20 * i)
    assert all(datetime.fromtimestamp(e, timezone.utc).year == 2026 for e, _ in rows)

    def quoted(row):
        return ",".join('"' + f.replace('"', '""') + '"' for f in row)
    return "\n".join(quoted(r) for _, r in sorted(rows, key=lambda x: x[0])) + "\n"


def test_a_night_of_premium_calls_from_a_csv_ends_in_the_same_incidents(broker, prefix, worker, tmp_path):
    """The burst is the file's last hour: its incident's hour is not over at the end of the input (replay
    without --now leaves it open), but it is long over by the wall clock (the worker closes it)."""
    path = tmp_path / "Master.csv"
    path.write_text(night_csv())
    got, want, alerts = run_both(broker, prefix, worker, path, "--input", "asterisk-csv", "--tz", "Europe/London")
    assert {a["rule"] for a in alerts if a["subject"] == "1007"} >= {"premium_rate", "time_condition"}
    assert not [a for a in alerts if a["subject"] != "1007"]  # the ordinary calls raise nothing
    burst = [s for s in want if s[2] == "1007"]
    assert len(burst) == 1 and burst[0][4] == "closed" and burst[0][5] == "critical", want
    assert got == want, diff(got, want)
