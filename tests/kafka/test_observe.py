"""The worker you can observe: /metrics and /health while it runs, logs without terminal codes, JSON logs."""

import json
import socket
import time
import urllib.request

from tests.kafka.test_incidents import IP, attack
from tests.kafka.conftest import consume, produce


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metric(text: str, name: str, **labels) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} " if want else f"{name} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_and_health_answer_while_the_worker_runs_and_logs_are_json(broker, prefix, worker):
    port = free_port()
    w = worker(env={"TOLLGUARD_WEB_PORT": str(port), "TOLLGUARD_LOG_FORMAT": "json"})
    base = f"http://127.0.0.1:{port}"
    status, body = get(base + "/health")
    assert status == 200 and json.loads(body)["ok"] is True
    hostile = [json.dumps({"type": "security", "ts": "2026-03-04T10:00:00Z", "service": "sip", "src_ip": IP,
                           "outcome": "failure", "action": "register", "account": "\x1b[2J\x1b]0;pwned\x07",
                           "user_agent": "friendly-scanner \x1b[31m"}).encode()]
    produce(broker, f"{prefix}.security", attack() + hostile, [IP.encode()] * 32)
    assert consume(broker, f"{prefix}.incidents", want=1, timeout=60), w.log()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = get(base + "/metrics")[1]
        if metric(text, "tollguard_incident_updates_total") > 0 and \
                metric(text, "tollguard_events_total", topic=f"{prefix}.security") >= 32:
            break
        time.sleep(0.5)
    assert metric(text, "tollguard_events_total", topic=f"{prefix}.security") == 32
    assert metric(text, "tollguard_alerts_total", rule="scanner_user_agent") >= 1
    assert metric(text, "tollguard_actions_total", kind="block_ip") >= 1
    assert "tollguard_batch_seconds_bucket" in text and "tollguard_input_lag_records" in text
    w.stop()
    raw = w.log_path.read_bytes()
    assert b"\x1b" not in raw and b"\x07" not in raw  # no cursor codes, no attacker's escapes
    lines = [ln for ln in raw.decode().splitlines() if ln.strip()]
    parsed = [json.loads(ln) for ln in lines if ln.startswith("{")]
    assert parsed and len(parsed) >= 0.9 * len(lines), lines[:5]
    assert any("Ready" in p["message"] for p in parsed)
