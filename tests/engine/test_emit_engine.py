"""The one way to emit an alert, in Rust (engine/src/emit.rs, ``streams._engine.emit_step``), against
``streams.core.detector.Ctx.emit`` and what it calls (``_join``, ``_actions``, ``_order``, ``_seen``,
``span``, ``_incident_span``, ``_prune_incidents``, ``block``, ``_extend_blocks``).

Every ``emit`` of whole replays is recorded (the key's state before and after as changelog bytes, the
arguments, the context it reads: scope, event time, ``settled``, the event's identity and what ``_seen``
reads of the event) and made again by the port on the state before: the same answer (a new alert or
not), the same records appended (Alert and Seen, with their actions) byte for byte, and the same state
after (incidents opened, counted, moved earlier and pruned; the IP key's blocks recorded, merged and cut).
The replays: two simulated days of two tenants (one shuffled, so late detections join incidents and move
their start), the fixtures' day (spend limits, trunks, Wangiri, takeovers), the sample events, and a
distributed flood cut to 3,000 events under the example policy (campaigns, never-block addresses, locks),
also with ``country_ip_block: set`` and with a short ``incident_seconds`` so incidents are pruned."""

from __future__ import annotations

import copy
import random
import subprocess
import sys
from pathlib import Path

import pytest

from streams.core.detector import Ctx
from streams.domain.events import Cdr, SecurityEvent, encode
from streams.domain.campaigns import FAMILIES
from streams.domain.incidents import Seen
from streams.shells.worker.statecodec import encode_value

_engine = pytest.importorskip("streams._engine")

ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    """Wraps ``Ctx.emit``: each call's context, arguments, and what it did."""

    def __init__(self):
        self.calls: list[dict] = []

    def install(self, monkeypatch):
        original = Ctx.emit

        def emit(ctx, rule, severity, subject_type, subject, summary, evidence, actions=(), variant="", at=None,
                 span=None, tenant=None, adds=False):
            actions = list(actions)
            call = {"tenant": ctx.tenant, "other": tenant, "scope": ctx.scope, "ts": ctx.ts, "settled": ctx.settled,
                    "ident": ctx.ident, "event": ctx.event, "before": encode_value(ctx.state),
                    "args": (rule, severity, subject_type, subject, summary, copy.deepcopy(evidence),
                             [tuple(a) for a in actions], variant, at, span, adds)}
            n = len(ctx.out)
            result = original(ctx, rule, severity, subject_type, subject, summary, evidence, actions, variant, at,
                              span, tenant, adds)
            call["made"] = result is not None
            call["records"] = list(ctx.out[n:])
            call["after"] = encode_value(ctx.state)
            self.calls.append(call)
            return result

        monkeypatch.setattr(Ctx, "emit", emit)


def source_of(call) -> tuple:
    ev = call["event"]
    if isinstance(ev, Cdr):
        cost = next((r.cost for r in call["records"] if isinstance(r, Seen)), ev.cost)  # the rate table's, as _seen had it
        return ("cdr", ev.call_id, cost, None, None, None)
    if isinstance(ev, SecurityEvent):
        return ("security", None, None, ev.outcome, ev.src_ip, ev.account)
    assert ev is None, ev
    return ("none", None, None, None, None, None)


_docs: dict[int, object] = {}


def doc(tenant):
    d = _docs.get(id(tenant))
    if d is None:
        d = _docs[id(tenant)] = (tenant, _engine.TenantDoc(tenant.document()))
    return d[1]


def check(call) -> None:
    other = call["other"]
    made, records, after = _engine.emit_step(doc(call["tenant"]), doc(other) if other is not None else None,
                                             call["scope"], call["before"], call["ts"], call["settled"], call["ident"],
                                             source_of(call), call["args"])
    want = [encode(r) for r in call["records"]]
    assert (made, records, after) == (call["made"], want, call["after"]), call["args"]


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
    return rec.calls


def _lines(path: Path) -> list[bytes]:
    return [ln + b"\n" for ln in path.read_bytes().splitlines() if ln.strip()]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict[str, list[dict]]:
    from streams.commands.simulate import simulate

    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("emit")
    out = {}
    try:
        for seed in (3, 11):
            d = tmp / f"sim{seed}"
            d.mkdir()
            simulate(1, seed, d, tenants=2)
            lines = _lines(d / "events.jsonl")
            out[f"sim {seed}"] = replay(tmp, f"sim{seed}", lines, d / "policy.yaml", mp)
            if seed == 3:
                random.Random(seed).shuffle(lines)
                out["sim 3 shuffled"] = replay(tmp, "sim3s", lines, d / "policy.yaml", mp)
        out["sim-day"] = replay(tmp, "simday", _lines(ROOT / "fixtures/sim-day/events.jsonl"),
                                ROOT / "fixtures/sim-day/policy.yaml", mp)
        out["sample"] = replay(tmp, "sample", _lines(ROOT / "fixtures/sample-events.jsonl"), None, mp)
        flood = tmp / "flood-in.jsonl"
        subprocess.run([sys.executable, str(ROOT / "bench/gen_campaign_flood.py"), "3000", str(flood)], check=True)
        example = (ROOT / "fixtures/policy.example.yaml").read_text()
        out["flood"] = replay(tmp, "flood", _lines(flood), ROOT / "fixtures/policy.example.yaml", mp)
        assert "\nincident_seconds: 3600 " in example
        for name, text in (("flood set", example + "\ncountry_ip_block: set\n"),
                           ("flood short", example.replace("\nincident_seconds: 3600 ", "\nincident_seconds: 60 ", 1))):
            pol = tmp / f"{name.replace(' ', '-')}.yaml"
            pol.write_text(text)
            out[name] = replay(tmp, name.replace(" ", "-"), _lines(flood), pol, mp)
    finally:
        mp.undo()
    return out


def test_every_emit_of_the_replays(recorded):
    seen = {"made": 0, "joined": 0, "blocks": 0, "pruned": 0, "not_blocked": 0, "campaign": 0, "timer": 0, "other": 0}
    for name, calls in recorded.items():
        assert calls, name
        for call in calls:
            check(call)
            seen["made" if call["made"] else "joined"] += 1
            seen["blocks"] += call["before"] != call["after"] and b"blocks" in call["after"]
            seen["pruned"] += call["after"].count(b"|") < call["before"].count(b"|")
            seen["not_blocked"] += any(b"not_blocked" in encode(r) for r in call["records"])
            seen["campaign"] += any(isinstance(r, Seen) and r.campaign for r in call["records"])
            seen["timer"] += call["event"] is None
            seen["other"] += call["other"] is not None
    assert all(n > 0 for n in seen.values()), seen


def test_the_campaign_rules_are_the_families():
    assert sorted(_engine.CAMPAIGN_RULES) == sorted(FAMILIES)


def test_a_tenant_with_privacy_is_refused(recorded, monkeypatch):
    """The port does not pseudonymise yet: it refuses rather than write in clear what the policy hides."""
    from streams.policy.compiled import Tenant
    from streams.policy.schema import TenantPolicy

    monkeypatch.setenv("TOLLGUARD_PII_SALT", "a-secret-of-at-least-16")
    private = Tenant("p", TenantPolicy.model_validate({"privacy": {"mask_numbers": "last4"}}))
    call = next(c for c in recorded["flood"] if c["made"])
    with pytest.raises(ValueError, match="privacy"):
        _engine.emit_step(_engine.TenantDoc(private.document()), None, call["scope"], call["before"], call["ts"],
                          call["settled"], call["ident"], source_of(call), call["args"])
