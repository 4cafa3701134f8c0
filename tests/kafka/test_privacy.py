"""PII masking end to end: a worker with a privacy policy writes pseudonymised alerts, action
reasons and dead letters to Kafka, while its actions still name the real targets."""

import json

from tests.builders import cdr, reg
from tests.kafka.conftest import consume, produce

POLICY = """timezone: Europe/London
home_country: GB
international_prefix: ["00", "+"]
national_prefix: "0"
privacy: {mask_numbers: last4, hash_ips: true}
"""


def test_alerts_actions_and_dead_letters_are_masked(broker, prefix, worker, tmp_path):
    pol = tmp_path / "policy.yaml"
    pol.write_text(POLICY)
    w = worker(policy=str(pol), env={"TOLLGUARD_PII_SALT": "kafka-test-salt-0123456789"})
    brute = [json.dumps(reg(t=i, ip="198.51.100.77", outcome="failure", account="1001")).encode() for i in range(10)]
    produce(broker, f"{prefix}.security", brute, [b"198.51.100.77"] * 10)
    call = cdr(t=20, src="1001", dst="00255222110000", billsec=60, call_id="pii-1")
    bad = b'{"type":"cdr","call_id":"x","start":"2026-03-04T10:00:00Z","src":"1001","dst":"00441234567890","src_ip":"no"}'
    produce(broker, f"{prefix}.cdr", [json.dumps(call).encode(), bad], [b"default/1001", b"default/1001"])
    alerts = consume(broker, f"{prefix}.alerts", want=2, timeout=90, idle=3)
    actions = consume(broker, f"{prefix}.actions", want=2, timeout=30, idle=2)
    dead = consume(broker, f"{prefix}.dlq", want=1, timeout=30)
    text = json.dumps([alerts, [a["reason"] for a in actions], dead])
    assert alerts and dead, w.log()
    for secret in ("198.51.100.77", "255222110000", "441234567890"):
        assert secret not in text, secret
    assert any(a["subject"].startswith("ip:") for a in alerts)
    assert {"198.51.100.77", "1001"} <= {a["target"] for a in actions}  # enforcement needs the clear target
    assert dead[0]["masked"] and "raw_b64" not in dead[0]
