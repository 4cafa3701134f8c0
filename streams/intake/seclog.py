"""PBX security log lines to security events (pure functions; the line reader, the ``--input auto``
sniffer and the ``tail`` shipper call them one physical line at a time).

Formats (``FORMATS``) and the lines that become events:

- ``asterisk-log``: Asterisk's ``messages``/``security`` log, plain or through syslog/journald.
  chan_sip ``Registration from '<sip:301@example.com>' failed for '1.2.3.4:5060' - Wrong password``,
  ``hacking attempt detected '1.2.3.4'``; res_pjsip ``Request 'INVITE' from '"1000" <sip:1000@pbx>'
  failed for '1.2.3.4:5060' (callid: abc) - No matching endpoint found``; the dialplan's
  ``Call from '' (1.2.3.4:10836) to extension '0044…' rejected because extension not found in
  context 'default'.`` (also ``(TCP:[1.2.3.4]:61470)`` and ``anonymous: Call (UDP:1.2.3.4:5060) …``);
  chan_iax2 ``Host 1.2.3.4 failed to authenticate as 'x'``, ``No registration for peer 'x' (from
  1.2.3.4)``; AMI (manager.c) ``1.2.3.4 failed to authenticate as 'admin'``; FreePBX's
  ``Rejecting unknown SIP connection from 1.2.3.4``; res_security_log ``SecurityEvent="InvalidPassword",
  EventTV="…",Service="SIP",AccountID="…",SessionID="…",LocalAddress="IPV4/UDP/…",RemoteAddress=
  "IPV4/UDP/1.2.3.4/5060",…``.
- ``freeswitch-log``: FreeSWITCH's log, plain or through syslog. sofia ``SIP auth failure (REGISTER)
  on sofia profile 'internal' for [101@pbx] from ip 1.2.3.4`` (and ``challenge``), ``Can't find user
  [101@pbx] from 1.2.3.4``, ``IP 1.2.3.4 Rejected by register acl "lan"`` (and ``by acl`` for calls),
  ``IP 1.2.3.4 Rejected by user acl [lan] and no proxy acl present``, ``IP/Port 1.2.3.4 5060 Rejected
  by acls and auth-calls-acl-only flag is set, rejecting call``, ``Can not do authorization without a
  complete header in REGISTER request from 1.2.3.4:5060``; mod_event_socket's ACL refusal; mod_verto's
  ``1.2.3.4:443 Client Connect from 1.2.3.4:443 refused by ACL lan``. mod_verto's ``Login incorrect
  for user: X domain: D`` names no address (refused as such); mod_xml_rpc writes no refusal here.
- ``kamailio-log``: Kamailio's log. pike ``PIKE - BLOCKing ip 1.2.3.4, node=0x…``; the default
  kamailio.cfg's ``ALERT: pike blocking REGISTER from sip:x@y (IP:1.2.3.4:5060)`` and ``Malformed SIP
  message from 1.2.3.4:5060``; the secfilter README's ``INVITE from 1.2.3.4 blocked because IP address
  is blacklisted`` (and the user-agent, user, country and destination variants).
  And the ``tollguard-sec/1 event=… src=$si port=$sp …`` line of docs/kamailio/tollguard-security-log.cfg
  (auth failures and successes, pike, ACL refusals), whose sender fields are percent-encoded.

Prefixes: ``[2012-02-13 17:21:54] NOTICE[1638] chan_sip.c: …``, ``[Jan 18 17:39:50] NOTICE[12049]:
res_pjsip_session.c:2337 new_invite: …`` (no year), syslog ``Nov  4 18:30:40 host asterisk[32229]: …``
and ``2016-09-25T18:57:58.150982 host freeswitch[1]: …`` (then the program's own stamp, which is not
used: the syslog one is when the line was written), FreeSWITCH ``2013-12-31 17:39:54.767815 [WARNING]
sofia_reg.c:1533 …``, ``08-03 07:56:53.026292 [WARN] [SOFIA] [sofia_reg.c:4130] …`` (no year) and
``… 00.00% [WARNING] …``, and journald lines with no stamp at all (``NOTICE[566]: chan_sip.c:…``),
which take the last time seen in the file. Stamps without a zone are local times in the file's zone;
stamps without a year take it from the file (see ``LogState``).

Attacker text: user names, From headers, Call-IDs and dialled numbers are whatever the sender chose.
The address is taken only from where the PBX writes it: at a fixed place from the start where it
comes before any sender text (IAX2 ``Host``, AMI, FreeSWITCH ACL and mod_verto, Kamailio,
res_pjsip_session, whose caller is the endpoint's configured name), from the end where only the
PBX's own words follow it (chan_sip registrations, IAX2 ``(from …)``, FreeSWITCH, the last unescaped
``RemoteAddress``), and, where the sender's text lies on both sides (chan_sip's ``Call from``,
res_pjsip's request failure), from every place the separator could start, overlapping: each that
holds an address as the PBX prints it is a reading, and two readings that disagree refuse the line
as ambiguous. IPv6 scope ids (``%eth0``) are refused. A line that begins such a message but lacks
the end the PBX writes was cut by a newline in the sender's text (chan_sip and res_pjsip_session
%-decode the number, a verto login is JSON): it and the lines up to that end (at most the 8 KiB
Asterisk allows one message) are refused, whatever they look like; but the sender can write that end
too, earlier (the limit in docs/intake.md), and a verto login's domain may be the sender's too.
Regexes are anchored and bounded, so a 1 MB line costs linear time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from streams.domain.events import canonical_ip
from streams.intake.common import AdapterError, local_time
from streams.intake.proof import round_trip

FORMATS = ("asterisk-log", "freeswitch-log", "kamailio-log")
MAX_TEXT = 512  # the contract's limit for free-text fields
MAX_MESSAGE = 8192  # Asterisk's logger formats one message into at most BUFSIZ (8 KiB with glibc) characters
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), 1)}
_PROTOCOLS = {"UDP": "udp", "TCP": "tcp", "TLS": "tls", "WS": "ws", "WSS": "wss"}
_UTC = timezone.utc


class LogState:
    """Per-file reading state: zone, tenant, year inference for stamps without a year, and cut messages.

    ``year`` is the year to assume before the file showed one (the caller passes the file's
    modification year); after that a year-less stamp takes the year of the previous stamp, one more
    when the month jumps back by more than six (December to January), and one less when the result
    would lie more than a day in the future. ``last`` is the last time read from a stamp: journald
    lines without a stamp get it. After a cut message (see ``parse_line``) ``cut_tail`` names the
    end the PBX writes for it and ``cut_left`` how many characters of it may still follow: lines
    up to the one with that end are refused."""

    def __init__(self, tz: ZoneInfo, tenant: str = "default", year: int | None = None):
        self.tz, self.tenant, self.year = tz, tenant, year
        self.last: datetime | None = None
        self.cut_tail: str | None = None
        self.cut_left = 0

    def snapshot(self) -> dict:
        return {"year": self.year, "last": self.last.isoformat() if self.last else None,
                "cut_tail": self.cut_tail, "cut_left": self.cut_left}

    @classmethod
    def restore(cls, tz, tenant, snap: dict) -> "LogState":
        state = cls(tz, tenant, snap.get("year"))
        if snap.get("last"):
            state.last = datetime.fromisoformat(snap["last"])
        if snap.get("cut_tail") in _TAILS:
            state.cut_tail, state.cut_left = snap["cut_tail"], max(0, min(int(snap.get("cut_left") or 0), MAX_MESSAGE))
        return state


# ---------------------------------------------------------------------------------------- prefixes

_CLOCK = r"(?P<H>\d\d):(?P<M>\d\d):(?P<S>\d\d)(?:[.,](?P<f>\d{1,9}))?"
_BSD_DATE = r"(?P<b>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(?P<e>\d{1,2}) "
_ISO_DATE = r"(?P<Y>\d{4})-(?P<m>\d\d)-(?P<d>\d\d)[T ]"
_PROGRAM = r"(?P<zone>Z|[+-]\d\d:?\d\d)? (?P<host>[^\s\[]\S{0,254}) (?P<prog>[^\s\[:]{1,128})(?:\[\d{1,10}\])?: +"
_AST_STAMP = re.compile(rf"\[(?:{_ISO_DATE}|{_BSD_DATE}){_CLOCK}\] +")
_FS_STAMP = re.compile(r"(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12} )?"
                       rf"(?:(?P<Y>\d{{4}})-)?(?P<m>\d\d)-(?P<d>\d\d) {_CLOCK} (?:\d{{1,3}}\.\d\d% )?(?=\[[A-Z]{{3,8}}\] )")
_SYSLOG_ISO = re.compile(_ISO_DATE + _CLOCK + _PROGRAM)
_SYSLOG_BSD = re.compile(_BSD_DATE + _CLOCK + _PROGRAM)

_AST_HEAD = re.compile(r"(?P<level>[A-Z]{3,9}) ?\[\d{1,10}\](?:\[C-[0-9A-Fa-f]{1,16}\])?:? +")
_AST_SRC = re.compile(r"(?P<src>[\w./-]{1,128}\.c)(?::\d{1,6}(?: in)? \w{1,128})?: +")
_AST_EXT = re.compile(r"Ext\. (?P<ext>[^:\s]{0,128})(?::\d{1,6})?(?: in)?(?: @ (?P<ctx>[^:\s]{1,128}))?: +")
_FS_HEAD = re.compile(r"\[(?P<level>[A-Z]{3,8})\] (?:\[[A-Z_]{1,16}\] )?\[?(?P<src>[\w.-]{1,64}\.c):\d{1,6}\]? +")
_KAM_HEAD = re.compile(r"(?:\d{1,4}\(\d{1,10}\) )?(?P<level>[A-Z]{3,9}): (?P<src><script>|<core>|[\w-]{1,64})"
                       r"(?: \[(?P<file>[\w./-]{1,128}):\d{1,6}\])?: (?:[\w.]{1,128}\(\): )?")
_PROGRAMS = {"asterisk": "asterisk-log", "freeswitch": "freeswitch-log", "kamailio": "kamailio-log"}


@dataclass(slots=True)
class _Line:
    stamp: dict | None       # the groups of the line's (outer) time stamp
    app: str | None          # which of FORMATS the body is written in
    level: str = ""
    src: str | None = None   # source file or module that wrote it
    msg: str = ""
    context: str | None = None


def _split(text: str) -> _Line:
    """The line's stamp, and whose log line it is (Asterisk, FreeSWITCH, Kamailio) with its message."""
    m = _AST_STAMP.match(text) or _FS_STAMP.match(text)
    if m:
        return _body(m.groupdict(), text[m.end():], None)
    m = _SYSLOG_ISO.match(text) or _SYSLOG_BSD.match(text)
    if m:
        rest = text[m.end():]
        inner = _AST_STAMP.match(rest) or _FS_STAMP.match(rest)  # the program's own stamp: fail2ban's
        if inner:                                                # ground truth takes the syslog one
            rest = rest[inner.end():]
        return _body(m.groupdict(), rest, m["prog"].rpartition("/")[2])
    return _body(None, text, None)


