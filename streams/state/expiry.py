"""How long a key's state matters: once its windows, blocks, incidents and calls are all over, the
key is forgotten (and the worker sends a tombstone), so state is bounded by recent traffic, not
by every address that ever knocked.

A key is kept until the latest of:

- its last event (``last``) plus the tenant's *retention*: the longest window any rule of the
  policy looks back over (lockouts, frequencies, a local day, registrations, the longest call,
  the incident span) plus the lateness ``HORIZON``;
- the end of each incident and block it records, plus ``HORIZON`` (a permanent one keeps the key
  for ``PROFILE`` after its last event: the block itself lives on in the blocklist and actions);
- ``PROFILE`` after its last event when it holds the anomaly model's profile of an extension
  (destinations called, usual behaviour: the model's memory is meant to be long), or how the
  account signs in (``account_takeover``: addresses and user agents used within ``new_for``);
- the end of a Wangiri burst's block, while calling its numbers back is still a callback.
"""

from __future__ import annotations

from streams.core.types import SCOPES
from streams.state.schema import ExtState, IpState
from streams.core.epochs import FOREVER, HORIZON

PROFILE = 30 * 86400.0


def retention(p) -> dict[str, float]:
    """Per scope, the longest look-back of a tenant policy's rules (each rule's ``looks_back``, the
    contract) and of the core (its incidents; an extension's calls in progress), plus the lateness horizon."""
    from streams.rules import SPECS  # the rules import the state: read them when a policy is compiled

    looks = {scope: [p.incident_seconds] for scope in SCOPES}
    looks["ext"].append(p.max_call_duration)
    for spec in SPECS:
        if spec.looks_back is not None:
            for scope, seconds in spec.looks_back(p):
                looks[scope].append(seconds)
    return {scope: float(max(w)) + HORIZON for scope, w in looks.items()}


def expiry(st, keep: float) -> float:
    """Event time after which the state ``st`` no longer matters (``keep``: its tenant's retention)."""
    seen = st.last if st.last is not None else float("-inf")
    t = seen + keep
    for inc in st.incidents.values():
        t = max(t, (inc.until if inc.until < FOREVER else seen + PROFILE) + HORIZON)
    if isinstance(st, IpState):
        for spans in st.blocks.values():
            for span in spans:
                t = max(t, min(span[1], seen + PROFILE) + HORIZON)
        return t
    for ring in getattr(st, "wangiri_inbound", {}).values():  # a burst's callbacks are watched until its block ends
        for b in ring.bursts:
            t = max(t, min(b.until, seen + PROFILE) + HORIZON)
    for w in getattr(st, "spend_limit", {}).values():  # a timer still to fire for calls in progress
        if w.due is not None:
            t = max(t, w.due + HORIZON)
    if isinstance(st, ExtState):
        if st.anomaly is not None:
            t = max(t, seen + PROFILE)
        takeover = st.account_takeover  # how the account signs in: remembered up to 30 days (new_for)
        if takeover is not None and (takeover.ips or takeover.agents):
            t = max(t, seen + PROFILE)
        if st.next_timer is not None:
            t = max(t, st.next_timer + HORIZON)
    return t
