"""The console's Starlette application: login, sessions, the incident list with live updates, an
incident's detail, and the SOC's actions (through the same records as ``tollguard ack|resolve|unblock``).

Every page is rendered by Jinja2 with autoescaping, and the live updates are written into the page
with ``textContent`` by a script served from the app itself (a Content-Security-Policy forbids any
other), so subjects, user agents and summaries, which attackers choose, are always shown as text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from streams.domain.campaigns import describe
from streams.reference.text import escape
from streams.services.console.store import CLOSED, SEVERITIES, SORTS, STATUSES, shown_status, sort_key
from streams.services.console.throttle import Busy, LoginThrottle, VerifySlots
from streams.services.console.users import User, UserBook

log = logging.getLogger("tollguard.console")
audit_log = logging.getLogger("tollguard.console.audit")
COOKIE = "tollguard_session"
STATIC = Path(__file__).with_name("static")
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
VERDICTS = ("true_positive", "false_positive")


class Wake:
    """Wakes every live stream waiting when the feed changed something (each waits on the event of its
    generation: one stream cannot clear it for the others)."""

    def __init__(self):
        self._event: asyncio.Event | None = None

    def ring(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    def current(self) -> asyncio.Event:
        """Take this before looking for changes: a change after that look sets it."""
        if self._event is None:
            self._event = asyncio.Event()
        return self._event


@dataclass
class Session:
    user: User
    csrf: str
    expires: float
    created: float = field(default_factory=time.time)


class Sessions:
    """Server-side sessions: the cookie holds only a random token; each expires ``seconds`` after its
    last use, and never lives past ``max_seconds``."""

    def __init__(self, seconds: float = 1800.0, max_seconds: float = 12 * 3600.0, clock=time.time):
        self.seconds, self.max_seconds, self.clock = seconds, max_seconds, clock
        self._by_token: dict[str, Session] = {}

    def open(self, user: User) -> str:
        token = secrets.token_urlsafe(32)
        self._by_token[token] = Session(user, secrets.token_urlsafe(24), self.clock() + self.seconds, self.clock())
        if len(self._by_token) > 10_000:
            now = self.clock()
            for t in [t for t, s in self._by_token.items() if s.expires < now]:
                del self._by_token[t]
        return token

    def get(self, token: str | None) -> Session | None:
        s = self._by_token.get(token or "")
        now = self.clock()
        if s is None:
            return None
        if s.expires < now or now - s.created > self.max_seconds:
            del self._by_token[token]
            return None
        s.expires = now + self.seconds
        return s

    def close(self, token: str | None) -> None:
        self._by_token.pop(token or "", None)


def make_app(store, users: UserBook, commands, feed=None, sessions: Sessions | None = None,
             metrics_url: str | None = None, secure_cookie: bool = True, throttle: LoginThrottle | None = None,
             slots: VerifySlots | None = None, tz: str = "UTC") -> Starlette:
    return Console(store, users, commands, feed, sessions, metrics_url, secure_cookie, throttle, slots, tz).starlette()


class Console:
    """The console's pages and API over an incident store, a users file and the SOC's commands."""

    def __init__(self, store, users: UserBook, commands, feed=None, sessions: Sessions | None = None,
                 metrics_url: str | None = None, secure_cookie: bool = True, throttle: LoginThrottle | None = None,
                 slots: VerifySlots | None = None, tz: str = "UTC"):
        self.store, self.users, self.commands, self.feed = store, users, commands, feed
        self.tz = tz
        self.metrics_url, self.secure_cookie = metrics_url, secure_cookie
        self.env = Environment(loader=PackageLoader("streams.services.console", "templates"),
                               autoescape=select_autoescape(["html"]), finalize=_visible)
        self.env.filters["money"] = lambda v: "" if not isinstance(v, (int, float)) else f"{v:,.2f}"
        self.env.filters["campaign"] = lambda c: describe(c) if isinstance(c, dict) else ""
        self.env.filters["when"] = lambda t: when(t, tz)
        self.env.filters["shown_status"] = shown_status
        self.env.globals["tz"] = tz
        self.sessions = sessions or Sessions()
        self.throttle = throttle or LoginThrottle()
        self.slots = slots or VerifySlots()
        self.wake = Wake()

    def page(self, name: str, status: int = 200, **ctx) -> HTMLResponse:
        return HTMLResponse(self.env.get_template(name).render(**ctx), status_code=status, headers=_headers())

    def session_of(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    async def login_form(self, request: Request) -> Response:
        return self.page("login.html", error=None)

    async def login(self, request: Request) -> Response:
        form = await request.form()
        name, password = str(form.get("name", ""))[:64], str(form.get("password", ""))[:256]
        peer = request.client.host if request.client else None
        if wait := self.throttle.wait(name, peer):  # refused unchecked, the right password too: no verify spent
            return self.too_many(wait)
        try:
            async with self.slots.slot():
                wait, charged = self.throttle.charge(name, peer)  # counted before the check: none slips past the limit
                if wait:
                    return self.too_many(wait)
                user = await self.slots.run(self.users.check, name, password)
        except Busy:
            return self.too_many(1, "The console is busy checking other logins.")
        if user is None:
            self.audit("login_failed", name, request)
            if wait := self.throttle.wait(name, peer):
                self.audit("login_throttled", name, request, seconds=wait)
            return self.page("login.html", status=401, error="Wrong name or password.")
        self.throttle.refund(name, peer, charged)
        token = self.sessions.open(user)
        self.audit("login", user.name, request)
        r = RedirectResponse("/", status_code=303)
        r.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=self.secure_cookie, path="/")
        return r

    def too_many(self, seconds: int, why: str = "Too many failed logins.") -> Response:
        r = self.page("login.html", status=429, error=f"{why} Try again in {_duration(seconds)}.")
        r.headers["Retry-After"] = str(seconds)
        return r

    async def logout(self, request: Request) -> Response:
        """Ends the session on the server, with or without the form's CSRF token (ending it gains an attacker
        nothing). A browser's cross-site request is refused: the session cookie is SameSite=Strict so it
        would not be sent anyway, and the deleted cookie must not be either."""
        token = request.cookies.get(COOKIE)
        s = self.sessions.get(token)
        if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            self.audit("refused", s.user.name if s else "-", request, action="logout", reason="cross-site")
            return PlainTextResponse("a logout from another site is refused", status_code=403, headers=_headers())
        self.sessions.close(token)
        if s is not None:
            self.audit("logout", s.user.name, request)
        r = RedirectResponse("/login", status_code=303)
        r.delete_cookie(COOKIE, path="/", secure=self.secure_cookie, httponly=True, samesite="strict")
        return r

    def audit(self, what: str, who: str, request: Request, **detail) -> None:
        audit_log.info(json.dumps({"audit": what, "by": who, "at": time.time(),
                                      "from": request.client.host if request.client else None, **detail}))

    def needs_login(self, handler):
        """The handler for a logged-in session; otherwise 401 for the API, the login page for people."""
        async def wrapped(request: Request) -> Response:
            s = self.session_of(request)
            if s is None:
                if request.url.path.startswith(("/api/", "/events")):
                    return JSONResponse({"error": "log in first"}, status_code=401, headers=_headers())
                return RedirectResponse("/login", status_code=303)
            return await handler(request, s)
        return wrapped

    def filters(self, request: Request) -> dict:
        q = request.query_params
        f = {k: (q.get(k) or "")[:128] or None for k in ("tenant", "severity", "rule", "status", "q", "sort")}
        if f["sort"] not in SORTS:
            f["sort"] = "severity"
        return f

    async def index(self, request: Request, s: Session) -> Response:
        f = self.filters(request)
        shown, total = self.store.query(s.user, **f)
        health = await asyncio.get_running_loop().run_in_executor(None, _health, self.feed, self.metrics_url)
        return self.page("list.html", user=s.user, csrf=s.csrf, incidents=shown, total=total, f=f, seq=self.store.seq,
                    severities=SEVERITIES, tenants=self.store.tenants(s.user), health=health, now=time.time(),
                    stats=self.store.stats(s.user, tenant=f["tenant"], tz=self.tz), statuses=STATUSES, sorts=SORTS,
                    rows=[_row(r, self.tz) for r in shown])

    async def incident(self, request: Request, s: Session) -> Response:
        rec = self.store.get(s.user, request.path_params["incident_id"])
        if rec is None:  # not there, or another tenant's: the same answer
            return self.page("missing.html", status=404, user=s.user, csrf=s.csrf)
        alerts = self.store.alerts_of(rec)
        line = describe(rec["campaign"]) if isinstance(rec.get("campaign"), dict) else None
        return self.page("incident.html", user=s.user, csrf=s.csrf, i=rec, alerts=alerts, closed=rec.get("status") in CLOSED,
                    verdicts=VERDICTS, done=request.query_params.get("done"), campaign_line=line,
                    shown=shown_status(rec), in_force=in_force(rec, time.time()))

    async def act(self, request: Request, s: Session) -> Response:
        what = request.path_params["what"]
        if what not in ("ack", "resolve", "unblock"):
            return PlainTextResponse("no such action", status_code=404)
        if not s.user.may_act:
            self.audit("refused", s.user.name, request, action=what, reason="viewer")
            return PlainTextResponse("viewers cannot act", status_code=403, headers=_headers())
        if not await _csrf_ok(request, s):
            self.audit("refused", s.user.name, request, action=what, reason="csrf")
            return PlainTextResponse("the form is stale or forged: reload the page", status_code=403, headers=_headers())
        rec = self.store.get(s.user, request.path_params["incident_id"])
        if rec is None:
            return PlainTextResponse("no such incident", status_code=404, headers=_headers())
        form = await request.form()
        note = str(form.get("note", ""))[:1000]
        verdict = str(form.get("verdict", "")) or None
        if verdict is not None and verdict not in VERDICTS:
            return PlainTextResponse("verdict must be true_positive or false_positive", status_code=400)
        loop = asyncio.get_running_loop()
        try:
            if what == "unblock":
                target = str(form.get("target", ""))[:128]
                if target not in {a.get("target") for a in rec.get("actions") or []}:
                    return PlainTextResponse("that target was not blocked by this incident", status_code=400)
                await loop.run_in_executor(None, self.commands.unblock, rec, target, note or "unblocked from the console",
                                           s.user.name)
            else:
                status = "acknowledged" if what == "ack" else "resolved"
                await loop.run_in_executor(None, self.commands.decide, rec, status, note, verdict, s.user.name)
        except Exception as exc:  # the broker refused: say so, act again later
            log.warning("console: %s of %s failed: %r", what, rec["incident_id"], exc)
            return PlainTextResponse(f"could not send the {what}: {exc.__class__.__name__}", status_code=503)
        self.audit(what, s.user.name, request, incident=rec["incident_id"], tenant=rec.get("tenant"), note=note,
              verdict=verdict)
        return RedirectResponse(f"/incident/{rec['incident_id']}?done={what}", status_code=303)

    async def api_incidents(self, request: Request, s: Session) -> Response:
        shown, total = self.store.query(s.user, **self.filters(request))
        shown = [{**r, "shown_status": shown_status(r)} for r in shown]
        return JSONResponse({"incidents": shown, "total": total, "seq": self.store.seq}, headers=_headers())

    async def api_stats(self, request: Request, s: Session) -> Response:
        return JSONResponse(self.store.stats(s.user, tenant=self.filters(request)["tenant"], tz=self.tz), headers=_headers())

    async def events(self, request: Request, s: Session) -> Response:
        try:
            seq = int(request.query_params.get("since", "0"))
        except ValueError:
            seq = 0
        user = s.user

        async def stream():
            nonlocal seq
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                if self.sessions.get(request.cookies.get(COOKIE)) is None:
                    yield "event: logout\ndata: {}\n\n"
                    return
                rung = self.wake.current()
                recs, seq = self.store.changed_since(user, seq)
                for rec in recs[-500:]:
                    yield f"event: incident\nid: {seq}\ndata: {json.dumps(_row(rec, self.tz))}\n\n"
                try:
                    await asyncio.wait_for(rung.wait(), timeout=5.0)
                except asyncio.TimeoutError:
                    yield ": keep-alive\n\n"
        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={**_headers(), "Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        path = STATIC / name
        if name not in ("console.js", "console.css") or not path.is_file():
            return PlainTextResponse("not found", status_code=404)
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return Response(path.read_bytes(), media_type=kind, headers=_headers())

    async def health(self, request: Request) -> Response:
        ok = self.feed is None or self.feed.ready.is_set()
        return JSONResponse({"ok": ok, "incidents": len(self.store), "feed_error": getattr(self.feed, "error", None)},
                            status_code=200 if ok else 503)

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        if self.feed is not None:
            self.feed.attach(asyncio.get_running_loop(), self.wake.ring)
        yield

    def starlette(self) -> Starlette:
        g = self.needs_login
        app = Starlette(routes=[
            Route("/login", self.login_form, methods=["GET"]), Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]), Route("/", g(self.index)),
            Route("/incident/{incident_id}", g(self.incident)),
            Route("/incident/{incident_id}/{what}", g(self.act), methods=["POST"]),
            Route("/api/incidents", g(self.api_incidents)), Route("/api/stats", g(self.api_stats)),
            Route("/events", g(self.events)), Route("/static/{name}", self.static), Route("/health", self.health),
            Route("/favicon.ico", lambda request: Response(status_code=204)),
        ], lifespan=self.lifespan)
        app.state.wake = self.wake
        return app


def _duration(seconds: int) -> str:
    return f"{seconds} s" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"


async def _csrf_ok(request: Request, s: Session) -> bool:
    form = await request.form()
    return secrets.compare_digest(str(form.get("csrf", "")), s.csrf)


def _visible(v):
    """Every value a page prints: control and bidi characters written visibly (``\\x1b``), then HTML-escaped
    by autoescaping; markup the templates made themselves (macros, ``tojson``) is left as it is."""
    return escape(v) if isinstance(v, str) and not isinstance(v, Markup) else v


def _headers() -> dict:
    return {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY"}


def when(t, tz: str = "UTC") -> str:
    """An ISO time as the operator reads it: to the second, in the console's time zone (``--tz``)."""
    if not isinstance(t, str) or not t:
        return ""
    from datetime import datetime
    from zoneinfo import ZoneInfo
    try:
        moment = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        return t[:19].replace("T", " ")
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