def _body(stamp: dict | None, text: str, prog: str | None) -> _Line:
    m = _AST_HEAD.match(text)
    if m:
        rest = text[m.end():]
        s = _AST_SRC.match(rest)
        if s:
            return _Line(stamp, "asterisk-log", m["level"], s["src"].rpartition("/")[2], rest[s.end():])
        e = _AST_EXT.match(rest)
        if e:
            return _Line(stamp, "asterisk-log", m["level"], None, rest[e.end():], e["ctx"])
        return _Line(stamp, "asterisk-log", m["level"], "", rest)
    m = _FS_HEAD.match(text)
    if m:
        return _Line(stamp, "freeswitch-log", m["level"], m["src"], text[m.end():])
    m = _KAM_HEAD.match(text)
    if m and (m["file"] or m["src"] in ("<script>", "<core>")):
        return _Line(stamp, "kamailio-log", m["level"], m["src"], text[m.end():])
    return _Line(stamp, _PROGRAMS.get((prog or "").lower()), msg=text)


# ------------------------------------------------------------------------------------------ time

def _stamp_time(g: dict, state: LogState) -> datetime:
    """A stamp's time: its own offset if it has one, else local in the file's zone; its year, else inferred."""
    month = _MONTHS[g["b"]] if g.get("b") else int(g["m"])
    day = int(g.get("e") or g["d"])
    clock = (int(g["H"]), int(g["M"]), int(g["S"]), int((g["f"] or "0")[:6].ljust(6, "0")))
    year = int(g["Y"]) if g.get("Y") else _infer_year(state, month, day, clock)
    if not 1971 <= year <= 2199:
        raise ValueError(f"year {year}")
    naive = datetime(year, month, day, *clock)
    if g.get("zone"):
        return naive.replace(tzinfo=_offset(g["zone"]))
    when = local_time(naive, state.tz)
    if state.last is not None and when < state.last:  # the repeated hour of an autumn clock change:
        later = local_time(naive, state.tz, fold=1)   # the second pass keeps the file in order
        if later >= state.last:
            when = later
    return when


