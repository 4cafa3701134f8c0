"""The worker's one way out (streams.shells.worker.emit): a campaign's detections travel together."""

import asyncio
import json

from streams.domain.events import encode
from streams.domain.incidents import IncidentBook, Seen, incident_key
from streams.shells.worker import emit
from streams.shells.worker.emit import Emitter
from streams.shells.worker.incidents import IncidentRunner
from tests.builders import policy
from tests.streams.domain.test_campaigns import botnet
from tests.streams.domain.test_incidents import detect


def sent_by(records, monkeypatch=None):
    sent = []

    async def send(topic, key, value, part):
        sent.append((topic, key, value))
        return None
    asyncio.run(Emitter(send, "alerts", "actions", "blocklist", "detections", "incidents").send(records))
    return sent


def test_detections_of_one_incident_key_go_out_as_one_record_and_fold_the_same(monkeypatch):
    raw = detect(botnet(200), policy("allowed_country_ips: [GB]\n"))
    seen = [r for r in raw if isinstance(r, Seen)]
    assert len({incident_key(r) for r in seen}) == 1 and len(seen) > 200
    monkeypatch.setattr(emit, "DETECTIONS_BYTES", 20_000)  # cut into a few records
    sent = sent_by(raw)
    detections = [(k, v) for t, k, v in sent if t == "detections"]
    assert 1 < len(detections) < len(seen) // 10 and all(len(v) <= 20_000 + 2048 for _, v in detections)
    alerts = [t for t, _, _ in sent if t == "alerts"]
    assert len(alerts) == sum(r.__class__.__name__ == "Alert" for r in raw)
    # the incident stage folds the arrays as it folds the records one by one
    runner, out = IncidentRunner({}, lambda key, part: True), []
    for _, v in detections:
        runner.apply(0, v, [], out)
    runner.finish(out)
    one = IncidentBook()
    for r in seen:
        one.absorb(r)
    want = one.updates()
    got = [r for r in out if r.__class__.__name__ == "IncidentRecord"]
    assert [encode(r) for r in got] == [encode(r) for r in want]


def test_a_lift_between_detections_keeps_its_place_on_the_detections_topic():
    from datetime import datetime, timezone

    from streams.domain.events import Action
    from streams.domain.incidents import Lifted
    seen = [r for r in detect(botnet(60), policy("allowed_country_ips: [GB]\n")) if isinstance(r, Seen)]
    action = Action(action_id="u", ts=datetime.now(timezone.utc), tenant="default", kind="unblock", target="1.2.3.4",
                    duration_s=None, alert_id="", reason="r")
    lift = Lifted(tenant="default", subject_type="campaign", subject=seen[0].campaign, ts=0.0, by="x", reason="r",
                  action=action, publish=False)
    sent = [(k, json.loads(v)) for t, k, v in sent_by(seen[:5] + [lift] + seen[5:8]) if t == "detections"]
    assert [len(v) if isinstance(v, list) else v["type"] for _, v in sent] == [5, "lifted", 3]
