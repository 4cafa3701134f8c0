"""The rule contract, checked: what a rule module declares, as one typed record per rule.

A rule module declares, at module level:

- ``RULE``      its id (on ``streams.domain.ruleids.RULE_IDS``, the public list);
- ``SCOPE``     the key it partitions by (``ip``, ``ext``, ``trunk``, ``tenant``), or a tuple of them
  for a rule that keeps the same kind of state under several keys (``spend_limit``);
- ``EVENTS``    ``cdr`` and/or ``security``; optionally ``WANTS``, the event kinds it judges
  (``_common.event_kind``: the detector hands it nothing else);
- ``SEVERITY``  its default severity (a policy may override it per tenant);
- ``STATE``     the slots of its key's state it keeps (fields of ``streams/state/schema.py``'s state of
  each of its scopes; empty for a rule that keeps none): every slot is kept by one rule, or by the core
  (``schema.CORE_SLOTS``); optionally ``looks_back(policy)``, yielding ``(scope, seconds)``: how far back
  that state reaches, which a key's retention is built from (``streams.state.expiry.retention``); and
  ``keeps(state, seen)``, yielding instants a key holding its state must be kept until, past that
  look-back (``seen``: the key's last event time; ``streams.state.expiry.expiry``);
- ``check(ctx, event)``; timer rules also ``on_timer(ctx, token)`` and ``pending(state)`` (both
  or neither), deferred ones ``on_release(ctx, event)``, micro-batch ones ``on_flush(detector, out)``;
  a rule that runs only where a tenant's policy asks for it ``applies(tenant, scope, event_type)``
  (asked once per tenant, scope and event kind; False: the detector never calls it there);
- a rule of the ``tenant`` scope also ``routes(event, tenant)``: must this event reach the tenant's key
  for it? A tenant has one key, so one partition judges all that reaches it: it sees only what one of
  its rules asks for (``Detector.keys_for``), not every event of the kinds in ``WANTS``;
- a docstring whose first line is ``<id> — guide: <section>`` or ``<id> — no guide section: …``.

:func:`spec_of` reads a module into a :class:`RuleSpec` or raises :class:`RuleContractError`
naming what is wrong; the registry (``streams.rules.SPECS``) is built from it at import, so a
rule that breaks the contract stops every command at once, not at its first event.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, NamedTuple, Optional, Protocol

from streams.domain.ruleids import RULE_IDS, SEVERITIES
from streams.core.types import SCOPES

EVENT_TYPES = ("cdr", "security")


class Order(NamedTuple):
    """An action a rule orders with its alert (``Ctx.emit`` makes it an ``events.Action`` in enforce mode)."""
    kind: str                 # events.ActionKind: block_ip, lock_account, disable_outbound, hangup_call, block_number
    target: str
    duration_s: Optional[int]  # None: until lifted
    from_ip: Optional[str] = None  # lock_account: the source it applies to (None: the whole account)


class RuleContractError(TypeError):
    """A rule module that does not declare what the detector relies on."""


class Rule(Protocol):
    """What the detector calls on a rule (a module satisfies it)."""
    RULE: str
    SCOPE: Any           # str, or a tuple of scopes
    EVENTS: tuple

    def check(self, ctx: Any, event: Any) -> None: ...


@dataclass(frozen=True)
class RuleSpec:
    id: str
    scope: str
    events: tuple[str, ...]
    wants: Optional[tuple[str, ...]]
    severity: str
    guide: str                      # the docstring's first line after the id: the guide section it implements
    module: ModuleType
    timer: bool
    release: bool
    flush: bool
    state: tuple[str, ...] = ()
    looks_back: Optional[Callable] = None
    keeps: Optional[Callable] = None

    @property
    def check(self) -> Callable:
        return self.module.check


def scopes_of(m: Any) -> tuple[str, ...]:
    """The scopes a rule module runs in (its ``SCOPE``: one name or a tuple)."""
    scope = getattr(m, "SCOPE", None)
    if isinstance(scope, str):
        return (scope,)
    return tuple(scope) if isinstance(scope, (tuple, list)) and all(isinstance(x, str) for x in scope) else ()


def spec_of(m: ModuleType) -> RuleSpec:
    name = m.__name__.rsplit(".", 1)[-1]

    def need(cond: bool, what: str) -> None:
        if not cond:
            raise RuleContractError(f"rule module {name}: {what}")
    rule = getattr(m, "RULE", None)
    need(isinstance(rule, str) and rule == name, f"RULE must be the module's name {name!r}, not {rule!r}")
    need(rule in RULE_IDS, f"{rule!r} is not on streams.domain.ruleids.RULE_IDS")
    scopes = scopes_of(m)
    need(bool(scopes) and set(scopes) <= set(SCOPES), f"SCOPE must be one of {SCOPES} or a tuple of them")
    events = tuple(getattr(m, "EVENTS", ()))
    need(bool(events) and set(events) <= set(EVENT_TYPES), f"EVENTS must name some of {EVENT_TYPES}")
    wants = getattr(m, "WANTS", None)
    need(wants is None or (isinstance(wants, (tuple, list, set, frozenset)) and all(isinstance(w, str) for w in wants)),
         "WANTS must be a collection of event kinds")
    need(getattr(m, "SEVERITY", None) in SEVERITIES, f"SEVERITY must be one of {SEVERITIES}")
    need(callable(getattr(m, "check", None)), "check(ctx, event) is missing")
    need(not hasattr(m, "applies") or callable(m.applies), "applies(tenant, scope, event_type) must be a function")
    need("tenant" not in scopes or callable(getattr(m, "routes", None)),
         "a rule of the tenant scope declares routes(event, tenant): which events its tenant key must see")
    state = getattr(m, "STATE", None)
    need(isinstance(state, tuple) and all(isinstance(x, str) for x in state),
         "STATE must be a tuple of the state slots it keeps (empty when it keeps none)")
    from streams.state.schema import STATE_TYPES
    for scope in scopes:
        missing = [x for x in state if x not in STATE_TYPES[scope].__struct_fields__]
        need(not missing, f"STATE names {', '.join(missing)}, not slots of the {scope} state (streams/state/schema.py)")
    looks_back = getattr(m, "looks_back", None)
    need(looks_back is None or callable(looks_back), "looks_back(policy) must be a function")
    keeps = getattr(m, "keeps", None)
    need(keeps is None or callable(keeps), "keeps(state, seen) must be a function")
    timer = hasattr(m, "on_timer")
    need(timer == hasattr(m, "pending"), "on_timer and pending come together (timers are re-armed from state)")
    doc = (m.__doc__ or "").strip().split("\n\n", 1)[0]
    head = " ".join(line.strip() for line in doc.splitlines())  # the first paragraph
    need(head.startswith(f"{rule} — "), f"the docstring must start with '{rule} — ' and cite the guide")
    return RuleSpec(id=rule, scope=", ".join(scopes), events=events, wants=tuple(sorted(wants)) if wants is not None else None,
                    severity=m.SEVERITY, guide=head.split(" — ", 1)[1].strip(), module=m, timer=timer,
                    release=hasattr(m, "on_release"), flush=hasattr(m, "on_flush"), state=state,
                    looks_back=looks_back, keeps=keeps)


def markdown(specs: list[RuleSpec]) -> str:
    """docs/rules.md: every rule id with its scope, events, default severity and guide section."""
    lines = ["# Rules", "",
             "Generated from the rule modules (`python -m streams.rules > docs/rules.md`, `make schema`); a test",
             "keeps it in step. Each rule is one module, `streams/rules/<id>.py`, whose docstring cites the",
             "guide section it implements; its settings are in docs/policy.md. The state it keeps is the slots",
             "named (of `streams/state/schema.py`'s state of its scope); the core keeps the rest (incidents, the",
             "last event time, blocks, calls in progress, timers). A policy may set each rule's mode (`enforce`,",
             "`report`, `off`) and severity.",
             "", "| rule id | scope | events | default severity | state | hooks | guide section |",
             "|---|---|---|---|---|---|---|"]
    for s in specs:
        hooks = ", ".join(h for h, on in (("timer", s.timer), ("release", s.release), ("flush", s.flush)) if on) or "—"
        guide = s.guide.replace("|", "\\|").rstrip(",;")
        state = ", ".join(f"`{x}`" for x in s.state) or "—"
        lines.append(f"| `{s.id}` | {s.scope} | {', '.join(s.events)} | {s.severity} | {state} | {hooks} | {guide} |")
    return "\n".join(lines) + "\n"