def _infer_year(state: LogState, month: int, day: int, clock: tuple) -> int:
    if state.last is not None:
        prev = state.last.astimezone(state.tz)
        year = prev.year + (month < prev.month - 6) - (month > prev.month + 6)
    else:
        year = state.year or datetime.now(state.tz).year
    try:
        if local_time(datetime(year, month, day, *clock), state.tz) > datetime.now(_UTC) + timedelta(days=1):
            year -= 1  # a stamp in the future: last year's
    except ValueError:  # 29 February of a year that has none: leave it to the caller's datetime()
        pass
    return year


def _offset(zone: str) -> timezone:
    if zone == "Z":
        return _UTC
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _event_tv(text: str, tz: ZoneInfo) -> datetime | None:
    """res_security_log's EventTV: ``1368439853-500975`` (epoch seconds-microseconds) or ISO 8601."""
    secs, dash, micros = text.partition("-")
    if dash and _EPOCH_TV.fullmatch(text):
        when = datetime.fromtimestamp(int(secs), tz) + timedelta(microseconds=int(micros))
    else:
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            return None
        when = when if when.tzinfo else local_time(when, tz)
    if when.utcoffset() % timedelta(minutes=1) or not _TV_MIN <= when < _TV_MAX:
        return None  # not a time Asterisk writes: the line's own stamp serves
    return when


_EPOCH_TV = re.compile(r"\d{9,11}-\d{1,6}", re.A)
_TV_MIN, _TV_MAX = datetime(1971, 1, 2, tzinfo=_UTC), datetime(2199, 12, 31, tzinfo=_UTC)


# -------------------------------------------------------------------------------------- helpers

def _addr(text: str) -> tuple[str, int | None]:
    """``1.2.3.4``, ``1.2.3.4:5060``, ``[2001:db8::1]:5060``, ``[1.2.3.4]:5060`` or ``2001:db8::1``: (ip, port)."""
    text = text.strip()
    if len(text) > 72:
        raise AdapterError(f"not an address: {text[:64]!r}…")
    _no_scope(text)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise AdapterError(f"not an address: {text!r}")
        return _ip(host), _port(rest[1:]) if rest else None
    try:
        return canonical_ip(text), None
    except ValueError:
        host, colon, port = text.rpartition(":")
        if not colon:
            raise AdapterError(f"not an address: {text!r}") from None
        return _ip(host), _port(port)


def _addr_port(text: str) -> tuple[str, int | None]:
    """``$si:$sp`` as Kamailio prints it: the port is always there, and IPv6 has no brackets."""
    text = text.strip()
    if text.startswith("["):
        return _addr(text)
    host, colon, port = text.rpartition(":")
    return (_ip(host), _port(port)) if colon else _addr(text)


def _host_port(text: str) -> tuple[str, int]:
    """An address as Asterisk prints a socket (``1.2.3.4:5060``, ``[2001:db8::1]:5060``; res_pjsip's
    older ``%s:%d`` gives ``2001:db8::1:5060``): the port is always there."""
    ip, port = _addr_port(text)
    if port is None:
        raise AdapterError(f"not an address with a port: {text[:64]!r}")
    return ip, port


def _no_scope(text: str) -> None:
    """``fe80::1%eth0`` names an interface of the host that wrote it: no address to count or block
    here, and ``%anything`` would give one source as many spellings as the sender likes."""
    if "%" in text:
        raise AdapterError(f"an IPv6 scope id (%…) in {text[:64]!r}: refused, an interface name is not an address")


def _ip(text: str) -> str:
    if len(text) > 64:  # no address is longer (and canonical_ip caches what it is given)
        raise AdapterError(f"not an IP address: {text[:64]!r}…")
    _no_scope(text)
    try:
        return canonical_ip(text)
    except ValueError:
        raise AdapterError(f"not an IP address: {text[:64]!r}") from None


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and int(text) <= 65535):
        raise AdapterError(f"not a port: {text[:16]!r}")
    return int(text)


# An address where it comes first: IPv4, IPv6, bracketed, with a port, or with a scope id (so that
# one is refused by name rather than the line skipped); _addr reads it.
_HOST = r"[\w.:\[\]%-]{2,80}"
_URI = re.compile(r"<sips?:", re.I)
_BARE_URI = re.compile(r"sips?:", re.I)


def _uri_user(text: str) -> str | None:
    """The user part of the SIP URI in a From/To value (``"1000" <sip:1000@pbx>`` -> ``1000``)."""
    found = None
    for found in _URI.finditer(text):  # the last <sip: is the URI itself (a display name comes first)
        pass
    found = found or _BARE_URI.search(text)
    if not found:
        return None
    at = text.find("@", found.end())
    user = text[found.end():at].partition(";")[0] if at >= 0 else ""
    return user if user and ">" not in user else None  # sip:host> has no user part


def _action(method: str | None) -> str:
    """A SIP method as the contract's action: REGISTER and unknown are registrations."""
    m = (method or "REGISTER").upper()
    return {"REGISTER": "register", "INVITE": "invite"}.get(m, m.lower())


def _cut(value):
    return value[:MAX_TEXT] if isinstance(value, str) else value


# ------------------------------------------------------------------------------------- Asterisk

_AST_LEVELS = frozenset({"NOTICE", "WARNING", "ERROR", "SECURITY"})


class _Unended(Exception):
    """A line that begins a message whose end the PBX writes, without that end: a newline in the
    sender's text (chan_sip and res_pjsip_session %-decode the dialled number, IAX2 and AMI names are
    raw bytes) ended the physical line early, and what follows up to the real end is the sender's
    text, shaped like log lines. ``event`` is what the line says when its address comes before any
    sender text (so it is still the PBX's); else the line is refused too."""

    def __init__(self, what: str, tail: str, event: dict | None = None):
        super().__init__(what)
        self.what, self.tail, self.event = what, tail, event


# The ends the PBX writes after the sender's last text, by message: a cut message goes on to the
# first line that ends so (matched against a line's last characters).
_TAILS = {
    "not_found": re.compile(r"' rejected because extension not found in context '[^']{0,256}'\.?\Z"),
    "pjsip_request": re.compile(r"\) - [A-Za-z][^'()]{0,160}\Z"),
    "iax2_peer": re.compile(r"' \(from [^\s()']{1,64}\)\Z"),
    "quote": re.compile(r"'\Z"),
    "paren": re.compile(r"\)\Z"),
    "verto_login": re.compile(r" domain: .{1,256}\Z"),  # mod_verto's "Login incorrect for user: ID domain: D"
}


def _asterisk(p: _Line) -> dict | None:
    if p.level not in _AST_LEVELS:
        return None
    if p.src is None:  # a dialplan line (Ext. s: …): FreePBX's from-sip-external
        return _unknown_connection(p.msg, p.context)
    handler = _AST_MODULES.get(p.src)
    return handler(p.msg) if handler else None


