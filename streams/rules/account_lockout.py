"""account_lockout — guide: Endpoint Security, "Account Lockout for Failed Registration Attempts", and
Extension Login Security, "Account Lockout for Failed Login Attempts", counted per account.

The guide's lockouts count failures per source IP. A distributed brute force rotates source
addresses, so no IP ever reaches the limit while one account takes thousands of guesses. This
rule counts failed registrations and failed logins against one account from every source,
with the guide's thresholds (``registration_lockout`` for registrations, ``login_lockout`` for
logins), and locks the account when they came from more than one address (a single source is the
per-IP rules' case, and raising it twice would only double the SOC's queue). It does not block
an IP: the sources are many and each is judged by the per-IP rules. The evidence lists the most
recent sources.

The lock follows the lockout's ``lock_scope``: ``source`` (the default, the guide's Blocked IPs
table) locks the account for each source that sent a failure proving a round trip within a
window that crossed the limit in the incident's epoch, so the phones on the LAN keep their
account (a source that failed only once is not locked for it: a botnet address does not come back,
and its lock would only fill the enforcers); ``account`` locks it for every address once a proven
failure is among those counted.
Failures that needed no round trip over UDP count toward the alert only (``block_on_unverified_udp``).

Which sources are locked is a function of the failures alone, not of the order they arrived in:
each failure that creates or joins a window over the limit names every proven source of that
window, each source is locked once per epoch (``account_locked``), and the sources are read back
from the window's entries (``account_source_ips``), never from a list kept in arrival order. So
replay and the worker order the same locks (tests/streams/shells/worker/test_pipeline.py).
"""

from streams.rules.contract import Order

from bisect import bisect_right
from zlib import crc32

from streams.core.epochs import HORIZON, epoch_of
from streams.rules._common import UNVERIFIED, by_latest, flagged, is_registration, may_block
from streams.state import TimeSet
from streams.state.windex import WindowIndex

RULE = "account_lockout"
SCOPE = "ext"
EVENTS = ("security",)
WANTS = {"reg_failure", "login_failure"}  # event kinds it judges (streams.rules._common.event_kind)
SEVERITY = "alert"
STATE = ("account_failures", "account_source_ips", "account_locked")  # the slots of its key's state it keeps (streams/state/schema.py)
SOURCES = 8  # sources named in the evidence (the locks name every proven one that failed REPEAT times)
REPEAT = 2   # failures of one source within the lockout's windows before the account is locked for it
KEEP = 4096  # failures kept per account: a flood arriving out of order is still counted within its window


def looks_back(p):
    """How far back its state reaches, per scope (a key's retention, streams.state.expiry)."""
    yield SCOPE, p.registration_lockout.seconds
    yield SCOPE, p.login_lockout.seconds


def check(ctx, ev) -> None:
    if not ev.account:
        return
    kind = "registration" if is_registration(ev) else "login"
    cfg = ctx.tenant.settings.registration_lockout if kind == "registration" else ctx.tenant.settings.login_lockout
    st = ctx.state
    window = st.account_failures.get(kind)
    if window is None:
        window = st.account_failures[kind] = TimeSet()
    source = crc32(ev.src_ip.encode())
    st.account_source_ips[source] = ev.src_ip
    span = ctx.span([Order("lock_account", "", cfg.block_seconds)])
    ident = flagged(source, ev)
    i = window.add(ctx.ts, ident)
    WindowIndex.added(window, i, ctx.ts, ident)
    if i >= 0:
        # each window end over the limit that holds this failure, from more than one source: those that
        # hold a proven failure may lock, the others only alert; grouped per incident epoch
        groups: dict[tuple[int, bool], list[float]] = {}
        for at, _ in window.exceeded(i, cfg.seconds, cfg.failures - 1):
            if _sources_in(window, at, cfg.seconds) >= 2:
                groups.setdefault((epoch_of(at, span), may_block(ctx, window, at, cfg.seconds)), []).append(at)
        for (epoch, ok), ends in groups.items():
            _detect(ctx, cfg, kind, window, epoch, ok, ends, span, ev)
    _forget(st, window, ctx.settled - cfg.seconds - HORIZON, span)


def _detect(ctx, cfg, kind: str, window: TimeSet, epoch: int, ok: bool, ends: list[float], span: float, ev) -> None:
    """One detection for the window ends of one epoch (``ends``, earliest first)."""
    at = ends[0]
    n = window.count(at, cfg.seconds)
    variant = kind if ok else f"{kind}/unverified"
    quiet = ctx.absorbed(RULE, "account", ev.account, variant, at, span)
    if quiet:  # counted into its open alert: no evidence
        named = []
    else:
        named = _sources(ctx.state, window, at - cfg.seconds, at)
    evidence = {"failures": n, "seconds": cfg.seconds, "kind": kind, "sources": named[-SOURCES:],
                "service": ev.service}
    actions = _locks(ctx, cfg, window, kind, epoch, ends, ev.account, evidence, quiet) if ok else None
    if actions is None:
        evidence["unverified"] = UNVERIFIED
    ctx.emit(RULE, SEVERITY, "account", ev.account,
             f"Account {ev.account} locked: {n} failed {kind}s in {cfg.seconds} s from "
             f"{len(named) or 'more than one'} source addresses", evidence, actions or [],
             variant=variant, at=at, span=span, adds=True)