BLOCKS = ("block_ip", "lock_account", "disable_outbound", "block_number")


def in_force(rec: dict, now: float) -> set:
    """The targets of this incident's blocks that still hold at ``now`` (not lifted, not run out): only
    those can be unblocked."""
    from datetime import datetime
    out = set()
    for a in rec.get("actions") or []:
        if not isinstance(a, dict) or a.get("kind") not in BLOCKS or a.get("lifted"):
            continue
        try:
            start = datetime.fromisoformat(str(a.get("ts")).replace("Z", "+00:00")).timestamp()
        except ValueError:
            continue
        if a.get("duration_s") is None or start + float(a["duration_s"]) > now:
            out.add(a.get("target"))
    return out


def _row(rec: dict, tz: str = "UTC") -> dict:
    """What a list row shows (the page writes each field as text), with what the live page sorts on."""
    row = {k: rec.get(k) for k in ("incident_id", "tenant", "severity", "status", "subject_type", "subject", "rules",
                                   "cost", "opened", "last_seen", "summary", "events", "version")}
    row["shown_status"] = shown_status(rec)
    row["opened_shown"], row["last_seen_shown"] = when(rec.get("opened"), tz), when(rec.get("last_seen"), tz)
    row["order"] = {name: _flat(sort_key(rec, name)) for name in SORTS}
    for k in ("tenant", "subject_type", "subject", "summary"):
        if isinstance(row[k], str):
            row[k] = escape(row[k])
    if isinstance(row["rules"], list):
        row["rules"] = [escape(r) if isinstance(r, str) else r for r in row["rules"]]
    row["campaign"] = escape(describe(rec["campaign"])) if isinstance(rec.get("campaign"), dict) else None
    return row


def _flat(key: tuple) -> list:
    """A sort key as JSON the page can compare: numbers, then the negated time's characters."""
    out: list = []
    for part in key:
        out.extend(part if isinstance(part, tuple) else (part,))
    return out


def _health(feed, metrics_url: str | None) -> dict:
    from streams.services.console.feed import worker_health
    return {"feed_ready": feed is None or feed.ready.is_set(), "feed_error": getattr(feed, "error", None),
            "worker": worker_health(metrics_url)}