def _chan_sip(msg: str) -> dict | None:
    if msg.startswith("Registration from '"):
        return _sip_registration(msg)
    if msg.startswith("Call from '"):
        return _sip_call(msg)
    if msg.startswith("hacking attempt detected '"):
        ip, port = _addr(msg[len("hacking attempt detected '"):].rstrip().rstrip("'"))
        return {"service": "sip", "src_ip": ip, "port": port, "outcome": "failure", "reason": "hacking attempt detected"}
    if msg.startswith("Failed to authenticate device "):
        raise AdapterError("no source address in chan_sip's 'Failed to authenticate device' line")
    return None


_SIP_REG_END = re.compile(r"(?P<hp>[^'\s]{1,64})' - (?P<reason>[^']{1,256})")


def _sip_registration(msg: str) -> dict:
    """``Registration from 'FROM' failed for 'IP[:port]' - REASON``: only FROM is the sender's, and
    REASON is the PBX's own words (no quote), so the address follows the last separator."""
    head, sep, tail = msg.rpartition("' failed for '")
    end = _SIP_REG_END.fullmatch(tail) if sep else None
    if end is None:
        raise AdapterError("no source address in chan_sip's registration failure")
    ip, port = _addr(end["hp"])
    return {"service": "sip", "src_ip": ip, "port": port, "outcome": "failure", "action": "register",
            "account": _uri_user(head[len("Registration from '"):]), "reason": end["reason"].strip()}


_NOT_FOUND = "' rejected because extension not found in context '"
_CONTEXT = re.compile(r"(?P<ctx>[^']{0,256})'\.?")
_SIP_CALL_SEP = re.compile(r"' \((?P<hp>[^()\s']{1,64})\) to extension '")
_PJ_CALL = re.compile(r"(?:Call from '(?P<endpoint>[^']{0,128})'|(?P<name>[^\s:']{1,128}): Call) "
                      r"\((?P<proto>[A-Za-z]{2,5})6?:(?P<hp>[^()\s']{1,64})\) to extension '")  # UDP6: pjsip's IPv6 UDP


def _not_found(msg: str) -> tuple[str, str] | None:
    """An 'extension not found' message as (everything before its end, the context): its end
    (``' rejected because … context 'CTX'.``) is the PBX's, CTX a dialplan name without a quote."""
    head, sep, tail = msg.rpartition(_NOT_FOUND)
    m = _CONTEXT.fullmatch(tail) if sep else None
    return (head, m["ctx"]) if m else None


def _sip_call(msg: str) -> dict:
    """chan_sip's ``Call from 'CALLER' (IP:port) to extension 'EXTEN' rejected because extension not
    found in context 'CTX'.``: CALLER and EXTEN are both the sender's, so a copy of the separator in
    either is a second reading of the line."""
    what = "chan_sip's 'extension not found' line"
    found = _not_found(msg)
    if found is None:
        raise _Unended(what, "not_found")
    head, ctx = found
    m, (ip, port) = _one_reading(_SIP_CALL_SEP, head, len("Call from '"), what)
    return {"service": "sip", "src_ip": ip, "outcome": "failure", "action": "invite",
            "account": head[len("Call from '"):m.start()], "port": port, "reason": "extension not found",
            "dialled": head[m.end():], "context": ctx}


def _pjsip_session(msg: str) -> dict | None:
    """res_pjsip_session's ``Call from 'ENDPOINT' (UDP:IP:port) to extension 'EXTEN' rejected …``
    (newer: ``NAME: Call (UDP:IP:port) …``): ENDPOINT and NAME are the configuration's, so the address
    is at a fixed place from the start and only EXTEN, after it, is the sender's."""
    m = _PJ_CALL.match(msg)
    found = _not_found(msg)
    if m is None:
        if found is not None or msg.startswith("Call from '"):
            raise AdapterError("no source address in res_pjsip_session's 'extension not found' line")
        return None
    ip, port = _host_port(m["hp"])
    event = {"service": "sip", "src_ip": ip, "outcome": "failure", "action": "invite",
             "account": m["endpoint"] if m["endpoint"] is not None else m["name"],
             "protocol": _PROTOCOLS.get(m["proto"].upper()), "port": port, "reason": "extension not found"}
    if found is None:
        raise _Unended("res_pjsip_session's 'extension not found' line", "not_found", event)
    head, ctx = found
    return {**event, "dialled": head[m.end():], "context": ctx}


def _one_reading(pattern: re.Pattern, text: str, start: int, what: str) -> tuple[re.Match, tuple[str, int]]:
    """The separator that carries the address, when the text on both sides of it is the sender's.
    Every place the separator could start is tried (overlapping: a copy ending in the real one's
    opening quote must not hide it) and each that holds an address is one reading of the line; two
    readings that name different addresses are refused, never chosen between."""
    first, tried, error, pos = None, set(), None, start
    while (m := pattern.search(text, pos)) is not None:
        pos = m.start() + 1
        if m["hp"] in tried:
            continue
        tried.add(m["hp"])
        try:
            address = _host_port(m["hp"])
        except AdapterError as exc:  # no address there: not a reading (the PBX always writes one)
            error = error or exc
            continue
        if first is None:
            first = (m, address)
        elif address != first[1]:
            raise AdapterError(f"ambiguous source address in {what}: the sender's text holds a second separator, "
                               f"so it may come from {_show(first[1])} or {_show(address)}; refused, not guessed")
    if first is None:
        raise error or AdapterError(f"no source address in {what}")
    return first


def _show(address: tuple[str, int | None]) -> str:
    ip, port = address
    return (f"[{ip}]" if ":" in ip else ip) + (f":{port}" if port is not None else "")


_PJ_REQUEST = re.compile(r"Request(?: '(?P<method>[A-Za-z]{1,32})')? from '")
_PJ_SEP = re.compile(r"' failed for '(?P<hp>[^'\s]{1,64})' \(callid: ")
_PJ_END = re.compile(r"\) - (?P<reason>[A-Za-z][^'()]{0,160}?)(?: after \d{1,9} tries in [\d.]{1,16} ms)?")


def _pjsip_request(msg: str) -> dict | None:
    """``Request 'INVITE' from 'FROM' failed for 'IP:port' (callid: CALLID) - REASON``: FROM and
    CALLID are both the sender's; REASON is the PBX's."""
    m = _PJ_REQUEST.match(msg)
    if not m:
        return None
    head, sep, tail = msg.rpartition(") - ")
    end = _PJ_END.fullmatch(sep + tail) if sep else None
    if end is None:
        raise _Unended("res_pjsip's request failure", "pjsip_request")
    where, (ip, port) = _one_reading(_PJ_SEP, head, m.end(), "res_pjsip's request failure")
    return {"service": "sip", "src_ip": ip, "port": port, "outcome": "failure", "action": _action(m["method"]),
            "account": _uri_user(msg[m.end():where.start()]), "reason": end["reason"]}


