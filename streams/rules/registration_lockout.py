"""registration_lockout — guide: Endpoint Security, "Account Lockout for Failed Registration Attempts".

After ``failures`` failed registrations from one IP within ``seconds`` (default 10 in 10 min,
fail2ban's asterisk jail): block the source IP (``block_seconds``), lock the targeted
account(s) for that source (the guide's Blocked IPs table: "Block Account", "SIP Extension:1001",
with the source IP; ``lock_scope: account`` locks them for every address), and raise "Extension
Registration Blocked Out" (level Alert). Each attempt counts once (by its identity), in
event-time order whatever order it arrives in. Failures that needed no round trip over UDP
(``round_trip`` false) count toward the alert, but block and lock only when the window also
holds a proven one, or under ``block_on_unverified_udp``: a forged source is no one to block.

Which accounts are locked is a function of the failures alone, not of the order they arrived in:
an account is locked when the source failed on it ``REPEAT`` times within one window over the
limit (a scanner walking names once each locks none of them; its address is blocked). Each window
entry carries the account it named (``entry``), every detection reads the accounts back from the
windows over the limit that hold the new failure, and an epoch orders each lock and its block once
(``registration_locked``), so a late failure's detection orders what it adds (``emit(adds=True)``).
Replay and the worker, in any order, lock the same accounts (tests/streams/rules/test_registration_lockout.py),
as long as a source's window holds at most ``KEEP`` failures: past that the oldest are dropped, as in
every per-source window, and what they would have added depends on what was still held. An epoch
locks at most ``MAX_LOCKS`` accounts for one source (the rest are named as not locked: the source's
block stops it), so a source that keeps failing after its block cannot grow its state or the enforcers'
work without bound.
"""

from bisect import bisect_right
from zlib import crc32

from streams.core.epochs import HORIZON, epoch_of
from streams.rules.contract import Order
from streams.rules._common import by_latest, flagged, is_registration, lock_orders, may_block, proven_orders
from streams.state import TimeSet

RULE = "registration_lockout"
SCOPE = "ip"
EVENTS = ("security",)
WANTS = {"reg_failure"}  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "alert"
STATE = ("registration_lockout", "registration_accounts", "registration_locked")  # the slots of its key's state it keeps (streams/state/schema.py)
SHOWN = 5    # accounts named in the evidence (the most recent of the first window)
REPEAT = 2   # failures on one account within a window over the limit before it is locked for the source
BLOCKED = -1  # registration_locked's mark for "this epoch's block_ip went out"
MAX_LOCKS = 64  # accounts locked for one source in one epoch
KEEP = 256   # failures kept per source (at least 16 times the limit)
ACCOUNT_BITS = 31  # an entry: (account hash << 33) | (event identity << 1) | proof, within 64 bits


def looks_back(p):
    """How far back its state reaches, per scope (a key's retention, streams.state.expiry)."""
    yield SCOPE, p.registration_lockout.seconds


def check(ctx, ev) -> None:
    if ev.outcome != "failure" or not is_registration(ev):
        return
    cfg = ctx.tenant.settings.registration_lockout
    st = ctx.state
    window = st.registration_lockout
    if window is None:
        window = st.registration_lockout = TimeSet()
    acct = account_id(ev.account)
    if acct:
        held = st.registration_accounts.get(acct)
        if held is None or ev.account < held:  # two names on one hash: the same one in any order
            st.registration_accounts[acct] = ev.account
    span = ctx.span([Order("block_ip", ev.src_ip, cfg.block_seconds)])
    i = window.add(ctx.ts, entry(acct, flagged(ctx.ident, ev)))
    if i >= 0:
        groups: dict[tuple[int, bool], list[tuple[float, int]]] = {}
        for at, n in window.exceeded(i, cfg.seconds, cfg.failures - 1):
            groups.setdefault((epoch_of(at, span), may_block(ctx, window, at, cfg.seconds)), []).append((at, n))
        for (epoch, ok), ends in groups.items():
            _detect(ctx, cfg, window, epoch, ok, ends, span, ev)
    _forget(st, window, ctx.settled - cfg.seconds - HORIZON, max(16 * cfg.failures, KEEP), span)


