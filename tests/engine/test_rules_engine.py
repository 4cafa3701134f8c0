"""The rules of a registration or sign-in flood in Rust (engine/src/rules/, ``streams._engine.rule_step``) against
their Python modules: the IP scope's ``registration_lockout``, ``login_lockout``, ``auto_defense``,
``scanner_user_agent``, ``static_defense``, ``country_ip`` (also its tenant-scope sweep) and ``global_blocklist``;
the account's ``account_lockout``, ``registration_ip_restriction``, ``user_agent_restriction`` and
``remote_registration``; and the tenant's ``distributed_lockout``.

Every ``check`` of these rules in whole replays is recorded (the key's state before and after as changelog
bytes, the event as encoded, the context it reads: scope, event time, ``settled``, the event's identity,
``blocks_changed``) and made again by the port on the state before: the same records appended (alerts and
detections with their actions) byte for byte, the same state after, the same ``blocks_changed``. The replays:
two simulated days of two tenants (one shuffled), the fixtures' day, the sample events, a distributed flood
under the example policy (also with ``country_ip_block: set`` and a short ``incident_seconds``), and a hostile
mix over two tenants that share addresses (shuffled, three seeds): scanners' user agents in other scripts,
unverified UDP, logins to the permanent ban, auto-defense rules with fractional windows and ports, static deny
rules, country filters, blocks of one tenant that another's events meet, events delivered twice, and one source
past the locks an incident may order; and 60 hours of failures, so that keys forget names, sources and epochs."""

from __future__ import annotations

import importlib
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from streams.domain.events import Cdr, SecurityEvent, encode
from streams.domain.incidents import Seen
from streams.shells.worker.statecodec import decode_value, encode_value

_engine = pytest.importorskip("streams._engine")

ROOT = Path(__file__).resolve().parents[2]
RULES = ("registration_lockout", "login_lockout", "auto_defense", "scanner_user_agent", "static_defense", "country_ip",
         "global_blocklist", "account_lockout", "distributed_lockout", "registration_ip_restriction",
         "user_agent_restriction", "remote_registration")
SCOPE = {"account_lockout": ("ext",), "distributed_lockout": ("tenant",), "country_ip": ("ip", "tenant"),
         "registration_ip_restriction": ("ext",), "user_agent_restriction": ("ext",), "remote_registration": ("ext",)}


class Recorder:
    """Wraps each rule's ``check``: its context, the event, and what it did."""

    def __init__(self):
        self.calls: list[dict] = []

    def install(self, monkeypatch):
        import importlib

        from streams.core.detector import Ctx
        from streams.state.lifecycle import KeyLifecycle

        for rule in RULES:
            module = importlib.import_module(f"streams.rules.{rule}")
            monkeypatch.setattr(module, "check", self._wrap(rule, module.check))
        # the IP scope of each event: from its Ctx (the state before) to the key's write (the state after the rules)
        self.scopes: list[dict] = []
        pending: dict[int, dict] = {}
        self.pending = pending
        init, write = Ctx.__init__, KeyLifecycle.write

        def ctx_init(ctx, det, tenant, event, ts, scope, key, st, out):
            init(ctx, det, tenant, event, ts, scope, key, st, out)
            if scope == "ip" and event is not None and not tenant.custom_rules("ip", "cdr" if isinstance(event, Cdr) else "security"):
                pending[id(st)] = {"ctx": ctx, "before": encode_value(st) if key in det.state else None, "n": len(out),
                                   "raw": encode(event)}

        def keys_write(keys, state, key, scope, st, tenant, ts):
            call = pending.pop(id(st), None)
            if call is not None:
                ctx = call.pop("ctx")
                call.update(tenant=ctx.tenant, policy=ctx.detector.policy, ts=ctx.ts, settled=ctx.settled, ident=ctx.ident,
                            event=ctx.event, records=list(ctx.out[call["n"]:]), after=encode_value(st))
                call["encoded"] = [encode(r) for r in call["records"]]
                self.scopes.append(call)
            return write(keys, state, key, scope, st, tenant, ts)

        monkeypatch.setattr(Ctx, "__init__", ctx_init)
        monkeypatch.setattr(KeyLifecycle, "write", keys_write)

    def _wrap(self, rule, original):
        def check(ctx, ev):
            if ctx.scope not in SCOPE.get(rule, ("ip",)):
                return original(ctx, ev)
            call = {"rule": rule, "tenant": ctx.tenant, "policy": ctx.detector.policy, "scope": ctx.scope,
                    "ts": ctx.ts, "settled": ctx.settled, "ident": ctx.ident, "event": ev, "raw": encode(ev),
                    "before": encode_value(ctx.state), "changed_before": ctx.blocks_changed}
            n = len(ctx.out)
            original(ctx, ev)
            call["records"] = list(ctx.out[n:])
            call["encoded"] = [encode(r) for r in call["records"]]
            call["after"] = encode_value(ctx.state)
            call["changed"] = ctx.blocks_changed
            self.calls.append(call)
        return check