_IAX_HOST = re.compile(r"Host (?P<hp>[^\s']{1,64}) failed (?:to authenticate as|(?P<how>\w{1,16}) authentication for) '")
_IAX_PEER = "No registration for peer '"
_IAX_FROM = re.compile(r"' \(from (?P<hp>[^\s()']{1,64})\)")


def _iax2(msg: str) -> dict | None:
    """``Host IP failed to authenticate as 'NAME'`` (the address first, at a fixed place) and
    ``No registration for peer 'NAME' (from IP)`` (the address last): NAME is the sender's."""
    m = _IAX_HOST.match(msg)
    if m:
        return _iax_host(msg, m)
    if msg.startswith(_IAX_PEER):
        account, sep, tail = msg[len(_IAX_PEER):].rpartition("' (from ")
        end = _IAX_FROM.fullmatch("' (from " + tail) if sep else None
        if end is None:
            raise _Unended("chan_iax2's 'No registration for peer' line", "iax2_peer")
        return _iax_event(end["hp"], account, "no such peer")
    return None


def _iax_host(msg: str, m: re.Match) -> dict:
    """The MD5 form ends ``'PEER' (EXPECTED != SENT)``, SENT the sender's; the other ends with the name's quote."""
    rest = msg[m.end():]
    if m["how"]:
        ended = rest.endswith(")")
        event = _iax_event(m["hp"], rest.partition("' (")[0], f"failed {m['how']} authentication")
    else:
        ended = rest.endswith("'")
        event = _iax_event(m["hp"], rest[:-1] if ended else None, "failed to authenticate")
    if not ended:
        raise _Unended("chan_iax2's authentication failure", "paren" if m["how"] else "quote", event)
    return event


def _iax_event(where: str, account: str | None, reason: str) -> dict:
    ip, port = _addr(where)
    return {"service": "iax2", "src_ip": ip, "port": port, "outcome": "failure", "action": "register",
            "account": account, "reason": reason}


_AMI = re.compile(rf"(?P<hp>{_HOST}) (?P<what>failed to authenticate as|tried to authenticate "
                  r"with nonexistent user|failed to pass IP ACL as) '")


def _ami(msg: str) -> dict | None:
    """``IP failed to authenticate as 'NAME'``: the address first, NAME (the sender's) last."""
    m = _AMI.match(msg)
    if not m:
        return None
    ip, port = _addr(m["hp"])
    reason = {"failed to authenticate as": "wrong password", "failed to pass IP ACL as": "failed IP ACL"}.get(
        m["what"], "nonexistent user")
    rest = msg[m.end():]
    event = {"service": "ami", "src_ip": ip, "port": port, "outcome": "failure", "action": "login",
             "account": rest[:-1] if rest.endswith("'") else None, "reason": reason}
    if not rest.endswith("'"):
        raise _Unended("manager.c's authentication failure", "quote", event)
    return event


_UNKNOWN = re.compile(r'(?P<q>"?)Rejecting unknown SIP connection from (?P<hp>[^\s"]{1,72})(?P=q)')


def _unknown_connection(msg: str, context: str | None) -> dict | None:
    """FreePBX's ``Log(WARNING,"Rejecting unknown SIP connection from ${CHANNEL(recvip)}")``: the
    whole message, the address at its end. Another dialplan line that merely quotes those words
    (a caller ID, a Log() of a header) is not this one."""
    m = _UNKNOWN.fullmatch(msg.rstrip())
    if not m:
        return None
    ip, port = _addr(m["hp"])
    return {"service": "sip", "src_ip": ip, "port": port, "outcome": "failure",
            "reason": "unknown SIP connection", "context": context}


# ------------------------------------------------------------------------ Asterisk res_security_log

_SEC_REMOTE = re.compile(r'(?<!\\)",RemoteAddress="(?P<fam>IPV[46])/(?P<proto>[A-Za-z]{2,5})/'
                         r'(?P<ip>[0-9A-Fa-f.:]{2,45}(?:%[^/"\s]{1,32})?)/(?P<port>\d{1,5})"')
_SEC_HEAD = re.compile(r'(?P<k>[A-Za-z]{1,32})="(?P<v>[^"]{0,128})"(?:,|$)')
_SEC_TAIL = re.compile(r',(?P<k>[A-Za-z]{1,32})="(?P<v>[^"\\]{0,4096}(?:\\.[^"\\]{0,4096}){0,64})"')
_SEC_OUTCOME = {"SuccessfulAuth": "success", "ChallengeSent": "request", **{n: "failure" for n in (
    "FailedACL", "InvalidAccountID", "SessionLimit", "MemoryLimit", "LoadAverageLimit", "RequestNotSupported",
    "RequestNotAllowed", "AuthMethodNotAllowed", "RequestBadFormat", "UnexpectedAddress",
    "ChallengeResponseFailed", "InvalidPassword", "InvalidTransport")}}
_SEC_SERVICES = {"SIP": "sip", "PJSIP": "sip", "AMI": "ami", "IAX2": "iax2"}


def _security_log(msg: str) -> dict | None:
    """res_security_log's ``Key="value"`` list. AccountID and SessionID (a PJSIP Call-ID) are the
    sender's and come before the addresses; a SessionID may carry a whole forged
    ``",LocalAddress="…",RemoteAddress="…"``. The fields after the real RemoteAddress that the
    sender supplies (digest response, hashes) come from SIP quoted strings, where a quote is always
    escaped, so the last RemoteAddress after an unescaped quote is the PBX's."""
    if not msg.startswith('SecurityEvent="'):
        return None
    remote = None
    for remote in _SEC_REMOTE.finditer(msg):
        pass
    if remote is None:
        raise AdapterError("no source address (RemoteAddress) in res_security_log line")
    head, pos = _sec_head(msg, remote.start())
    outcome = _SEC_OUTCOME.get(head.get("SecurityEvent", ""))
    if outcome is None:
        return None  # an event name this adapter does not know: skipped, not guessed
    tail = _sec_tail(msg, remote.end())
    return _sec_event(head, tail, remote, outcome, _sec_account(msg, pos, remote.start()))


def _sec_head(msg: str, end: int) -> tuple[dict, int]:
    """The PBX's own fields from the start up to AccountID/SessionID: SecurityEvent, EventTV, Service, …"""
    head, pos = {}, 0
    while pos < end and not msg.startswith(("AccountID=", "SessionID="), pos):
        m = _SEC_HEAD.match(msg, pos, end)
        if not m:
            break
        head[m["k"]] = m["v"]
        pos = m.end()
    return head, pos


