"""A real attack, a real block (issue 26.8).

sipvicious's ``svcrack`` guesses 1001's password against a real Kamailio 5.6 running
docs/kamailio/tollguard-security-log.cfg inside a network namespace (netlab.py: the scanner on
203.0.113.66 in another namespace, a phone on the LAN in a third). Kamailio's log goes through
``tollguard tail`` into the broker, the worker (default policy) decides, and ``tollguard enforce``
with the nftables backend (``netns:``) adds the scanner to the set in the PBX's namespace. Measured:
from the scanner's first packet (an nft counter in the PBX namespace's prerouting hook, before
anything else sees it) to its first packet dropped by enforce's rule (a counter put on that rule).
The phone still registers afterwards.

Set TOLLGUARD_ATTACK_OUT=FILE to append each run's timings as a JSON line (BENCHMARKS.md, "Time to
block a real scanner"). Skipped, saying why in capitals, when not root or when nft, ip, svcrack or
Kamailio is missing (scripts/setup-system.sh installs them).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from streams.kafka.config import Config
from streams.kafka.topics import ensure_topics
from tests.kafka.conftest import ROOT, Worker, consume, produce

from .kamailio import MISSING, Kamailio
from .netlab import PBX_LAN, PBX_WAN, PHONE, SCANNER, lab

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.skipif(MISSING is not None, reason=MISSING or "")]

USERS = {"1001": "Xq7-not-in-any-list-1001", "1002": "Xq7-not-in-any-list-1002"}
CANARY = "198.51.100.250"   # an action of the test's own, to know enforce is consuming before the attack
PROBE = "tgprobe"           # the test's table counting every packet from the scanner
BLOCK_WITHIN = 60.0         # seconds from launch; the block normally comes within a few


class Procs:
    """Processes the test starts, each logging to a file; stopped in reverse order, whatever happens."""

    def __init__(self, where: Path):
        self.where, self.started = where, []
        self.files: list[Path] = []  # other logs to show when something does not happen
        self.later: list = []  # other things to stop (Kamailio)

    def start(self, name: str, args: list[str], env: dict | None = None, group: bool = False) -> subprocess.Popen:
        out = open(self.where / f"{name}.log", "wb")
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=group)
        self.started.append((name, proc, out, group))
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        for name, p, out, group in self.started:
            if p is proc and p.poll() is None:
                (os.killpg(p.pid, signal.SIGTERM) if group else p.terminate())
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    (os.killpg(p.pid, signal.SIGKILL) if group else p.kill())
                    p.wait()

    def stop_all(self) -> None:
        for _, proc, out, _ in reversed(self.started):
            self.stop(proc)
            out.close()
        for stop in self.later:
            stop()

    def logs(self) -> str:
        files = [self.where / f"{name}.log" for name, *_ in self.started] + self.files
        return "\n".join(f"--- {f} ---\n{f.read_text(errors='replace')[-2500:]}" for f in files if f.exists())


class Watch(threading.Thread):
    """Reads the PBX namespace's ruleset every 25 ms; keeps when each thing was first seen (wall clock)."""

    def __init__(self, lab):
        super().__init__(daemon=True)
        self.lab, self.done = lab, threading.Event()
        self.first: dict[str, float] = {}
        self.now = {"seen": 0, "dropped": 0, "blocked": False}
        self.step = 0.0  # the longest time between two readings: what a first time may be late by

    def run(self) -> None:
        last = time.time()
        while not self.done.is_set():
            try:
                now = counters(self.lab.ruleset())
            except AssertionError:  # nft failed once: read again
                continue
            at = time.time()
            self.now, self.step, last = now, max(self.step, at - last), at
            for key in ("seen", "dropped", "blocked"):
                if now[key] and key not in self.first:
                    self.first[key] = at
            self.done.wait(0.025)


def counters(ruleset: dict) -> dict:
    seen = dropped = 0
    blocked = False
    for item in ruleset["nftables"]:
        rule, nset = item.get("rule"), item.get("set")
        if rule:
            count = next((e["counter"]["packets"] for e in rule["expr"] if "counter" in e), 0)
            if rule["table"] == PROBE:
                seen += count
            elif rule["table"] == "tollguard" and any("drop" in e for e in rule["expr"]):
                dropped += count
        elif nset and nset["table"] == "tollguard" and nset["name"] == "blocked4":
            vals = [e["elem"]["val"] if isinstance(e, dict) else e for e in nset.get("elem", [])]
            blocked = blocked or SCANNER in vals
    return {"seen": seen, "dropped": dropped, "blocked": blocked}


def wait_for(what: str, check, timeout: float, procs: Procs, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"{what}: not within {timeout:g} s\n{procs.logs()}")


