"""Helpers shared by the call rules."""

from __future__ import annotations

from ..events import Cdr

SKIP_KINDS = ("short", "emergency")


def external_call(ctx, cdr: Cdr) -> bool:
    """An outbound call to a real destination, judged once per call (at its first event)."""
    return (cdr.direction == "outbound" and ctx.first_sight and ctx.num.kind not in SKIP_KINDS)


def call_actions(ctx, cdr: Cdr, number_block: bool = False) -> list[tuple[str, str, int | None]]:
    """Cut a call in progress; bar the extension for a completed one; optionally block the number."""
    acts: list[tuple[str, str, int | None]] = []
    if cdr.phase == "start":
        acts.append(("hangup_call", cdr.call_id, None))
    else:
        acts.append(("disable_outbound", cdr.src, ctx.tenant.p.outbound_bar_seconds))
    if number_block and ctx.num.e164:
        acts.append(("block_number", ctx.num.e164, None))
    return acts


def call_evidence(ctx, cdr: Cdr, **extra) -> dict:
    n = ctx.num
    ev = {"call_id": cdr.call_id, "src": cdr.src, "dst": cdr.dst, "e164": n.e164, "country": n.region,
          "number_type": n.number_type, "phase": cdr.phase}
    if cdr.trunk:
        ev["trunk"] = cdr.trunk
    ev.update(extra)
    return ev


def is_registration(ev) -> bool:
    return ev.action == "register" or (ev.action is None and ev.service == "sip")
