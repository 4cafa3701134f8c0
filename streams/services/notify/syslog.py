"""Syslog lines for a SIEM: RFC 5424, with the notification as structured data, or ArcSight CEF
(carried in an RFC 5424 header). Attacker text is made visible with ``safe`` first (no control
character reaches the line), then escaped for the format: CEF header ``\\`` and ``|``, CEF
extension ``\\``, ``=`` and line breaks; RFC 5424 parameter values ``\\``, ``"`` and ``]``."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timezone

from streams.reference.text import safe
from streams.services.notify.render import Message, rules_of, severity_of

VERSION = "0.1.0"
PEN = 32473  # the private enterprise number RFC 5612 reserves for documentation and examples
SYSLOG_SEVERITY = {"information": 6, "warning": 4, "alert": 3, "critical": 2}
CEF_SEVERITY = {"information": 3, "warning": 5, "alert": 7, "critical": 10}
MAX_LINE = 8000


def cef_header(value) -> str:
    return safe(value, 200).replace("\\", "\\\\").replace("|", "\\|")


def cef_value(value, limit: int = 400) -> str:
    text = safe(value, limit)  # real newlines are already the two characters \n here
    return text.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n").replace("\r", "\\r")


def sd_value(value, limit: int = 400) -> str:
    return safe(value, limit).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _fields(rec: dict, kind: str) -> list[tuple[str, object]]:
    """(name, value) pairs the SIEM gets, for an incident or an alert."""
    if rec.get("type") == "alert":
        return [("externalId", rec.get("alert_id")), ("tenant", rec.get("tenant")), ("rule", rec.get("rule")),
                ("subjectType", rec.get("subject_type")), ("subject", rec.get("subject")),
                ("mode", rec.get("mode")), ("msg", rec.get("summary"))]
    return [("externalId", rec.get("incident_id")), ("tenant", rec.get("tenant")),
            ("rules", ",".join(rules_of(rec))), ("subjectType", rec.get("subject_type")),
            ("subject", rec.get("subject")), ("status", rec.get("status")), ("version", rec.get("version")),
            ("events", rec.get("events")), ("cost", rec.get("cost")), ("msg", rec.get("summary"))]


_CEF_KEYS = {"externalId": "externalId", "msg": "msg", "status": "act", "events": "cnt",
             "tenant": ("cs1", "tenant"), "rules": ("cs2", "rules"), "subjectType": ("cs3", "subjectType"),
             "subject": ("cs4", "subject"), "version": ("cn1", "version"), "cost": ("cfp1", "cost"),
             "rule": ("cs2", "rule"), "mode": ("cs5", "mode")}


def cef(rec: dict, kind: str) -> str:
    sev = severity_of(rec)
    sig = rec.get("rule") if rec.get("type") == "alert" else f"incident-{kind}"
    name = f"{' '.join(rules_of(rec)) or 'tollguard'} {rec.get('subject_type', '')} {rec.get('subject', '')}"
    ext = []
    for key, value in _fields(rec, kind):
        if value is None or value == "":
            continue
        target = _CEF_KEYS[key]
        if isinstance(target, tuple):
            ext.append(f"{target[0]}Label={target[1]}")
            target = target[0]
        ext.append(f"{target}={cef_value(value)}")
    return (f"CEF:0|tollguard|tollguard|{VERSION}|{cef_header(sig)}|{cef_header(name)}|"
            f"{CEF_SEVERITY.get(sev, 3)}|{' '.join(ext)}")


def structured(rec: dict, kind: str) -> str:
    params = " ".join(f'{k}="{sd_value(v)}"' for k, v in _fields(rec, kind) if v is not None and k != "msg")
    return f"[tollguard@{PEN} kind=\"{kind}\" severity=\"{sd_value(severity_of(rec), 12)}\" {params}]"


def line(rec: dict, kind: str, fmt: str, facility: int, app: str, host: str | None = None,
         now: datetime | None = None) -> str:
    """One RFC 5424 line; its MSG is CEF with ``fmt='cef'``, else the escaped headline and summary."""
    pri = facility * 8 + SYSLOG_SEVERITY.get(severity_of(rec), 6)
    ts = (now or datetime.now(timezone.utc)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    host = _token(host or socket.gethostname(), 255)
    head = f"<{pri}>1 {ts} {host} {_token(app, 48)} {os.getpid()} {kind}"
    if fmt == "cef":
        return f"{head} - {cef(rec, kind)}"[:MAX_LINE]
    msg = f"{kind}: {safe(rec.get('tenant', '?'), 40)} {safe(rec.get('subject_type', '?'), 20)} " \
          f"{safe(rec.get('subject', '?'), 80)} {safe(','.join(rules_of(rec)), 200)}: {safe(rec.get('summary', ''), 400)}"
    return f"{head} {structured(rec, kind)} {msg}"[:MAX_LINE]


def lines(msg: Message, fmt: str, facility: int, app: str) -> list[str]:
    """A SIEM wants each event: a storm gives one line per folded message."""
    parts = msg.items if msg.kind == "storm" else [msg]
    return [line(_record(m), m.kind, fmt, facility, app) for m in parts]


def _record(m: Message) -> dict:
    return {k: v for k, v in m.body.items() if k not in ("notification", "updates")}


def _token(text: str, n: int) -> str:
    out = "".join(c if "!" <= c <= "~" else "_" for c in text)[:n]
    return out or "-"


def frame(text: str, framing: str) -> bytes:
    """TCP framing (RFC 6587): octet counting ``LEN SP MSG`` (default) or a trailing newline."""
    data = text.encode("utf-8")
    return (str(len(data)).encode() + b" " + data) if framing == "octet-counting" else data + b"\n"


class SyslogSender:
    def __init__(self, host: str, port: int, protocol: str, fmt: str, framing: str, facility: int,
                 app: str, timeout: float):
        self.addr, self.protocol, self.fmt, self.framing = (host, port), protocol, fmt, framing
        self.facility, self.app, self.timeout = facility, app, timeout
        self._tcp: socket.socket | None = None

    def send(self, msg: Message) -> None:
        for text in lines(msg, self.fmt, self.facility, self.app):
            if self.protocol == "udp":
                with socket.socket(_family(self.addr[0]), socket.SOCK_DGRAM) as s:
                    s.sendto(text.encode("utf-8"), self.addr)
            else:
                self._send_tcp(frame(text, self.framing))

    def _send_tcp(self, data: bytes) -> None:
        try:
            if self._tcp is None:
                self._tcp = socket.create_connection(self.addr, timeout=self.timeout)
            self._tcp.sendall(data)
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        if self._tcp is not None:
            try:
                self._tcp.close()
            finally:
                self._tcp = None


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