def account_id(account: str | None) -> int:
    """The account's 31-bit hash in a window entry (0: the failure named no account)."""
    return (crc32(account.encode()) & ((1 << ACCOUNT_BITS) - 1)) or 1 if account else 0


def entry(acct: int, flagged_ident: int) -> int:
    """A window entry's id: the account above the event's identity and its proof bit (33 bits)."""
    return (acct << 33) | (flagged_ident & ((1 << 33) - 1))


def _detect(ctx, cfg, window: TimeSet, epoch: int, ok: bool, ends: list[tuple[float, int]], span: float,
            ev) -> None:
    """One detection for the window ends of one epoch over the limit (``ends``, earliest first)."""
    at, n = ends[0]
    st = ctx.state
    names = st.registration_accounts
    shown = [names[a] for a in by_latest(window, at - cfg.seconds, at, 33, none=0)[-SHOWN:] if a in names]
    evidence = {"failures": n, "seconds": cfg.seconds, "accounts": shown, "user_agent": ev.user_agent}
    orders = _orders(ctx, cfg, window, epoch, [e for e, _ in ends], ev.src_ip, evidence) if ok else \
        [Order("block_ip", ev.src_ip, cfg.block_seconds)]
    actions, variant = proven_orders(ctx, ok, orders, evidence)
    ctx.emit(RULE, SEVERITY, "ip", ev.src_ip,
             f"Extension Registration Blocked Out: {n} failed registrations from {ev.src_ip} in {cfg.seconds} s",
             evidence, actions, variant=variant, at=at, span=span, adds=True)


def _orders(ctx, cfg, window: TimeSet, epoch: int, ends: list[float], src_ip: str, evidence: dict) -> list[Order]:
    """The block and the locks this epoch has not ordered yet (at most ``MAX_LOCKS`` locks an epoch)."""
    done = ctx.state.registration_locked.setdefault(str(epoch), [])
    held = set(done)
    names = ctx.state.registration_accounts
    new = [a for a in _repeated(window, ends, cfg.seconds) if a not in held and a in names]
    room = MAX_LOCKS + (BLOCKED in held) - len(done)
    if len(new) > room:
        evidence["not_locked"] = (f"{len(new) - max(room, 0)} more account(s) failed twice: not locked, past "
                                  f"{MAX_LOCKS} for one source in one incident (its block stops it)")
        new = sorted(new)[:max(room, 0)]
    out = [] if BLOCKED in held else [Order("block_ip", src_ip, cfg.block_seconds)]
    done.extend(([] if BLOCKED in held else [BLOCKED]) + new)
    return out + lock_orders(ctx, cfg, [names[a] for a in new], src_ip)


def _repeated(window: TimeSet, ends: list[float], seconds: float) -> list[int]:
    """The accounts with ``REPEAT`` failures within one of the windows ending at ``ends`` (ascending), in
    the order they got there: one pass, each entry joining and leaving a running tally once."""
    times, ids = window.t, window.ids
    tally: dict[int, int] = {}
    found: dict[int, None] = {}
    lo = hi = bisect_right(times, ends[0] - seconds)
    for end in ends:
        top = bisect_right(times, end)
        joined = []
        for k in range(hi, top):
            a = ids[k] >> 33
            tally[a] = tally.get(a, 0) + 1
            joined.append(a)
        hi = top
        floor = bisect_right(times, end - seconds)
        for k in range(lo, floor):
            tally[ids[k] >> 33] -= 1
        lo = max(lo, floor)
        found.update((a, None) for a in joined if a and tally[a] >= REPEAT and a not in found)
    return list(found)


def _forget(st, window: TimeSet, before: float, keep: int, span: float) -> None:
    """Prune the window, the names no entry holds any more, and the orders of epochs over."""
    window.prune(before, keep)
    names = st.registration_accounts
    if len(names) > 2 * len(window) + 16:
        held = {i >> 33 for i in window.ids}
        for a in [a for a in names if a not in held]:
            del names[a]
    if len(st.registration_locked) > 1:
        for key in [k for k in st.registration_locked if (int(k) + 1) * span < before]:
            del st.registration_locked[key]