def phone_registers(net) -> bool:
    p = subprocess.run(net.exec(net.lan, sys.executable, "-m", "tests.system.sip", "register", PBX_LAN, "5060", "1002",
                                USERS["1002"], "--bind", PHONE, "--timeout", "1"),
                       capture_output=True, text=True, cwd=ROOT, timeout=30)
    return p.returncode == 0


def scanner_sends_once(net) -> None:
    subprocess.run(net.exec(net.wan, sys.executable, "-m", "tests.system.sip", "register", PBX_WAN, "5060", "1001",
                            "guess", "--bind", SCANNER, "--timeout", "1"), capture_output=True, cwd=ROOT, timeout=30)


def count_blocked_packets(net) -> None:
    """Put a counter on enforce's drop rule (same match, same verdict), and count the scanner's packets
    in a table of the test's own, at the first hook a packet meets."""
    chain = json.loads(net.nft("-j", "list", "chain", "inet", "tollguard", "input").stdout)["nftables"]
    rules = [i["rule"] for i in chain if "rule" in i and any(e.get("match", {}).get("right") == "@blocked4"
                                                            for e in i["rule"]["expr"])]
    assert len(rules) == 1, chain
    net.nft("replace", "rule", "inet", "tollguard", "input", "handle", str(rules[0]["handle"]),
            "ip", "saddr", "@blocked4", "counter", "drop")
    subprocess.run(net.exec(net.pbx, "nft", "-f", "-"), check=True, text=True, input=(
        f"add table inet {PROBE}\n"
        f"add chain inet {PROBE} pre {{ type filter hook prerouting priority raw - 10; policy accept; }}\n"
        f"add rule inet {PROBE} pre ip saddr {SCANNER} counter\n"))


def first_block_action(broker: str, topic: str) -> tuple[float, dict] | None:
    """(broker time of the first block_ip of the scanner, the action)."""
    from kafka import KafkaConsumer
    c = KafkaConsumer(bootstrap_servers=[broker], auto_offset_reset="earliest", enable_auto_commit=False,
                      group_id=None, consumer_timeout_ms=2000)
    c.subscribe([topic])
    found = []
    try:
        for msg in c:
            rec = json.loads(msg.value)
            if rec.get("kind") == "block_ip" and rec.get("target") == SCANNER:
                found.append((msg.timestamp / 1000, rec))
    finally:
        c.close()
    return min(found, key=lambda f: f[0]) if found else None


def first_logged(log: str) -> float | None:
    """Kamailio's time of its first tollguard-sec line about the scanner."""
    for line in log.splitlines():
        if "tollguard-sec/1 " in line and f" src={SCANNER} " in line:
            fields = dict(f.split("=", 1) for f in line.split("tollguard-sec/1 ", 1)[1].split() if "=" in f)
            return int(fields["time"]) + int(fields["usec"]) / 1e6
    return None


def canary(broker: str, config: Config) -> None:
    ts = datetime.now(timezone.utc).isoformat()
    rec = {"type": "action", "action_id": f"canary-{config.prefix}", "ts": ts, "tenant": "acme", "kind": "block_ip",
           "target": CANARY, "duration_s": 120, "alert_id": "canary", "reason": "the test's readiness canary"}
    produce(broker, config.actions, [json.dumps(rec).encode()], [CANARY.encode()])


def in_set(net, ip: str) -> bool:
    p = net.nft("-j", "list", "set", "inet", "tollguard", "blocked4", check=False)
    return p.returncode == 0 and f'"{ip}"' in p.stdout


@pytest.mark.parametrize("label,policy,why", [
    # the default policy knows svcrack's name: blocked at its first wrong password (scanner_user_agent)
    ("friendly-scanner", None, "SIP scanner 'friendly-scanner'"),
    # a scanner no list names: blocked at its 10th wrong password (registration_lockout)
    ("unnamed", "scanner_user_agents: []\n", "10 failed registrations"),
])
def test_a_real_scanner_is_dropped_at_the_firewall(broker, prefix, tmp_path, label, policy, why):
    env = dict(os.environ, TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_BROKER=f"kafka://{broker}",
               TOLLGUARD_PARTITIONS="2", HOME=str(tmp_path))  # svcrack keeps its sessions under $HOME/.sipvicious
    config = Config.from_env({k: v for k, v in env.items() if k.startswith("TOLLGUARD_")})
    if policy:
        (tmp_path / "policy.yaml").write_text(policy)
    worker = Worker(prefix, tmp_path / "worker.log", str(tmp_path / "policy.yaml") if policy else None).start()
    procs = Procs(tmp_path)
    procs.files += [tmp_path / "worker.log", tmp_path / "kamailio" / "kamailio.log"]
    try:
        with lab() as net:
            try:
                kamailio = pipeline(net, procs, env, config, broker, worker)
                launched, watch = attack(net, procs, env)
                action, logged = after_the_block(net, procs, broker, config, kamailio, worker)
                assert why in action[1]["reason"], action
                report(launched, watch, logged, action, label)
            finally:
                procs.stop_all()  # before the namespaces go
    finally:
        worker.stop()


