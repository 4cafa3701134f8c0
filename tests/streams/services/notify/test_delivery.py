"""Delivery to real local servers: webhook (http.server), SMTP (aiosmtpd), syslog over UDP and TCP,
apprise; retries with backoff; a failing channel parks and does not hold another back."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest

from streams.services.notify import render
from streams.services.notify.channel import ChannelWorker, Parker, backoff
from streams.services.notify.ledger import Ledger
from streams.services.notify.secrets import Redactor
from streams.services.notify.senders import DeliveryError, build
from streams.services.notify.service import NotifyMetrics
from streams.services.notify.settings import NotifySettings, Retry

from .conftest import HOSTILE, incident
from .servers import Hook, wait_until

TP = ("t.incidents", 0)


def chan(**kw):
    return NotifySettings.model_validate({"channels": [kw]}).channels[0]


def value(metrics, name, **labels):
    return metrics.metrics.registry.get_sample_value(name, labels) or 0


def test_webhook_posts_the_record_with_an_escaped_text(hook):
    c = chan(name="chat", type="webhook", url=hook.url)
    build(c, {"url": hook.url, "headers": {"X-Token": "t"}}).send(render.opened(incident(subject=HOSTILE)))
    [body] = hook.bodies
    assert body["subject"] == HOSTILE                      # the raw record: JSON escapes it
    assert body["notification"] == "opened" and body["incident_id"] == "i-1"
    assert "<script>" not in body["text"] and "\x1b" not in body["text"] and "\n" in body["text"]
    assert body["text"].split("\n")[0] == body["title"]
    # Markdown by default (streams/services/notify/chat.py): backslashes doubled, [ | escaped, < > as entities
    assert r"203.0.113.9\\x1b\[2J\\nFAKE: all clear\|x=\\y &lt;script&gt;" in body["title"]


def test_webhook_non_2xx_and_no_listener_are_failures():
    h = Hook(status=503)
    try:
        with pytest.raises(DeliveryError, match="HTTP 503"):
            build(chan(name="c", type="webhook", url=h.url), {"url": h.url}).send(render.opened(incident()))
    finally:
        h.close()
    with pytest.raises(DeliveryError, match="unreachable"):
        build(chan(name="c", type="webhook", url="http://127.0.0.1:1/"), {"url": "http://127.0.0.1:1/"}) \
            .send(render.opened(incident()))


def test_email_over_real_smtp(mailbox):
    c = chan(name="mail", type="email", smtp=mailbox.address, **{"from": "tollguard@example.net"},
             to=["soc@example.net", "oncall@example.net"], starttls=False)
    build(c, {"password": None}).send(render.opened(incident(summary=HOSTILE)))
    assert wait_until(lambda: len(mailbox.messages) == 1)
    [m] = mailbox.messages
    assert m["Subject"] == "[tollguard CRITICAL] acme ip 203.0.113.9: scanner_user_agent, registration_lockout"
    assert m["To"] == "soc@example.net, oncall@example.net" and m["From"] == "tollguard@example.net"
    body = m.get_content()
    assert "incident i-1: status open, version 1" in body
    assert "summary: 203.0.113.9\\x1b[2J\\nFAKE: all clear" in body and "\x1b" not in body


def test_email_to_a_closed_port_is_a_failure():
    c = chan(name="mail", type="email", smtp="127.0.0.1:1", **{"from": "a@b"}, to=["c@d"], starttls=False)
    with pytest.raises(DeliveryError, match="unreachable"):
        build(c, {}).send(render.opened(incident()))


@pytest.mark.parametrize("fmt", ["cef", "rfc5424"])
def test_syslog_udp(udp_syslog, fmt):
    c = chan(name="siem", type="syslog", address=udp_syslog.address, protocol="udp", format=fmt)
    build(c, {}).send(render.opened(incident(subject=HOSTILE)))
    line = udp_syslog.recv()
    assert line.startswith("<162>1 ") and "\n" not in line and "\x1b" not in line
    assert ("CEF:0|tollguard|" in line) is (fmt == "cef")


@pytest.mark.parametrize("framing", ["octet-counting", "newline"])
def test_syslog_tcp_framing_and_one_line_per_folded_message(tcp_syslog, framing):
    c = chan(name="siem", type="syslog", address=tcp_syslog.address, protocol="tcp", format="cef", framing=framing)
    sender = build(c, {})
    folded = [render.opened(incident(iid=f"i-{i}", summary=HOSTILE)) for i in range(3)]
    sender.send(render.storm("siem", folded))
    sender.close()
    data = tcp_syslog.wait_closed()  # waiting for a byte count raced the last frame
    frames = []
    while data:
        if framing == "newline":
            line, _, data = data.partition(b"\n")
        else:
            n, _, rest = data.partition(b" ")
            line, data = rest[:int(n)], rest[int(n):]
        frames.append(line.decode())
    assert len(frames) == 3 and all("CEF:0|tollguard|" in f and "\n" not in f for f in frames)
    assert [f.split("externalId=")[1].split(" ")[0] for f in frames] == ["i-0", "i-1", "i-2"]


def test_apprise_channel_through_its_json_service(hook):
    url = hook.url.replace("http://", "json://")
    c = chan(name="ap", type="apprise", urls=[url])
    build(c, {"urls": [url]}).send(render.opened(incident(subject=HOSTILE)))
    [body] = hook.bodies
    assert body["title"].startswith(r"\[tollguard CRITICAL\] acme ip 203.0.113.9\\x1b\[2J")
    assert "\x1b" not in body["message"]


def test_backoff_grows_to_its_cap():
    r, rnd = Retry(initial_s=1, factor=2, max_s=5), random.Random(1)
    waits = [backoff(r, a, rnd) for a in range(1, 6)]
    for got, base in zip(waits, [1, 2, 4, 5, 5]):
        assert base * 0.8 <= got <= base * 1.2


class Rig:
    """Channel workers on their threads, a ledger and metrics, as the service wires them."""

    def __init__(self, tmp_path, *channels):
        self.m, self.stop = NotifyMetrics(), threading.Event()
        self.ledger = Ledger([c.name for c, _ in channels])
        self.ledger.start(TP, 0, None)
        self.park = tmp_path / "parked.jsonl"
        self.workers = [ChannelWorker(c, build(c, s), self.ledger, self.m, Redactor(), Parker(str(self.park)), self.stop)
                        for c, s in channels]
        for w in self.workers:
            w.start()
        self.n = 0

    def feed(self, rec) -> None:
        names = [w.c.name for w in self.workers]
        replays = self.ledger.read(TP, self.n, names)
        for w in self.workers:
            w.put(rec, (*TP, self.n), replays[w.c.name])
        self.n += 1

    def commit_point(self) -> int:
        return self.ledger.commits(force=True)[TP][0]

    def close(self) -> None:
        self.stop.set()
        for w in self.workers:
            w.join(5)


def test_retry_with_backoff_then_delivery(tmp_path):
    h = Hook(status=[500, 502])
    retry = {"attempts": 4, "initial_s": 0.2, "factor": 2, "max_s": 1}
    rig = Rig(tmp_path, (chan(name="chat", type="webhook", url=h.url, retry=retry), {"url": h.url}))
    try:
        t0 = time.monotonic()
        rig.feed(incident())
        assert wait_until(lambda: len(h.bodies) == 1, 10)
        assert time.monotonic() - t0 >= (0.2 + 0.4) * 0.8        # waited between tries
        assert h.attempts == 3
        assert value(rig.m, "tollguard_notify_failed_total", channel="chat") == 2
        assert wait_until(lambda: rig.commit_point() == 1)
        assert value(rig.m, "tollguard_notify_sent_total", channel="chat") == 1
    finally:
        rig.close()
        h.close()


def test_a_failing_channel_parks_and_does_not_hold_back_another(tmp_path, caplog):
    dead, good = Hook(status=500), Hook()
    secret_url = dead.url + "?token=sekrit-42"
    retry = {"attempts": 3, "initial_s": 0.3, "max_s": 0.3}
    rig = Rig(tmp_path, (chan(name="dead", type="webhook", url=secret_url, retry=retry), {"url": secret_url}),
              (chan(name="good", type="webhook", url=good.url), {"url": good.url}))
    rig.workers[0].redact.add(secret_url)
    try:
        for i in range(3):
            rig.feed(incident(iid=f"i-{i}"))
        # the good channel has everything while the dead one is still in its first backoff
        assert wait_until(lambda: len(good.bodies) == 3, 2)
        assert dead.attempts < 3
        assert wait_until(lambda: rig.commit_point() == 3, 10)    # parked: the offset moves on
        assert dead.attempts == 3 + 1 + 1                          # 3 tries, then one each while failing
        assert value(rig.m, "tollguard_notify_parked_total", channel="dead") == 3
        assert value(rig.m, "tollguard_notify_channel_failing", channel="dead") == 1
        parked = [json.loads(x) for x in rig.park.read_text().splitlines()]
        assert [p["body"]["incident_id"] for p in parked] == ["i-0", "i-1", "i-2"]
        assert all(p["channel"] == "dead" and "HTTP 500" in p["error"] for p in parked)
        dead.status = 200                                          # it comes back: one try, delivered, cleared
        rig.feed(incident(iid="i-3"))
        assert wait_until(lambda: len(dead.bodies) == 1, 5)
        assert wait_until(lambda: value(rig.m, "tollguard_notify_channel_failing", channel="dead") == 0)
    finally:
        rig.close()
        dead.close()
        good.close()
    assert "sekrit-42" not in caplog.text and "channel dead is failing" in caplog.text