def _locks(ctx, cfg, window: TimeSet, kind: str, epoch: int, ends: list[float], account: str,
           evidence: dict, quiet: bool = False) -> list[Order]:
    """The locks not yet ordered in this epoch: one per source with ``REPEAT`` proven failures (any failures
    when ``block_on_unverified_udp``) in the windows ending at ``ends`` (``lock_scope: source``), or one for
    every address (``account``). A botnet source that tried the account once is not locked: it does not
    come back, so its lock would protect nothing and only fill the enforcers (the alert still names it).
    ``quiet``: the detection joins its open alert, so ``evidence`` is not shown (only the locks matter)."""
    trust = ctx.tenant.settings.block_on_unverified_udp
    st = ctx.state
    done = st.account_locked.setdefault(f"{kind}|{epoch}", [])
    if cfg.lock_scope == "account":
        ips = [None] if 0 not in done else []
        done[:] = [0]
    elif quiet and not trust and _no_repeat(window, ends[0] - cfg.seconds, ends[-1]):
        # a detection counted into its open alert (its evidence is not shown) whose windows hold no entry twice:
        # no source has REPEAT proven failures there, so no lock, as the full count below would find
        ips = []
    else:
        counts = _counts(window, ends[0] - cfg.seconds, ends[-1])  # one pass: source -> [all, proven]
        enough = [s for s, (n, p) in counts.items() if (n if trust else p) >= REPEAT]
        once = sum(1 for n, p in counts.values() if 0 < (n if trust else p) < REPEAT)
        names = st.account_source_ips
        allowed = [names[s] for s in enough if s in names]
        if once:
            evidence["not_locked"] = (f"{once} source(s) with a single failure: not locked for the account (a source "
                                      "that does not come back is stopped by no lock; lock_scope: account locks it "
                                      "for every address)")
        known = set(done)
        ips = [ip for ip in allowed if crc32(ip.encode()) not in known]
        done.extend(crc32(ip.encode()) for ip in ips)
        unverified = [] if trust else sorted(names[s] for s, (n, p) in counts.items()
                                             if n >= REPEAT > p and s in names)
        if unverified:
            evidence["unverified"] = f"{UNVERIFIED}: {', '.join(unverified[:SOURCES])}"
    return [Order("lock_account", f"{ctx.tenant.name}/{account}", cfg.block_seconds, ip) for ip in ips]


def _counts(window: TimeSet, lo: float, hi: float) -> dict[int, list[int]]:
    """Per source id, its failures in ``(lo, hi]`` and how many of them proved a round trip, in order of
    their first failure there."""
    ids = window.ids
    out: dict[int, list[int]] = {}
    for k in range(bisect_right(window.t, lo), bisect_right(window.t, hi)):
        c = out.get(ids[k] >> 1)
        if c is None:
            c = out[ids[k] >> 1] = [0, 0]
        c[0] += 1
        c[1] += ids[k] & 1
    return out


def _no_repeat(window: TimeSet, lo: float, hi: float) -> bool:
    """Does no entry id (source and proof bit) occur twice in ``(lo, hi]``? Then no source has two proven
    failures there. Read from the window's index (streams.state.windex): only the entries whose id came
    before are looked at (a botnet of single tries has none), not every entry of the window."""
    return WindowIndex.no_repeat_in(window, lo, hi)


def _sources(st, window: TimeSet, lo: float, hi: float) -> list[str]:
    """The addresses of the failures in ``(lo, hi]``, by their latest failure."""
    names = st.account_source_ips
    return [names[s] for s in by_latest(window, lo, hi, 1) if s in names]


def _forget(st, window: TimeSet, before: float, span: float) -> None:
    """Prune the window, the addresses of sources no window holds any more, and the locks of epochs over."""
    WindowIndex.prune(window, before, KEEP)
    names = st.account_source_ips
    if len(names) > 2 * sum(len(w) for w in st.account_failures.values()) + 16:
        held = {i >> 1 for w in st.account_failures.values() for i in w.ids}
        for s in [s for s in names if s not in held]:
            del names[s]
    for key in [k for k in st.account_locked if (int(k.rsplit("|", 1)[1]) + 1) * span < before]:
        del st.account_locked[key]


def _sources_in(window: TimeSet, at: float, seconds: float) -> int:
    """Distinct sources among the failures in the window ending at ``at`` (stops counting at two)."""
    lo, hi = bisect_right(window.t, at - seconds), bisect_right(window.t, at)
    first = None
    for k in range(lo, hi):
        if first is None:
            first = window.ids[k] >> 1  # the source, without the proof bit (streams.rules._common.flagged)
        elif window.ids[k] >> 1 != first:
            return 2
    return 0 if first is None else 1