def pipeline(net, procs: Procs, env: dict, config: Config, broker: str, worker: Worker) -> Kamailio:
    """Kamailio (the phone registered), enforce (its rule counted), the worker, tail; proven by a canary."""
    (procs.where / "kamailio").mkdir()
    kamailio = Kamailio(procs.where / "kamailio", USERS, [f"{PBX_WAN}:5060", f"{PBX_LAN}:5060"], netns=net.pbx)
    procs.later.append(kamailio.stop)
    wait_for("the phone registering before the attack", lambda: phone_registers(net), 20, procs, 0.2)
    (procs.where / "enforce.yaml").write_text(json.dumps({
        "group": f"{config.prefix}-enforce", "retry": {"attempts": 3, "backoff_s": 0.2},
        "backends": [{"name": "fw", "type": "nftables", "create": True, "netns": net.pbx}]}))
    procs.start("enforce", [sys.executable, "-m", "streams.cli", "enforce", "--config",
                            str(procs.where / "enforce.yaml"), "--loglevel", "info"], env)
    wait_for("enforce's drop rule", lambda: "@blocked4 drop" in net.nft(
        "list", "chain", "inet", "tollguard", "input", check=False).stdout, 30, procs)
    count_blocked_packets(net)
    worker.ready()
    ensure_topics(config)
    # --from-start said, though docs/tail.md says it is the default: streams/commands/tail.py's argparse makes
    # --from-end the default. Tail is ready once the phone's registration, logged before it started, is shipped
    procs.start("tail", [sys.executable, "-m", "streams.cli", "tail", "--input", "kamailio-log", "--tenant", "acme",
                         "--from-start", "--state", str(procs.where / "tail.json"), str(kamailio.log)], env)
    assert consume(broker, config.security, 1, timeout=60), f"tail shipped nothing\n{procs.logs()}"
    canary(broker, config)
    wait_for("enforce applying the canary action", lambda: in_set(net, CANARY), 60, procs)
    return kamailio


def attack(net, procs: Procs, env: dict) -> tuple[float, Watch]:
    """svcrack from the internet side until its packets are dropped; (when it was launched, the watch)."""
    watch = Watch(net)
    watch.start()
    try:
        launched = time.time()
        scanner = procs.start("svcrack", net.exec(net.wan, "svcrack", "-u", "1001", "-r", "1-9999", "-z", "4",
                                                  PBX_WAN), env, group=True)
        wait_for("the scanner's packets dropped at the firewall", lambda: watch.now["dropped"] > 0,
                 BLOCK_WITHIN, procs, 0.05)
        procs.stop(scanner)
    finally:
        watch.done.set()
        watch.join()
    return launched, watch


def after_the_block(net, procs: Procs, broker: str, config: Config, kamailio: Kamailio, worker: Worker):
    """The scanner stays dropped, the phone still registers; (the first block action, Kamailio's first line)."""
    before = counters(net.ruleset())["dropped"]
    scanner_sends_once(net)
    assert counters(net.ruleset())["dropped"] > before, "a packet from the scanner was not dropped by nft"
    assert in_set(net, SCANNER) and not in_set(net, PHONE)
    assert phone_registers(net), "the phone on the LAN no longer registers"
    assert all(p.poll() is None for name, p, *_ in procs.started if name != "svcrack") and worker.proc.poll() is None
    action, logged = first_block_action(broker, config.actions), first_logged(kamailio.text())
    assert action is not None and logged is not None, procs.logs()
    return action, logged


def report(launched: float, watch: Watch, logged: float, action: tuple[float, dict], label: str) -> None:
    first = watch.first
    seen = min(first["seen"], logged)  # the counter is read every ~30 ms; Kamailio's own time may be earlier
    timings = {"scanner": label, "to_block_s": round(first["dropped"] - seen, 3),  # first packet -> first drop
               "resolution_s": round(watch.step, 3),
               "launch_to_first_packet_s": round(seen - launched, 3),
               "first_packet_to_first_log_line_s": round(logged - seen, 3),
               "log_line_to_action_s": round(action[0] - logged, 3),
               "action_to_set_element_s": round(first["blocked"] - action[0], 3),
               "set_element_to_first_drop_s": round(first["dropped"] - first["blocked"], 3),
               "action_reason": action[1].get("reason"), "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    print(f"\nREAL ATTACK: {json.dumps(timings)}")
    if os.environ.get("TOLLGUARD_ATTACK_OUT"):
        with open(os.environ["TOLLGUARD_ATTACK_OUT"], "a") as fh:
            fh.write(json.dumps(timings) + "\n")
    assert 0 < timings["to_block_s"] < BLOCK_WITHIN