_docs: dict[int, object] = {}


def doc(tenant):
    d = _docs.get(id(tenant))
    if d is None:
        d = _docs[id(tenant)] = (tenant, _engine.TenantDoc(tenant.document()))
    return d[1]


def _context(call):
    """The cost ``_seen`` gave a CDR, and the documents of the tenants a key's state names."""
    ev = call["event"]
    cost = None
    if isinstance(ev, Cdr):
        cost = next((r.cost for r in call["records"] if isinstance(r, Seen)), ev.cost)  # the rate table's, as _seen had it
    st = decode_value(call["before"]) if call["before"] is not None else None
    names = set(getattr(st, "seen", {})) | set(getattr(st, "blocks", {}))
    return cost, {n: doc(call["policy"].tenant(n)) for n in names}


def step(call):
    cost, tenants = _context(call)
    return _engine.rule_step(call["rule"], doc(call["tenant"]), tenants, call["scope"], call["before"], call["raw"],
                             call["ts"], call["settled"], call["ident"], call["changed_before"], cost)


def check(call) -> None:
    records, after, changed = step(call)
    assert records == call["encoded"], (call["rule"], call["raw"])
    assert after == call["after"], (call["rule"], call["raw"])
    assert changed == call["changed"], (call["rule"], call["raw"])


def replay(tmp: Path, name: str, lines: list[bytes], policy: Path | None, monkeypatch) -> list[dict]:
    from streams.core.detector import Detector
    from streams.policy import Policy
    from streams.shells.replay import read_events, run

    src = tmp / f"{name}.jsonl"
    src.write_bytes(b"".join(lines))
    rec = Recorder()
    with monkeypatch.context() as m:
        rec.install(m)
        det = Detector(Policy.load(policy) if policy else Policy.default())
        run(read_events([str(src)]), det, lambda r: None, lambda r: None)
    assert not rec.pending, "a context of the IP scope never reached its key's write"
    _scopes[name] = rec.scopes
    return rec.calls


_scopes: dict[str, list[dict]] = {}  # the IP scope of each event of the replays (Recorder.scopes), by replay


def _lines(path: Path) -> list[bytes]:
    return [ln + b"\n" for ln in path.read_bytes().splitlines() if ln.strip()]


