"""The loop closed, end to end on the real broker: detection -> incident -> notification -> enforcement -> ack -> unblock.

A scanner that also brute-forces registrations is detected by the worker; its incident reaches a
webhook and a mailbox through `notify`; `enforce` puts the address into a real nftables set (in a
namespace this test creates) with the block's remaining time as the timeout; the analyst's `ack`
reaches the webhook as a digest; `unblock` takes the address out of the set.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from tests.kafka.conftest import BOOTSTRAP, ROOT, consume, produce
from tests.kafka.test_incidents import IP, attack, cli
from tests.kafka.test_observe import free_port, metric
from tests.streams.services.enforce.netns import elements, maybe_netns
from tests.streams.services.notify.servers import Hook, Mailbox


def service(prefix: str, tmp_path, name: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_BROKER=f"kafka://{BOOTSTRAP}",
               TOLLGUARD_PARTITIONS="2")
    log = open(tmp_path / f"{name}.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "streams.cli", name, *args, "--loglevel", "info"], env=env,
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def wait_for(check, timeout: float, what: str, logs=()):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"{what} within {timeout} s\n" + "\n".join(p.read_text(errors="replace")[-3000:] for p in logs))


def test_alert_incident_notification_enforcement_ack_and_unblock(broker, prefix, worker, tmp_path):
    port = free_port()
    w = worker(env={"TOLLGUARD_WEB_PORT": str(port)})
    hook, mail = Hook(), Mailbox()
    (tmp_path / "notify.yaml").write_text(json.dumps({"channels": [
        {"name": "soc-chat", "type": "webhook", "url": hook.url, "min_severity": "warning", "digest_seconds": 2},
        {"name": "soc-mail", "type": "email", "smtp": mail.address, "from": "tollguard@example.net",
         "to": ["soc@example.net"], "min_severity": "alert", "starttls": False}]}))
    procs = []
    with maybe_netns() as ns:
        backends = [{"name": "pbx", "type": "command", "kinds": ["lock_account", "unblock"],
                     "argv": [sys.executable, "-c", "import sys; open(sys.argv[1], 'a').write(' '.join(sys.argv[2:]) + '\\n')",
                              str(tmp_path / "pbx.txt"), "{kind}", "{target}"]}]
        if ns:
            backends.append({"name": "fw", "type": "nftables", "family": "inet", "table": "tollguard",
                             "set": "blocked4", "set6": "blocked6", "create": True, "netns": ns})
        (tmp_path / "enforce.yaml").write_text(json.dumps({"backends": backends}))
        logs = [tmp_path / "notify.log", tmp_path / "enforce.log"]
        try:
            procs.append(service(prefix, tmp_path, "notify", "--config", str(tmp_path / "notify.yaml")))
            procs.append(service(prefix, tmp_path, "enforce", "--config", str(tmp_path / "enforce.yaml")))
            t0 = time.time()
            produce(broker, f"{prefix}.security", attack(t0 - 120), [IP.encode()] * 31)

            # 1. alerts and one incident with both rules: the scanner's campaign, naming it
            inc = wait_for(lambda: [r for r in consume(broker, f"{prefix}.incidents", want=None, timeout=3, idle=1)
                                    if r["subject_type"] == "campaign"
                                    and [v for v, _ in r["campaign"]["sources"]["sample"]] == [IP]
                                    and {"scanner_user_agent", "registration_lockout"} <= set(r["rules"])],
                           60, "no incident with both rules", [w.log_path])[-1]
            iid = inc["incident_id"]
            print(f"\nincident {iid}: rules {inc['rules']}, severity {inc['severity']}, {inc['events']} events, "
                  f"{len(inc['alert_ids'])} alerts, actions {[(a['kind'], a['target']) for a in inc['actions']]}")

            # 2. notified: the opening once on the webhook, and by mail
            opened = wait_for(lambda: [b for b in hook.bodies if b.get("incident_id") == iid and b["notification"] == "opened"],
                              30, "no webhook for the incident", logs)
            mails = wait_for(lambda: [m for m in mail.messages if iid in m.get_content()], 30, "no email", logs)
            print(f"webhook: {opened[0]['title']}\nemail: {mails[0]['subject']}")

            # 3. enforced: the address in the kernel's set, with about the 7-day block left
            if ns:
                timeout = wait_for(lambda: elements(ns).get(IP), 30, "no nftables element", logs)
                print(f"nftables set blocked4: {IP} with timeout {timeout} s")
                assert 7 * 86400 - 600 < timeout <= 7 * 86400
            locked = wait_for(lambda: (tmp_path / "pbx.txt").exists() and (tmp_path / "pbx.txt").read_text(), 30,
                              "the PBX script did not run", logs)
            print(f"pbx script ran: {locked.strip().splitlines()}")
            assert all(line.startswith("lock_account default/") for line in locked.splitlines())

            # 4. the worker is observable
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                assert metric(r.read().decode(), "tollguard_alerts_total", rule="scanner_user_agent") >= 1

            # 5. the analyst acknowledges; the webhook hears of it
            ack = cli(prefix, "ack", iid, "--note", "calling the customer", "--by", "alice")
            assert ack.returncode == 0, ack.stderr
            digest = wait_for(lambda: [b for b in hook.bodies if b.get("incident_id") == iid and b["status"] == "acknowledged"],
                              30, "no digest of the acknowledgement", logs)
            print(f"ack: {ack.stdout.strip()}\nwebhook: {digest[-1]['title']} (status {digest[-1]['status']})")
            assert sum(1 for b in hook.bodies if b.get("incident_id") == iid and b["notification"] == "opened") == 1

            # 6. unblock: out of the set, and the PBX script is told
            assert cli(prefix, "unblock", IP, "--reason", "cleared", "--by", "alice").returncode == 0
            if ns:
                wait_for(lambda: IP not in elements(ns), 30, "the unblock did not reach nftables", logs)
            wait_for(lambda: f"unblock {IP}" in (tmp_path / "pbx.txt").read_text(), 30, "no unblock to the PBX", logs)
            print(f"unblock: {IP} removed from the set, {time.time() - t0:.1f} s after the first event was produced")
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
            hook.close()
            mail.close()
