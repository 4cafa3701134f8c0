"""tollguard verdict against the real broker: blocks published on <prefix>.actions refuse calls, and lifts allow them."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from urllib.parse import urlencode

from streams.kafka.config import Config
from streams.kafka.topics import ensure_topics
from tests.kafka.conftest import ROOT, produce


def act(action_id, kind, target, duration_s=None, tenant="acme"):
    ts = datetime.fromtimestamp(time.time() - 5, timezone.utc).isoformat()
    return json.dumps({"type": "action", "action_id": action_id, "ts": ts, "tenant": tenant, "kind": kind,
                       "target": target, "duration_s": duration_s, "alert_id": "al", "reason": "test"}).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, **q):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}?{urlencode(q)}", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def wait(pred, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = pred()
            if got:
                return got
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_published_blocks_refuse_and_an_unblock_allows(broker, prefix, tmp_path):
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_BROKER=f"kafka://{broker}", TOLLGUARD_PARTITIONS="2")
    config = Config.from_env(env)
    ensure_topics(config)
    # history before the service starts: it must read the topic from its start
    produce(broker, config.actions, [act("a1", "block_ip", "198.51.100.7", 3600), act("a2", "disable_outbound", "1001", 3600)])
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "verdict", "--port", str(port), "--fail", "closed"],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait(lambda: get(port, "/health")[0] == 200)
        call = {"tenant": "acme", "src": "1002", "dst": "2125550123"}
        assert get(port, "/v1/verdict", **call)[1]["verdict"] == "allow"
        status, v = get(port, "/v1/verdict", **call, ip="198.51.100.7")
        assert (status, v["verdict"], v["sip_code"], v["rule"]) == (200, "deny", 403, "block_ip")
        assert get(port, "/v1/verdict", **{**call, "src": "1001"})[1]["rule"] == "disable_outbound"
        # published while it runs: honoured within a poll
        produce(broker, config.actions, [act("a3", "block_number", "+1212", 600)])
        v = wait(lambda: (lambda v: v if v["verdict"] == "deny" else None)(get(port, "/v1/verdict", **call)[1]))
        assert v["rule"] == "block_number"
        produce(broker, config.actions, [act("a4", "unblock", "198.51.100.7")])
        wait(lambda: get(port, "/v1/verdict", **{**call, "dst": "3105550123"}, ip="198.51.100.7")[1]["verdict"] == "allow")
        assert get(port, "/health")[1]["actions_read"] == 4
        # a range an operator lists at run time (`tollguard ranges load`) is refused as the worker alerts on it
        listed = {"prefix": "+1310555", "label": "IRSF test numbers", "source": "soc", "expires": None}
        produce(broker, config.ranges, [json.dumps(listed).encode()], keys=[b"+1310555"])
        v = wait(lambda: (lambda v: v if v["verdict"] == "deny" else None)(
            get(port, "/v1/verdict", **{**call, "dst": "3105550123"})[1]))
        assert (v["rule"], v["sip_code"]) == ("high_risk_range", 603) and "IRSF test numbers" in v["reason"]
        assert get(port, "/v1/verdict", **{**call, "dst": "3105560123"})[1]["verdict"] == "allow"
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=15)
    assert "Traceback" not in err, err


def test_fail_closed_refuses_until_the_live_blocks_are_known(prefix, broker):
    """No broker at that address: --fail closed refuses with SIP 503, --fail open allows what the rules allow."""
    dead = f"127.0.0.1:{free_port()}"
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_BROKER=f"kafka://{dead}")
    for fail, want in (("closed", ("deny", 503)), ("open", ("allow", 200))):
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "verdict", "--port", str(port), "--fail", fail],
                                env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait(lambda: get(port, "/health")[0] == 503)
            v = get(port, "/v1/verdict", tenant="acme", src="1002", dst="2125550123")[1]
            assert (v["verdict"], v["sip_code"]) == want and v["source"] == "failure"
        finally:
            proc.terminate()
            proc.communicate(timeout=15)