HOSTILE_POLICY = """
allowed_country_ips: [GB, IE]
incident_seconds: 600
distributed_lockout: {failures: 20, seconds: 300, sources: 3, accounts: 3}
registration_lockout: {failures: 4, seconds: 120, block_seconds: 300, lock_account: true, lock_scope: source}
login_lockout: {failures: 3, seconds: 60, block_seconds: 120, lock_account: true, max_failures: 6, max_seconds: 3600}
auto_defense:
  - {name: udp, service: sip, protocol: udp, packets: 5, seconds: 2.5}
  - {service: sip, protocol: both, packets: 8, seconds: 30, block_seconds: null}
  - {name: ssh, service: ssh, protocol: tcp, port: 22, packets: 3, seconds: 60}
  - {name: "", service: ami, packets: 2, seconds: 0.75, block_seconds: 0}
static_defense:
  - {name: "bad net 'x'", source: 198.51.100.0/24, action: drop}
  - {name: rej, source: "2001:db8::/32", action: reject}
  - {name: office, source: 192.0.2.0/24, action: accept}
  - {name: link, source: "fe80::%1/64", action: drop}
extensions:
  defaults: {user_agents: [zoiper, "sipvicious σ", Yealink]}
  "100": {permitted_ips: [81.2.69.0/24, "fe80::%1/64"], user_agents: [friendly, "İstanbul"]}
  alice: {remote_registration: false, user_agents: []}
  "101": {remote_registration: true, permitted_ips: []}
remote_registration: {access: allowed, accounts: ["100", "ünïcode", "101"], permitted_ips: [81.2.69.0/24, "2001:db8::/32"]}
tenants:
  b:
    allowed_country_ips: [US]
    block_on_unverified_udp: true
    registration_lockout: {failures: 3, seconds: 60, block_seconds: null, lock_account: true, lock_scope: account}
    login_lockout: {failures: 2, seconds: 60, block_seconds: 60, lock_account: false, max_failures: 30, max_seconds: 7200}
    country_ip_block: set
    incident_seconds: 300
    rules: {auto_defense: {mode: "off"}, scanner_user_agent: {mode: report, severity: critical}}
    remote_registration: {access: restricted, accounts: ["101", "a|b"]}
"""

IPS = ["81.2.69.160", "5.9.1.1", "8.8.8.8", "198.51.100.7", "192.0.2.10", "10.0.0.3", "2001:db8::5", "2a00:1450::1",
       "91.189.88.1", "41.0.0.9", "::ffff:8.8.4.4", "fe80::7"]
AGENTS = [None, "", "friendly-scanner", "SIPVicious ΣΑΣ", "sipcli/v1.8", "Zoiper 5", "pplsip", "Yealink 'T46' \"x\"",
          "VaxSIPUserAgent\x07", "İstanbul-scanner", "x" * 300, "sundayddr", "friendly-scanner/" + "é" * 250,
          "sipvicious " + "\U0001f600" * 70, "Softphone, not Yealink"]
ACCOUNTS = [None, "", "100", "101", "alice", "ünïcode", "a|b", "9" * 40]


def hostile(seed: int, n: int = 1500) -> list[bytes]:
    """Security events (and a few CDRs) over two tenants sharing addresses, shuffled."""
    rnd = random.Random(seed)
    t0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
    out = []
    for k in range(n):
        ts = t0 + timedelta(seconds=rnd.choice([0, 0.25, 0.5, 1, 2, 5, 30]) * k / 3 + rnd.random())
        tenant = rnd.choice(["a", "b", "a"])
        if rnd.random() < 0.05:
            ev = Cdr(call_id=f"c{k}", start=ts, src=rnd.choice(["100", "101"]), dst="+442071234567", tenant=tenant,
                     phase=rnd.choice(["start", "end"]), direction="outbound", src_ip=rnd.choice(IPS))
        else:
            service = rnd.choice(["sip", "sip", "sip", "web", "app", "ami", "ssh", "https", "iax2"])
            action = rnd.choice([None, None, "register", "invite", "login"])
            ev = SecurityEvent(ts=ts, service=service, src_ip=rnd.choice(IPS), tenant=tenant,
                               outcome=rnd.choice(["failure", "failure", "failure", "success", "request"]),
                               action=action, account=rnd.choice(ACCOUNTS), user_agent=rnd.choice(AGENTS),
                               protocol=rnd.choice([None, "udp", "udp", "tcp", "tls"]), port=rnd.choice([None, 22, 5060]),
                               round_trip=rnd.choice([None, True, False, False]))
        out.append(encode(ev) + b"\n")
    last = b""
    for k in range(150):  # one source past what its windows keep: tenant b's sign-ins, tenant a's registrations
        ts = t0 + timedelta(seconds=k / 2 + rnd.random() / 4)
        out.append(encode(SecurityEvent(ts=ts, service="web", src_ip="91.189.88.1", tenant="b", outcome="failure",
                                        account=f"u{k % 5}", protocol="tcp")) + b"\n")
        # 75 accounts failed twice, unproven (UDP with no round trip) but for the latest, which comes last: its
        # detection is new (not "unverified") and finds every account to lock at once, past MAX_LOCKS
        last = encode(SecurityEvent(ts=ts, service="sip", src_ip="41.0.0.9", tenant="a", outcome="failure",
                                    action="register", account=f"{k % 75}", protocol="udp", round_trip=k == 149)) + b"\n"
        out.append(last)
    out.pop()
    out += out[:20]  # events delivered twice
    rnd.shuffle(out)
    out.append(last)
    return out


