"""Smoke test on the real broker: kafka-python in, Faust worker, alert out; a malformed record lands on the DLQ."""

import json

from tests.builders import cdr
from tests.kafka.conftest import consume, produce


def test_cdr_through_worker_to_alerts_and_dlq(broker, prefix, worker):
    w = worker()
    long_call = cdr(t=0, call_id="smoke-1", src="1001", dst="2125550100", billsec=4 * 3600)
    produce(broker, f"{prefix}.cdr", [b"{not json", json.dumps(long_call).encode()], [b"x", b"default/1001"])
    alerts = consume(broker, f"{prefix}.alerts", want=1, timeout=90)
    assert alerts, f"no alert arrived; worker log:\n{w.log()}"
    assert alerts[0]["rule"] == "call_duration" and alerts[0]["evidence"]["call_id"] == "smoke-1"
    dead = consume(broker, f"{prefix}.dlq", want=1, timeout=30)
    assert dead and dead[0]["topic"] == f"{prefix}.cdr" and "not valid JSON" in dead[0]["reason"]
    assert dead[0]["raw"] == "{not json" and isinstance(dead[0]["offset"], int)
    assert w.proc.poll() is None, "worker must keep running after bad input"