def _sec_account(msg: str, pos: int, end: int) -> str | None:
    if not msg.startswith('AccountID="', pos):
        return None
    start = pos + len('AccountID="')
    stop = msg.find('",SessionID="', start, end)
    account = msg[start:stop if stop >= 0 else end]
    return None if account in ("", "<unknown>") else account


def _sec_tail(msg: str, pos: int) -> dict:
    """The fields after RemoteAddress (RequestType, ACLName, Challenge, …), read while they are well formed."""
    tail = {}
    while pos < len(msg) and len(tail) < 32:
        m = _SEC_TAIL.match(msg, pos)
        if not m:
            break
        tail.setdefault(m["k"], m["v"])
        pos = m.end()
    return tail


def _sec_event(head: dict, tail: dict, remote: re.Match, outcome: str, account: str | None) -> dict:
    name = head["SecurityEvent"]
    raw_service = head.get("Service", "")
    service = _SEC_SERVICES.get(raw_service.upper(), raw_service.lower() or "unknown")
    if service == "ami":
        action = "login"
    elif name == "SuccessfulAuth":
        action = "auth"
    elif service in ("sip", "iax2"):
        action = _action(tail.get("RequestType") if service == "sip" else None)
    else:
        action = None
    ev = {"service": service, "src_ip": _ip(remote["ip"]), "outcome": outcome, "action": action,
          "account": account, "protocol": _PROTOCOLS.get(remote["proto"].upper()), "port": _port(remote["port"]),
          "reason": name}
    if head.get("EventTV"):
        ev["ts"] = head["EventTV"]  # read in parse_line, which knows the file's zone
    return ev


_AST_MODULES = {"chan_sip.c": _chan_sip, "pjsip_distributor.c": _pjsip_request, "res_pjsip_session.c": _pjsip_session,
                "chan_iax2.c": _iax2, "manager.c": _ami, "res_security_log.c": _security_log}


# ----------------------------------------------------------------------------------- FreeSWITCH

_FS_AUTH = re.compile(r"SIP auth (?P<what>failure|challenge) \((?P<method>[A-Z]{1,16})\) on sofia profile "
                      r"'(?P<profile>[^']{0,128})' for \[")
_FS_ACL = re.compile(rf'IP (?P<hp>{_HOST}) Rejected by (?P<reg>register )?acl "(?P<acl>[^"]{{0,128}})"'
                     r'(?P<fallback>\. Falling back to Digest auth\.)? *$')


_FS_USER_ACL = re.compile(rf"IP (?P<hp>{_HOST}) Rejected by user acl \[(?P<acl>[^\]]{{0,256}})\] "
                          r"(?P<then>and no proxy acl present|checking proxy ACLs now) *")
_FS_ACL_ONLY = re.compile(rf"IP/Port (?P<hp>{_HOST}) (?P<port>\d{{1,5}}) Rejected by acls and auth-calls-acl-only flag "
                          r"is set, rejecting call *")
_FS_INCOMPLETE = re.compile(rf"Can not do authorization without a complete header in REGISTER request from "
                            rf"(?P<hp>{_HOST}) *")
_VERTO_ACL = re.compile(rf"(?P<name>{_HOST}) Client Connect from (?P<hp>{_HOST}) refused by ACL (?P<acl>\S{{1,128}}) *")
_VERTO_LOGIN = "Login incorrect for user: "


def _freeswitch(p: _Line) -> dict | None:
    msg = p.msg
    if p.src == "mod_event_socket.c":
        return _fs_acl(msg, "esl")
    if p.src == "mod_verto.c":
        return _verto(msg)
    if p.src not in ("sofia_reg.c", "sofia.c"):
        return None
    if msg.startswith("SIP auth "):
        return _fs_auth(msg)
    if msg.startswith("Can't find user ["):
        return _fs_no_user(msg)
    if msg.startswith("IP/Port "):
        return _fs_acl_only(msg)
    if msg.startswith("IP "):
        return _fs_user_acl(msg) if " Rejected by user acl " in msg else _fs_acl(msg, "sip")
    if msg.startswith("Can not do authorization without "):
        return _fs_incomplete(msg)
    return None


def _fs_auth(msg: str) -> dict | None:
    """``SIP auth failure (INVITE) on sofia profile 'P' for [USER@HOST] from ip IP``. FreeSWITCH logs
    the To user: for REGISTER the account, for INVITE the number called (so ``dialled``, not ``account``)."""
    m = _FS_AUTH.match(msg)
    if not m:
        return None
    target, sep, where = msg[m.end():].rpartition("] from ip ")
    if not sep:
        raise AdapterError("no source address in FreeSWITCH's 'SIP auth' line")
    ip, port = _addr(where)
    user = target.rpartition("@")[0] or None
    invite = m["method"] == "INVITE"
    return {"service": "sip", "src_ip": ip, "port": port,
            "outcome": "failure" if m["what"] == "failure" else "request",  # a challenge is normal SIP
            "action": _action(m["method"]), "account": None if invite else user, "dialled": user if invite else None,
            "reason": f"auth {m['what']}", "context": m["profile"]}


def _fs_no_user(msg: str) -> dict:
    """``Can't find user [USER@DOMAIN] from IP``: the user of the Authorization header, not in the directory."""
    target, sep, where = msg[len("Can't find user ["):].rpartition("] from ")
    if not sep:
        raise AdapterError("no source address in FreeSWITCH's 'Can't find user' line")
    ip, port = _addr(where)
    return {"service": "sip", "src_ip": ip, "port": port, "outcome": "failure", "action": "register",
            "account": target.rpartition("@")[0] or None, "reason": "user not found"}


def _fs_acl(msg: str, service: str) -> dict | None:
    """``IP X Rejected by [register ]acl "NAME"`` is a refusal (403). With ``. Falling back to Digest
    auth.`` it is not: the request goes on to digest authentication, whose challenge and result are
    logged as lines of their own, so an event here would count one attempt twice (and it has no
    account or method to add). fail2ban's ground truth agrees (match: false)."""
    m = _FS_ACL.match(msg)
    if not m or m["fallback"]:
        return None
    ip, port = _addr(m["hp"])
    action = "login" if service == "esl" else ("register" if m["reg"] else "invite")
    return {"service": service, "src_ip": ip, "port": port, "outcome": "failure", "action": action,
            "reason": f"rejected by {'register ' if m['reg'] else ''}acl {m['acl']}"}