def long_run(seed: int, hours: int = 60) -> list[bytes]:
    """Failures over days, past what keys hold (``HORIZON``): a few sources each trying ever new accounts, twice
    in a row, in bursts (locks in epoch after epoch), and a few accounts tried from ever new sources, shuffled. Their
    names, sources and epochs' orders are forgotten as the windows move on."""
    rnd = random.Random(seed)
    t0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
    out = []
    for k in range(3000):
        ts = t0 + timedelta(seconds=k * hours * 3600 / 3000 + rnd.random())
        burst = t0 + timedelta(seconds=(k // 8) * hours * 3600 / 375 + (k % 8) * 2)  # 8 failures of one source
        out.append(encode(SecurityEvent(ts=burst, service="sip", src_ip=f"81.2.69.{k // 8 % 4}", tenant="a",
                                        outcome="failure", action="register", account=f"acct{k // 2}",
                                        protocol="tcp")) + b"\n")
        out.append(encode(SecurityEvent(ts=ts, service="web", src_ip=f"100.{64 + k % 60}.{k % 251}.{k % 7}", tenant="a",
                                        outcome="failure", action="login", account=f"boss{k % 3}", protocol="tls")) + b"\n")
    rnd.shuffle(out)
    return out


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict[str, list[dict]]:
    from streams.commands.simulate import simulate

    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("rules")
    out = {}
    try:
        d = tmp / "sim5"
        d.mkdir()
        simulate(1, 5, d, tenants=2)
        lines = _lines(d / "events.jsonl")
        out["sim 5"] = replay(tmp, "sim5", lines, d / "policy.yaml", mp)
        random.Random(5).shuffle(lines)
        out["sim 5 shuffled"] = replay(tmp, "sim5s", lines, d / "policy.yaml", mp)
        out["sim-day"] = replay(tmp, "simday", _lines(ROOT / "fixtures/sim-day/events.jsonl"),
                                ROOT / "fixtures/sim-day/policy.yaml", mp)
        out["sample"] = replay(tmp, "sample", _lines(ROOT / "fixtures/sample-events.jsonl"), None, mp)
        flood = tmp / "flood-in.jsonl"
        subprocess.run([sys.executable, str(ROOT / "bench/gen_campaign_flood.py"), "3000", str(flood)], check=True)
        example = (ROOT / "fixtures/policy.example.yaml").read_text()
        assert "\nincident_seconds: 3600 " in example
        for name, text in (("flood", example), ("flood set", example + "\ncountry_ip_block: set\n"),
                           ("flood short", example.replace("\nincident_seconds: 3600 ", "\nincident_seconds: 60 ", 1))):
            pol = tmp / f"{name.replace(' ', '-')}.yaml"
            pol.write_text(text)
            out[name] = replay(tmp, name.replace(" ", "-"), _lines(flood), pol, mp)
        pol = tmp / "hostile.yaml"
        pol.write_text(HOSTILE_POLICY)
        for seed in (1, 2, 3):
            out[f"hostile {seed}"] = replay(tmp, f"hostile{seed}", hostile(seed), pol, mp)
        out["long"] = replay(tmp, "long", long_run(4), pol, mp)
    finally:
        mp.undo()
    return out


def test_every_check_of_the_replays(recorded):
    made = dict.fromkeys(RULES, 0)
    seen = dict.fromkeys(["tenant sweep", "not_blocked", "not_locked", "lock", "blocks_changed", "other tenant",
                          "permanent", "cdr", "locks past 64", "long agent", "window full", "names forgotten",
                          "epochs forgotten", "sources forgotten", "twice"], 0)
    for name, calls in recorded.items():
        assert calls, name
        for call in calls:
            check(call)
            made[call["rule"]] += sum(b'"evidence"' in r for r in call["encoded"])  # alerts
            text = b"".join(call["encoded"])
            seen["tenant sweep"] += call["scope"] == "tenant" and bool(call["encoded"])
            seen["not_blocked"] += b"not_blocked" in text
            seen["not_locked"] += b"not_locked" in text
            seen["lock"] += b'"lock_account"' in text
            seen["blocks_changed"] += call["changed"] and not call["changed_before"]
            seen["other tenant"] += call["rule"] == "global_blocklist" and bool(call["encoded"])
            seen["permanent"] += b'"permanent":true' in text
            seen["cdr"] += isinstance(call["event"], Cdr) and bool(call["encoded"])
            seen["locks past 64"] += call["rule"] == "registration_lockout" and b"past 64" in text
            seen["long agent"] += call["rule"] == "scanner_user_agent" and bool(text) and len(call["event"].user_agent) > 200
            before, after = decode_value(call["before"]), decode_value(call["after"])
            for slot, name in (("registration_accounts", "names forgotten"), ("registration_locked", "epochs forgotten"),
                               ("account_source_ips", "sources forgotten")):
                seen[name] += bool(set(getattr(before, slot, ())) - set(getattr(after, slot, ())))
            seen["twice"] += call["rule"] == "login_lockout" and call["before"] == call["after"] and not text
            seen["window full"] += call["rule"] == "login_lockout" and len(after.login_lockout or ()) >= 120
    print(made, seen, sum(map(len, recorded.values())))
    assert all(n > 0 for n in made.values()), made
    assert all(n > 0 for n in seen.values()), seen


def test_a_missing_tenant_document_is_refused(recorded):
    call = next(c for c in recorded["hostile 1"] if c["rule"] == "global_blocklist" and c["encoded"])
    with pytest.raises(KeyError, match="no tenant document"):
        _engine.rule_step(call["rule"], doc(call["tenant"]), {}, call["scope"], call["before"], call["raw"], call["ts"],
                          call["settled"], call["ident"], True, None)


def test_an_unported_rule_is_refused(recorded):
    call = recorded["sample"][0]
    with pytest.raises(ValueError, match="no rule"):
        _engine.rule_step("call_frequency", doc(call["tenant"]), {}, call["scope"], call["before"], call["raw"],
                          call["ts"], call["settled"], call["ident"], False, None)


def test_limits_past_64_bits_keep_what_python_keeps(tmp_path, monkeypatch):
    """A window keeps a multiple of its limit: with a limit near 2**62 that multiple must not wrap (Python's ints
    do not), or the port forgets failures the reference keeps."""
    huge = 2 ** 62
    pol = tmp_path / "huge.yaml"
    pol.write_text(f"""
registration_lockout: {{failures: {huge}, seconds: 600}}
login_lockout: {{failures: {huge}, seconds: 600}}
auto_defense:
  - {{name: udp, service: sip, packets: {huge}, seconds: 600}}
""")
    t0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
    lines = []
    for k in range(340):
        ts = t0 + timedelta(seconds=k)
        lines.append(encode(SecurityEvent(ts=ts, service="sip", src_ip="81.2.69.160", outcome="failure", action="register",
                                          account=f"{k}", protocol="udp")) + b"\n")
        lines.append(encode(SecurityEvent(ts=ts, service="web", src_ip="81.2.69.160", outcome="failure",
                                          account="admin", protocol="tcp")) + b"\n")
    calls = replay(tmp_path, "huge", lines, pol, monkeypatch)
    assert {c["rule"] for c in calls} >= {"registration_lockout", "login_lockout", "auto_defense"}
    for call in calls:
        check(call)
    last = decode_value([c for c in calls if c["scope"] == "ip"][-1]["after"])
    assert len(last.registration_lockout) == 340 and len(last.login_lockout) == 340 and len(last.auto_defense["udp"]) == 340


def test_the_ip_scope_of_every_event(recorded):
    """``Detector.process``'s IP scope (engine/src/rules/ip_scope.rs): the rules a tenant runs for the event's type
    and kind, in evaluation order, on one key with one context; the same records and the same state after."""
    from streams.rules import RULES_BY_SCOPE
    from streams.rules._common import event_kind

    order = {events: [m.RULE for m in RULES_BY_SCOPE["ip"][events] if m.RULE != "custom"] for events in ("security", "cdr")}
    ported = _engine.ip_scope_rules()
    assert [r for r, security, _, _ in ported if security] == order["security"]
    assert [r for r, _, cdr, _ in ported if cdr] == order["cdr"]
    for rule, _, _, wants in ported:
        assert getattr(importlib.import_module(f"streams.rules.{rule}"), "WANTS", None) == ({wants} if wants else None)
    n = made = 0
    seen_kinds = set()
    for name, calls in _scopes.items():
        assert calls, name
        for call in calls:
            cost, tenants = _context(call)
            records, after = _engine.ip_scope_step(doc(call["tenant"]), tenants, call["before"], call["raw"], call["ts"],
                                                   call["settled"], call["ident"], cost)
            assert (records, after) == (call["encoded"], call["after"]), (name, call["raw"])
            n += 1
            made += len(records)
            seen_kinds.add(event_kind(call["event"]))
    assert n > 30_000 and made > 10_000, (n, made)
    assert {"reg_failure", "login_failure", "outbound_start", "other_request"} <= seen_kinds, seen_kinds


def test_the_ip_scope_judges_only_what_reaches_it_and_refuses_what_it_does_not_run(monkeypatch):
    """An inbound CDR reaches no IP key and a sign-in success no rule of a tenant with them off: no records and no
    state, as the detector makes no context. A tenant with rules of its own in the scope, or with privacy on,
    is refused (it stays with the Python), never judged without them."""
    from streams.policy.compiled import Tenant
    from streams.policy.schema import TenantPolicy

    t0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
    plain = Tenant("a", TenantPolicy.model_validate({"static_defense": [{"name": "x", "source": "198.51.100.0/24",
                                                                          "action": "drop"}]}))
    inbound = encode(Cdr(call_id="c1", start=t0, src="+442071234567", dst="100", tenant="a", phase="end",
                         direction="inbound", src_ip="198.51.100.7"))
    outbound = encode(Cdr(call_id="c2", start=t0, src="100", dst="+442071234567", tenant="a", phase="end",
                          direction="outbound", src_ip="198.51.100.7"))
    args = (t0.timestamp(), t0.timestamp(), 7, None)
    assert _engine.ip_scope_step(doc(plain), {}, None, inbound, *args) == ([], None)
    records, after = _engine.ip_scope_step(doc(plain), {}, None, outbound, *args)
    assert any(b"static_defense" in r for r in records) and after is not None
    off = Tenant("a", TenantPolicy.model_validate({"rules": {r: {"mode": "off"} for r in
                                                             ("static_defense", "country_ip", "global_blocklist")}}))
    assert _engine.ip_scope_step(doc(off), {}, None, outbound, *args) == ([], None)

    custom = Tenant("a", TenantPolicy.model_validate({"rules": {"failed_calls_per_source": {
        "kind": "event_count", "events": "cdr", "key": "source_ip", "seconds": 60, "threshold": 30}}}))
    with pytest.raises(ValueError, match="rules of its own"):
        _engine.ip_scope_step(doc(custom), {}, None, outbound, *args)
    monkeypatch.setenv("TOLLGUARD_PII_SALT", "a-secret-of-at-least-16")
    private = Tenant("a", TenantPolicy.model_validate({"privacy": {"hash_ips": True}}))
    with pytest.raises(ValueError, match="privacy"):
        _engine.ip_scope_step(doc(private), {}, None, outbound, *args)
