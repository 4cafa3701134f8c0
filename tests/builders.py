"""Shared builders: events as the contract describes them, and a replay of a list of them."""

from __future__ import annotations

import contextlib
import json

from datetime import datetime, timedelta, timezone


from streams.domain.incidents import Seen
from streams.core.detector import Detector
from streams.domain.events import Action, Alert, decode_event, encode, event_time
from streams.policy import Policy

T0 = datetime(2026, 3, 4, 10, 0, 0, tzinfo=timezone.utc)  # a Wednesday


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def cdr(t: float = 0, src: str = "1001", dst: str = "02079460000", call_id: str | None = None, **kw) -> dict:
    ev = {"type": "cdr", "call_id": call_id or f"c-{src}-{t}-{dst}", "start": at(t), "src": src, "dst": dst}
    ev.update(kw)
    return ev


def sec(t: float = 0, ip: str = "203.0.113.7", service: str = "sip", outcome: str = "failure", **kw) -> dict:
    ev = {"type": "security", "ts": at(t), "service": service, "src_ip": ip, "outcome": outcome}
    ev.update(kw)
    return ev


def reg(t=0, ip="10.0.0.20", account="1001", ua="Yealink SIP-T46S", contact=None, outcome="success"):
    """A registration as a phone sends it (success from the LAN by default)."""
    ev = sec(t=t, ip=ip, action="register", account=account, outcome=outcome, user_agent=ua)
    if contact:
        ev["contact"] = contact
    return ev


GB = """
timezone: Europe/London
home_country: GB
international_prefix: ["00", "+"]
national_prefix: "0"
"""


def policy(extra: str = "", base: str = GB) -> Policy:
    """``base`` with ``extra`` on top: a top-level key in ``extra`` replaces the base's (a policy may not
    give a key twice)."""
    import yaml
    over = set((yaml.safe_load(extra) or {}) if extra.strip() else {})
    kept = [ln for ln in base.splitlines() if ln.split(":", 1)[0].strip() not in over]
    return Policy.from_yaml("\n".join(kept) + "\n" + extra, "<test>")


def run(events: list[dict], pol: Policy | None = None) -> list[Alert | Action]:
    """The events as an in-order shell feeds them (event time moves with each), then the end of input."""
    det = Detector(pol or policy())
    out: list = []
    for ev in events:
        out.extend(flat(det.feed(decode_event(encode(ev)))))
    out.extend(flat(det.finish()))
    return out


def flat(records) -> list:
    """Alerts, and every action each detection ordered (before an incident drops repeats)."""
    out: list = []
    for r in records:
        if isinstance(r, Seen):
            out.extend(r.actions)
        else:
            out.append(r)
    return out


def run_any_order(events: list[dict], pol: Policy | None = None) -> list[Alert | Action]:
    """The events as the worker applies them: in arrival order, event time moved to the latest seen."""
    det = Detector(pol or policy())
    out: list = []
    latest: dict[str, float] = {}
    for ev in events:
        e = decode_event(encode(ev))
        out.extend(flat(det.process(e)))
        latest[e.tenant] = max(latest.get(e.tenant, float("-inf")), event_time(e))
        out.extend(flat(det.advance(e.tenant, latest[e.tenant])))
    out.extend(flat(det.finish()))
    return out


def alerts(out, rule: str | None = None) -> list[Alert]:
    return [r for r in out if isinstance(r, Alert) and (rule is None or r.rule == rule)]


def actions(out, kind: str | None = None) -> list[Action]:
    return [r for r in out if isinstance(r, Action) and (kind is None or r.kind == kind)]



@contextlib.contextmanager
def webhook():
    """A local webhook that records the JSON body of every POST; yields ``(url, got)``, ``got`` the list of
    bodies received so far (the notify channel of the tests that check a message went out)."""
    import http.server
    import threading
    got: list = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", got
    finally:
        server.shutdown()


@contextlib.contextmanager
def serving(body: bytes):
    """A local HTTP server answering every GET with ``body`` (a worker's /metrics, say); yields its URL."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
