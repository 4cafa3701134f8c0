"""`tollguard notify` against the real broker, a real webhook and a real SMTP server: one message per
critical incident on open, digests of updates, and a kill -9 mid-way that loses nothing and sends
nothing twice after the restart."""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import time

from streams.kafka.config import Config
from streams.kafka.topics import ensure_topics
from tests.streams.services.notify.conftest import incident
from tests.streams.services.notify.servers import Hook, Mailbox, wait_until

from .conftest import ROOT, produce

CONFIG = """
commit_interval_s: 0.2
session_timeout_s: 6
channels:
  - {{name: soc-chat, type: webhook, url_env: NOTIFY_TEST_HOOK, min_severity: warning, digest_seconds: 1,
      timeout_s: 30, retry: {{attempts: 3, initial_s: 0.2}}}}
  - {{name: soc-mail, type: email, smtp: "{smtp}", from: tollguard@example.net, to: [soc@example.net],
      min_severity: critical, starttls: false, digest_seconds: 1}}
"""


def inc(iid: str, version: int, severity: str, **kw) -> dict:
    n = int(iid.split("-")[1])
    return incident(iid, version, severity, subject=f"198.51.100.{n + (50 if severity == 'warning' else 0)}", **kw)


def send(broker: str, topic: str, recs: list[dict]) -> None:
    produce(broker, topic, [json.dumps(r).encode() for r in recs], [r["incident_id"].encode() for r in recs])


def start(cfg, env, log):
    cmd = [sys.executable, "-m", "streams.cli", "notify", "--config", str(cfg), "--idle-timeout", "4",
           "--loglevel", "info"]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def test_notify_delivers_once_across_a_crash(broker, prefix, tmp_path):
    t0 = time.monotonic()
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_BROKER=f"kafka://{broker}", TOLLGUARD_PARTITIONS="2")
    config = Config.from_env(env)
    ensure_topics(config, names=[config.incidents, config.alerts])
    hook, mail = Hook(), Mailbox()
    env["NOTIFY_TEST_HOOK"] = hook.url
    cfg = tmp_path / "notify.yaml"
    cfg.write_text(CONFIG.format(smtp=mail.address))
    log = open(tmp_path / "notify.log", "ab")
    first = [inc(f"c-{i}", 1, "critical") for i in range(4)] + [inc(f"w-{i}", 1, "warning") for i in range(3)]
    first += [inc("c-0", 2, "critical"), inc("c-0", 3, "critical", status="acknowledged"), inc("w-0", 2, "warning")]
    send(broker, config.incidents, first)
    hook.hold_after(5)  # the 6th webhook is never answered: notify is killed while it waits
    try:
        p1 = start(cfg, env, log)
        assert wait_until(lambda: hook.held.is_set() and len(mail.messages) == 5, 40), _log(tmp_path)
        time.sleep(1.5)  # commits (every 0.2 s) of what was delivered land; the mail channel is quiet
        assert len(mail.messages) == 5 and len(hook.bodies) == 5
        p1.kill()
        p1.wait(10)
        hook.release()
        send(broker, config.incidents, [inc("c-4", 1, "critical"), inc("c-1", 2, "critical", status="resolved")])
        p2 = start(cfg, env, log)
        assert p2.wait(60) == 0, _log(tmp_path)
    finally:
        hook.close()
        mail.close()
        log.close()

    # webhook: every incident opened once, every update in exactly one digest, nothing twice
    opened = collections.Counter(b["incident_id"] for b in hook.bodies if b["notification"] == "opened")
    assert opened == {i: 1 for i in ["c-0", "c-1", "c-2", "c-3", "c-4", "w-0", "w-1", "w-2"]}, hook.bodies
    updates = collections.Counter((b["incident_id"], u["version"]) for b in hook.bodies
                                  if b["notification"] == "digest" for u in b["updates"])
    assert updates == {("c-0", 2): 1, ("c-0", 3): 1, ("w-0", 2): 1, ("c-1", 2): 1}
    assert all(b["text"].startswith(b["title"]) for b in hook.bodies)

    # email: only critical incidents, each opened once, their updates once
    subjects = collections.Counter(m["Subject"] for m in mail.messages)
    assert all(n == 1 for n in subjects.values()), subjects
    opens = sorted(re.search(r"incident (\S+): status open, version 1", m.get_content()).group(1)
                   for m in mail.messages if " update]" not in m["Subject"])
    assert opens == ["c-0", "c-1", "c-2", "c-3", "c-4"]
    digests = sorted(re.search(r"incident (\S+):", m.get_content()).group(1)
                     for m in mail.messages if " update]" in m["Subject"])
    assert digests == ["c-0", "c-1"]
    assert "v3 acknowledged" in next(m.get_content() for m in mail.messages if "update]" in m["Subject"]
                                     and "incident c-0" in m.get_content())
    assert time.monotonic() - t0 < 90


def _log(tmp_path) -> str:
    return (tmp_path / "notify.log").read_text(errors="replace")[-4000:]
