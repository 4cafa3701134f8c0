"""How long a key's state matters: once its windows, blocks, incidents and calls are all over, the
key is forgotten (and the worker sends a tombstone), so state is bounded by recent traffic, not
by every address that ever knocked.

A key is kept until the latest of:

- its last event (``last``) plus the tenant's *retention*: the longest window any rule of the
  policy looks back over (lockouts, frequencies, a local day, registrations, the longest call,
  the incident span) plus the lateness ``HORIZON``;
- the end of each incident and block it records, plus ``HORIZON`` (a permanent one keeps the key
  for ``PROFILE`` after its last event: the block itself lives on in the blocklist and actions);
- what a rule of its scope ``keeps`` it for (the rule contract): ``PROFILE`` after its last event
  when it holds the anomaly model's profile of an extension (destinations called, usual behaviour:
  the model's memory is meant to be long), or how the account signs in (``account_takeover``:
  addresses and user agents used within ``new_for``); the end of a Wangiri burst's block, while
  calling its numbers back is still a callback; a spend limit's timer still to fire.
"""

from __future__ import annotations

from streams.core.types import SCOPES
from streams.state.schema import ExtState, IpState
from streams.core.epochs import FOREVER, HORIZON

PROFILE = 30 * 86400.0


def retention(p) -> dict[str, float]:
    """Per scope, the longest look-back of a tenant policy's rules (each rule's ``looks_back``, the
    contract) and of the core (its incidents; an extension's calls in progress), plus the lateness horizon."""
    from streams.rules import SPECS  # the rules import the state: read them when a detector first asks

    looks = {scope: [p.incident_seconds] for scope in SCOPES}
    looks["ext"].append(p.max_call_duration)
    for spec in SPECS:
        if spec.looks_back is not None:
            for scope, seconds in spec.looks_back(p):
                looks[scope].append(seconds)
    return {scope: float(max(w)) + HORIZON for scope, w in looks.items()}


def expiry(st, keep: float) -> float:
    """Event time after which the state ``st`` no longer matters (``keep``: its tenant's retention): the
    core's incidents, blocks and timers, and what each rule of the key's scope ``keeps`` it for."""
    seen = st.last if st.last is not None else float("-inf")
    t = seen + keep
    for inc in st.incidents.values():
        t = max(t, (inc.until if inc.until < FOREVER else seen + PROFILE) + HORIZON)
    if isinstance(st, IpState):
        for spans in st.blocks.values():
            for span in spans:
                t = max(t, min(span[1], seen + PROFILE) + HORIZON)
    for keeps in _keeps(type(st)):
        for until in keeps(st, seen):
            t = max(t, until)
    if isinstance(st, ExtState) and st.next_timer is not None:
        t = max(t, st.next_timer + HORIZON)
    return t


_KEEPS: dict[type, tuple] = {}


def _keeps(kind: type) -> tuple:
    """The ``keeps`` hooks of the rules of the scope whose state is ``kind`` (read once, the rules
    import the state)."""
    hooks = _KEEPS.get(kind)
    if hooks is None:
        from streams.rules import SPECS
        from streams.state.schema import STATE_TYPES

        scopes = [scope for scope, t in STATE_TYPES.items() if issubclass(kind, t)]
        hooks = _KEEPS[kind] = tuple(s.keeps for s in SPECS if s.keeps is not None
                                     and any(sc in s.scope.split(", ") for sc in scopes))
    return hooks
