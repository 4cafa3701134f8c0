"""tollguard enforce and tollguard blocks against the real broker: applied exactly once, expired not at all."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone

from streams.kafka.config import Config
from streams.kafka.topics import ensure_topics
from tests.kafka.conftest import ROOT, produce
from tests.streams.services.enforce.netns import elements, maybe_netns

RECORDER = "import json, sys; open(sys.argv[1], 'a').write(json.dumps(sys.argv[2:]) + '\\n')"


def act(action_id, target, ago, duration_s, kind="block_ip"):
    ts = datetime.fromtimestamp(time.time() - ago, timezone.utc).isoformat()
    return {"type": "action", "action_id": action_id, "ts": ts, "tenant": "acme", "kind": kind, "target": target,
            "duration_s": duration_s, "alert_id": f"al-{action_id}", "reason": "REGISTER flood"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(path, out, ns):
    backends = [{"name": "pbx", "type": "command", "kinds": ["block_ip"],
                 "argv": [sys.executable, "-c", RECORDER, str(out), "{action_id}", "{target}", "{remaining_s}"]}]
    if ns:
        backends.append({"name": "fw", "type": "nftables", "create": True, "netns": ns})
    path.write_text(json.dumps({"retry": {"attempts": 2, "backoff_s": 0.2}, "backends": backends}))


def metric(port, name, **labels) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(want + " "))


def run_enforce(env, cfg, state=None, port=None, idle="4"):
    cmd = [sys.executable, "-m", "streams.cli", "enforce", "--config", str(cfg), "--idle-timeout", idle,
           "--loglevel", "info"] + (["--state", str(state)] if state else [])
    return subprocess.Popen(cmd + (["--web-port", str(port)] if port else []), env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_enforce_applies_once_skips_expired_and_blocks_lists(broker, prefix, tmp_path):
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_BROKER=f"kafka://{broker}")
    config = Config.from_env({"TOLLGUARD_TOPIC_PREFIX": prefix, "TOLLGUARD_BROKER": f"kafka://{broker}"})
    ensure_topics(config)
    recs = [act("old", "198.51.100.1", ago=7200, duration_s=3600),     # ended an hour ago
            act("dup", "203.0.113.9", ago=10, duration_s=3600),
            act("dup", "203.0.113.9", ago=10, duration_s=3600),        # the same action again
            act("gone", "198.51.100.5", ago=5, duration_s=600),
            act("lift", "198.51.100.5", ago=1, duration_s=None, kind="unblock")]
    produce(broker, config.actions, [json.dumps(r).encode() for r in recs] + [b"\x1b[2J not json"],
            [r["target"].encode() for r in recs] + [b"x"])
    out, cfg = tmp_path / "argv.jsonl", tmp_path / "enforce.yaml"
    with maybe_netns() as ns:
        write_config(cfg, out, ns)
        port = free_port()
        proc = run_enforce(env, cfg, tmp_path / "state.json", port)
        try:
            deadline = time.monotonic() + 60
            applied = expired = invalid = 0.0
            # read until every record has been judged (the unreadable one comes last), or enforce stops
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    applied = metric(port, "tollguard_enforce_applied_total", backend="pbx", kind="block_ip")
                    expired = metric(port, "tollguard_enforce_expired_total")
                    invalid = metric(port, "tollguard_enforce_skipped_total", reason="invalid")
                    if applied >= 2 and expired >= 1 and invalid >= 1:
                        break
                except OSError:
                    pass
                time.sleep(0.3)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, err
        assert applied == 2 and expired == 1 and invalid == 1, err
        lines = [json.loads(x) for x in out.read_text().splitlines()]
        assert [x[:2] for x in lines] == [["dup", "203.0.113.9"], ["gone", "198.51.100.5"]], err
        assert 3500 < int(lines[0][2]) <= 3600
        if ns:
            got = elements(ns)
            assert list(got) == ["203.0.113.9"] and 3500 < got["203.0.113.9"] <= 3600, (got, err)
        assert "\x1b" not in err

        again = run_enforce(env, cfg, idle="3")  # no state file: the committed offsets alone prevent repeats
        _, err2 = again.communicate(timeout=90)
        assert again.returncode == 0, err2
        assert len(out.read_text().splitlines()) == 2, err2

    p = subprocess.run([sys.executable, "-m", "streams.cli", "blocks", "--format", "jsonl"], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(x) for x in p.stdout.splitlines()]
    assert [(r["target"], r["action_id"], r["status"]) for r in rows] == [("203.0.113.9", "dup", "active")]
    assert rows[0]["expires"].startswith(datetime.fromtimestamp(rows[0]["until"], timezone.utc).isoformat()[:16])
    p = subprocess.run([sys.executable, "-m", "streams.cli", "blocks"], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "203.0.113.9" in p.stdout and "198.51.100" not in p.stdout, p.stdout + p.stderr
    assert "1 not readable" in p.stderr