def _fs_user_acl(msg: str) -> dict | None:
    """sofia_reg.c's check of the directory user's ``auth-acl`` (REGISTER and INVITE). With no proxy
    ACL: ``IP X Rejected by user acl [ACL] and no proxy acl present``, X the request's source. Behind
    a proxy: ``IP X Rejected by user acl ACL``, X the X-AUTH-IP header the proxy passed on (or the
    sender's own, through a proxy that keeps it): not where the request came from, so refused. The
    debug line ``… [ACL] checking proxy ACLs now`` is no refusal yet. Only the source's forms have
    brackets, and a header cannot make the line end as they do (the ACL name ends it)."""
    m = _FS_USER_ACL.fullmatch(msg)
    if m is None:
        raise AdapterError("FreeSWITCH's 'Rejected by user acl' behind a proxy names the X-AUTH-IP header, "
                           "not the request's source: refused")
    if m["then"] != "and no proxy acl present":
        return None
    ip, port = _addr(m["hp"])
    return {"service": "sip", "src_ip": ip, "port": port, "outcome": "failure",
            "reason": f"rejected by user acl {m['acl']}"}


def _fs_acl_only(msg: str) -> dict | None:
    """sofia.c: ``IP/Port IP PORT Rejected by acls and auth-calls-acl-only flag is set, rejecting call`` (403)."""
    m = _FS_ACL_ONLY.fullmatch(msg)
    if m is None:
        return None
    return {"service": "sip", "src_ip": _ip(m["hp"]), "port": _port(m["port"]), "outcome": "failure",
            "action": "invite", "reason": "rejected by acls (auth-calls-acl-only)"}


def _fs_incomplete(msg: str) -> dict | None:
    """sofia_reg.c: ``Can not do authorization without a complete header in REGISTER request from
    IP:PORT`` (no To/From user; IPv6 without brackets). Refused on the first packet."""
    m = _FS_INCOMPLETE.fullmatch(msg)
    if m is None:
        return None
    ip, port = _host_port(m["hp"])
    return {"service": "sip", "src_ip": ip, "port": port, "outcome": "failure", "action": "register",
            "reason": "malformed REGISTER (incomplete To/From header)"}


def _verto(msg: str) -> dict | None:
    """mod_verto (the websocket listener). ``NAME Client Connect from HOST:PORT refused by ACL ACL``:
    NAME and HOST:PORT are both the accept()ed peer (NAME brackets IPv6) and ACL is configuration,
    so the line holds no sender text; a TCP peer proves its address. ``Login incorrect for user: ID
    domain: DOMAIN`` (an unknown user; a wrong password logs nothing) names no address, and ID is
    the sender's login string, JSON, so a newline in it cuts the line (see ``_Unended``)."""
    if msg.startswith(_VERTO_LOGIN):
        if not _TAILS["verto_login"].search(msg[-400:]):
            raise _Unended("mod_verto's 'Login incorrect' line", "verto_login")
        raise AdapterError("no source address in mod_verto's 'Login incorrect' line (FreeSWITCH does not log "
                           "where a verto login came from)")
    m = _VERTO_ACL.fullmatch(msg)
    if m is None:
        return None
    ip, port = _host_port(m["name"])
    if _host_port(m["hp"]) != (ip, port):
        raise AdapterError("mod_verto's connection refusal names two different peers: not FreeSWITCH's line")
    return {"service": "verto", "src_ip": ip, "port": port, "outcome": "failure", "action": "login",
            "reason": f"connection refused by acl {m['acl']}", "round_trip": True}


# ------------------------------------------------------------------------------------- Kamailio

_KAM_PIKE_ALERT = re.compile(r"(?:ALERT: )?pike blocking (?P<method>[A-Za-z]{1,32}) from ")
_KAM_SECF = re.compile(rf"(?P<method>[A-Za-z]{{1,32}}) (?:from|to) (?P<hp>{_HOST}) blocked because ")


def _kamailio(p: _Line) -> dict | None:
    msg = p.msg
    if p.src == "pike" and msg.startswith("PIKE - BLOCKing ip "):
        ip, _ = _addr(msg[len("PIKE - BLOCKing ip "):].partition(",")[0])
        return {"service": "sip", "src_ip": ip, "outcome": "failure", "reason": "pike flood block"}
    if p.src != "<script>":
        return None
    if msg.startswith(_KAM_TG_MARK):
        return _kam_tollguard(msg)
    if msg.startswith("Malformed SIP message from "):
        ip, port = _addr_port(msg[len("Malformed SIP message from "):].partition(" ")[0])
        return {"service": "sip", "src_ip": ip, "port": port, "outcome": "failure", "reason": "malformed SIP message"}
    m = _KAM_PIKE_ALERT.match(msg)
    if m:
        return _kam_pike_alert(msg, m["method"])
    m = _KAM_SECF.match(msg)
    return _kam_secfilter(msg, m) if m else None


def _kam_pike_alert(msg: str, method: str) -> dict:
    """The default kamailio.cfg's ``ALERT: pike blocking $rm from $fu (IP:$si:$sp)``: $fu is the
    sender's (and says nothing about that account, so it is not kept); the address ends the line."""
    _, sep, where = msg.rstrip().rpartition(" (IP:")
    if not sep or not where.endswith(")"):
        raise AdapterError("no source address in Kamailio's pike alert")
    ip, port = _addr_port(where[:-1])
    return {"service": "sip", "src_ip": ip, "port": port, "outcome": "failure", "action": _action(method),
            "reason": "pike flood block"}


def _kam_secfilter(msg: str, m: re.Match) -> dict:
    """The secfilter README's ``$rm from $si blocked because …`` lines (method and address come first)."""
    ip, port = _addr(m["hp"])
    why = msg[m.end():].rstrip()
    dialled = None
    if why.startswith("destination ") and why.endswith(" is blacklisted"):
        dialled = why[len("destination "):-len(" is blacklisted")]
        why = "destination is blacklisted"
    return {"service": "sip", "src_ip": ip, "port": port, "outcome": "failure", "action": _action(m["method"]),
            "reason": f"blocked: {why}", "dialled": dialled}


# docs/kamailio/tollguard-security-log.cfg's line: what Kamailio writes (event, reason, $si, $sp, $pr,
# $TV) at fixed places first, then the sender's method, user and User-Agent, percent-encoded by
# {s.urlencode.param} (letters, digits, - . _ ~ and %XX only: no space, "=" or line break). The whole
# line must have this shape, so the sender's text can never be read as a field (docs/kamailio/README.md).
_KAM_TG_MARK = "tollguard-sec/"
_KAM_ENC = r"[A-Za-z0-9._~%-]{0,768}"  # 256 bytes cut by the cfg, each at most 3 characters encoded
_KAM_TG = re.compile(r"tollguard-sec/1 event=(?P<event>[a-z-]{1,16}) reason=(?P<reason>[a-z-]{1,32}) "
                     r"src=(?P<ip>[0-9A-Fa-f.:]{2,45}) port=(?P<port>\d{1,5}) proto=(?P<proto>[a-z]{2,5}) "
                     r"time=(?P<sec>\d{9,11}) usec=(?P<usec>\d{1,6}) "
                     rf"method=(?P<method>{_KAM_ENC}) user=(?P<user>{_KAM_ENC}) ua=(?P<ua>{_KAM_ENC})")
# (event, reason) -> (outcome, reason in the event). An auth failure answered a challenge whose nonce
# the cfg binds to $si (auth_checks 8), so it proves its source; pike and the ACL judge the first packet.
_KAM_TG_EVENTS = {
    ("auth-failed", "wrong-password"): ("failure", "wrong password"),
    ("auth-failed", "unknown-user"): ("failure", "unknown user"),
    ("auth-failed", "user-mismatch"): ("failure", "authenticated as another user than the To or From user"),
    ("auth-ok", "ok"): ("success", None),
    ("pike", "flood"): ("failure", "pike flood block"),
    ("acl", "denied-source"): ("failure", "refused by ACL"),
}
_KAM_PROTOCOLS = {"udp": "udp", "tcp": "tcp", "tls": "tls", "ws": "ws", "wss": "wss", "sctp": None}


def _kam_tollguard(msg: str) -> dict:
    m = _KAM_TG.fullmatch(msg.rstrip())
    if m is None:
        raise AdapterError("not a tollguard-sec/1 line as docs/kamailio/tollguard-security-log.cfg writes it "
                           "(its fields in that order, the sender's percent-encoded): refused")
    kind = _KAM_TG_EVENTS.get((m["event"], m["reason"]))
    proto = m["proto"]
    if kind is None or proto not in _KAM_PROTOCOLS:
        raise AdapterError(f"tollguard-sec/1: unknown event {m['event']}/{m['reason']} or protocol {proto}: refused")
    return _kam_tg_event(m, *kind)


def _kam_tg_event(m: re.Match, outcome: str, reason: str | None) -> dict:
    try:
        ip, port = _ip(m["ip"]), _port(m["port"])
    except AdapterError as exc:
        raise AdapterError(f"tollguard-sec/1: {exc}") from None
    auth = m["event"].startswith("auth-")
    return {"ts": f"{m['sec']}-{m['usec']}", "service": "sip", "src_ip": ip, "port": port, "outcome": outcome,
            "protocol": _KAM_PROTOCOLS[m["proto"]], "action": _action(_kam_text(m["method"]) or None),
            "account": _kam_text(m["user"]) if auth else None, "user_agent": _kam_text(m["ua"]),
            "reason": reason, "round_trip": auth or m["proto"] != "udp"}


def _kam_text(encoded: str) -> str:
    return unquote(encoded, errors="replace")


# ------------------------------------------------------------------------------------------ API

_PARSERS = {"asterisk-log": _asterisk, "freeswitch-log": _freeswitch, "kamailio-log": _kamailio}
_ORDER = ("type", "tenant", "ts", "service", "src_ip", "outcome", "action", "account", "protocol", "port",
          "reason", "dialled", "context", "user_agent", "round_trip")


def parse_line(fmt: str, line: str, state: LogState) -> dict | None:
    """One physical log line (no newline) -> a security event dict, or None when the line is not a
    security event (skipped and counted by the caller, not rejected). Raise AdapterError(reason) only
    for a line that clearly IS a security line of this format but cannot be read (e.g. no address,
    or two readings), and for every line that may be the rest of a cut message (``_Unended``)."""
    parser = _PARSERS.get(fmt)
    if parser is None:
        raise ValueError(f"unknown log format {fmt!r} (one of {', '.join(FORMATS)})")
    text = line.strip()
    if "\n" in text:
        raise AdapterError("a newline inside one line: two lines given as one, so neither is read")
    if state.cut_tail is not None and _continues(line, text, state):
        raise AdapterError(_CUT_FOLLOWS)
    if not text or text.startswith("#"):
        return None
    p = _split(text)
    when, bad = _line_time(p, state)
    if p.app != fmt:
        return None
    fields = _fields(parser, p, state)
    if fields is None:
        return None
    tv = fields.pop("ts", None)
    ts = (_event_tv(tv, state.tz) if tv else None) or when
    if ts is None:
        raise AdapterError(bad or "no time stamp on this line, and none earlier in the file")
    return _finish(fields, ts, state)


_CUT_FOLLOWS = ("cut: the rest of a message the sender's text broke with a newline (up to the end its PBX writes), "
               "so the sender's text, whatever it looks like: not read")


def _continues(line: str, text: str, state: LogState) -> bool:
    """Whether this line is still the cut message: it starts within the characters Asterisk's logger
    allows one message, and the end the PBX writes for it has not come yet (this line may be it)."""
    if state.cut_left <= 0:  # no message is that long: it ended unseen (truncated at BUFSIZ, or rotated)
        state.cut_tail = None
        return False
    state.cut_left -= len(line) + 1
    if _TAILS[state.cut_tail].search(text[-400:]):
        state.cut_tail, state.cut_left = None, 0
    return bool(text)


def _fields(parser, p: _Line, state: LogState) -> dict | None:
    """The parser's event; after a cut message, the lines up to its end are marked off."""
    try:
        return parser(p)
    except _Unended as cut:
        state.cut_tail, state.cut_left = cut.tail, max(0, MAX_MESSAGE - len(p.msg) - 1)
        if cut.event is None:
            raise AdapterError(f"cut: {cut.what} lacks the end the PBX writes (a newline in the sender's text?), so "
                               "neither it nor the lines up to that end are read") from None
        return cut.event


def _line_time(p: _Line, state: LogState) -> tuple[datetime | None, str | None]:
    """The line's time (also remembered for later lines without one), or the last one seen."""
    if p.stamp is None:
        return state.last, None
    try:
        when = _stamp_time(p.stamp, state)
    except ValueError:
        return None, "unreadable time stamp (no such date, or out of range)"
    state.last = when
    return when, None


def _finish(fields: dict, ts: datetime, state: LogState) -> dict:
    fields.update(type="security", tenant=state.tenant, ts=ts.isoformat())
    if fields.get("outcome") == "failure" and fields.get("round_trip") is None:  # unless the parser knows
        fields["round_trip"] = round_trip(fields.get("service"), fields.get("reason"))
    return {k: _cut(fields[k]) for k in _ORDER if fields.get(k) not in (None, "")}


def sniff_line(line: str) -> str | None:
    """Which of FORMATS this line unmistakably belongs to (a security line or a typical log line of
    that PBX), else None. Used on the first ~50 lines of a file to pick the format."""
    text = line.strip()
    if not text or (text[0] in "{[\"" and not _AST_STAMP.match(text)):
        return None
    return _split(text).app
