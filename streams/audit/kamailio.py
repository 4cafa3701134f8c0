"""Audit of Kamailio configuration: ``kamailio.cfg`` and what it includes (docs/audit.md lists the checks).

A Kamailio file is ``kamailio.cfg`` or a ``.cfg`` that starts with ``#!KAMAILIO`` (or ``#!SER``,
``#!OPENSER``, ``#!MAXCOMPAT``, ``#!ALL``). One that holds a ``request_route`` is judged as a whole
configuration: its preprocessor is run as Kamailio runs it (``#!define``, ``#!trydef``, ``#!redefine``,
``#!undef``, ``#!ifdef``/``#!ifndef``/``#!else``/``#!endif``, ``#!substdef``, ``include_file`` and
``import_file``, comments), then the routing blocks are read and followed from ``request_route`` through
``route(NAME)`` calls. A check asks what the running configuration does: the stock kamailio.cfg has
authentication and flood detection only when ``WITH_AUTH`` and ``WITH_ANTIFLOOD`` are defined, so the same
file passes or fails on one ``#!define`` line. Defines given on the command line (``-A``) are not seen.

Included files are read when they lie beside or under the files given (never elsewhere); an included
file is judged as part of the configuration that includes it, not on its own.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from streams.audit import Finding, read
from streams.audit.passwords import weakness

GUIDE = {
    "cred": "Endpoint Security: Use Complex Credentials for SIP Registration",
    "login": "Endpoint Security: Strong Password for Manual Login",
    "ip": "Endpoint Security: Restrict Extension Registration by IP Address",
    "remote": "Endpoint Security: Restrict Remote Registration",
    "auto": "Network Security: Restrict Access to PBX by Dynamic Firewall Rules (Auto Defense)",
    "ports": "System Security: Change default ports",
}
CHECKS = {
    "kamailio-no-auth": ("no authentication reached from request_route (WITH_AUTH not defined): anyone may "
                         "register and call", GUIDE["cred"]),
    "kamailio-no-antiflood": ("no flood detection (pike) reached from request_route (WITH_ANTIFLOOD not defined)",
                              GUIDE["auto"]),
    "kamailio-no-source-filter": ("no request is checked by source address or user agent (permissions, secfilter, "
                                  "ipops, geoip)", GUIDE["ip"]),
    "kamailio-default-db-password": ("the database URL has the password the stock kamailio.cfg and kamdbctl ship",
                                     GUIDE["login"]),
    "kamailio-weak-db-password": ("the database URL's password breaks the guide's rules", GUIDE["login"]),
    "kamailio-no-tls": ("a public listen= address and no TLS listener", GUIDE["remote"]),
    "kamailio-default-port": ("a public listen= on the well-known SIP port", GUIDE["ports"]),
}

MAGIC = re.compile(r"^\s*#!\s*(KAMAILIO|SER|OPENSER|MAXCOMPAT|ALL)\b")
DIRECTIVE = re.compile(r"^\s*(?:#!|!!)\s*([A-Za-z_]+)\b\s*(.*)$")
INCLUDE = re.compile(r'^\s*(?:(?:#!|!!)\s*)?(include_file|import_file)\s+["\']([^"\']+)["\']')
ROUTE_HEAD = re.compile(r"\b(request_route|route|reply_route|onreply_route|failure_route|branch_route|event_route|"
                        r"onsend_route)\s*(?:\[\s*[\"']?([^\]\"']*)[\"']?\s*\])?\s*\{")
CALL = re.compile(r"\broute\s*\(\s*[\"']?(\w+)[\"']?\s*\)")
DYNAMIC_CALL = re.compile(r"\b(?:route\s*\(\s*\$|sroute\s*\(|route_if_exists\s*\()")
AUTH_FN = re.compile(r"\b(auth_check|www_authorize|proxy_authorize|www_authenticate|proxy_authenticate|"
                     r"pv_www_authenticate|pv_proxy_authenticate|pv_auth_check|autheph_check|autheph_www|"
                     r"autheph_proxy|autheph_authenticate|radius_www_authorize|radius_proxy_authorize|"
                     r"auth_xkeys_check|jwt_verify)\s*\(")
FLOOD_FN = re.compile(r"\b(pike_check_req|pike_check_ip|rl_check|pl_check)\s*\(")
SOURCE_FN = re.compile(r"\b(allow_source_address|allow_source_address_group|allow_address|allow_trusted|allow_uri|"
                       r"allow_register|allow_routing|secf_check_\w+|is_in_subnet|ip_is_in_subnet|geoip2?_match|"
                       r"sanity_check_ua)\s*\(|\$ua\s*=~")
DB_URL = re.compile(r"\b[a-z][a-z0-9+]*://([^:@/\s\"']*):([^@\s\"']*)@", re.I)
STOCK_DB_PASSWORDS = {"kamailiorw", "kamailioro", "openserrw", "openserro"}
MAX_DEPTH = 10
PRIVATE_NETS = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10")]


@dataclass
class Define:
    value: str | None   # None: known only at run time (defenv, defexp)
    file: str
    line: int


@dataclass
class Program:
    """A configuration after the preprocessor: its active code lines and what the directives left."""
    lines: list[tuple[str, int, str]] = field(default_factory=list)       # (file, line, code without comments)
    defines: dict[str, Define] = field(default_factory=dict)
    ifdefs: dict[str, tuple[str, int]] = field(default_factory=dict)       # name -> first #!ifdef/#!ifndef
    commented: dict[str, tuple[str, int]] = field(default_factory=dict)    # name -> a commented-out #!define
    substs: list[tuple[str, str]] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)                       # includes not found or not allowed


def audit(files: list[Path]) -> tuple[list[Finding], list[str]]:
    bases = {p.parent.resolve() for p in files}
    candidates = []
    for path in files:
        if path.suffix.lower() != ".cfg":
            continue
        src = read(path)
        if src is None:
            continue
        first = next((ln for ln in src.text.splitlines() if ln.strip()), "")
        if path.name.lower() == "kamailio.cfg" or MAGIC.match(first):
            candidates.append(path)
    programs = {path: preprocess(path, bases) for path in candidates}
    included = {Path(f).resolve() for path, prog in programs.items() for f in prog.read[1:]}
    findings: list[Finding] = []
    looked: list[str] = []
    for path, prog in programs.items():
        if path.resolve() in included or not _routes(prog)[0]:
            continue  # a part of another configuration, or a file without a request_route
        looked.extend(prog.read)
        findings.extend(judge(path, prog))
    return findings, sorted(set(looked))


# ---------------------------------------------------------------- the preprocessor

def preprocess(path: Path, bases: set[Path]) -> Program:
    prog = Program()
    _run(path, prog, bases, [], 0)
    return prog


def _run(path: Path, prog: Program, bases: set[Path], stack: list[bool], depth: int) -> None:
    src = read(path)
    if src is None:
        prog.unread.append(str(path))
        return
    name = src.name
    prog.read.append(name)
    in_block = False
    lines = src.text.splitlines()
    i = 0
    while i < len(lines):
        number, raw = i + 1, lines[i]
        i += 1
        if in_block:
            end = raw.find("*/")
            if end < 0:
                continue
            raw, in_block = " " * (end + 2) + raw[end + 2:], False
        active = all(stack)
        m = DIRECTIVE.match(raw)
        if m and m.group(1).lower() not in ("include_file", "import_file"):
            word, rest = m.group(1).lower(), m.group(2)
            while rest.rstrip().endswith("\\") and i < len(lines):  # a define continued on the next line
                rest = rest.rstrip()[:-1] + " " + lines[i].strip()
                i += 1
            _directive(word, rest, name, number, prog, stack, active)
            continue
        inc = INCLUDE.match(raw)
        if inc:
            if active:
                _include(inc.group(2), path, prog, bases, stack, depth, inc.group(1) == "include_file")
            continue
        stripped = raw.lstrip()
        if stripped.startswith("#") or stripped.startswith("//"):
            c = re.match(r"^\s*(?:#|//)\s*#!\s*(?:define|trydef)\s+(\w+)", raw)
            if c:
                prog.commented.setdefault(c.group(1), (name, number))
            continue
        code, in_block = _strip(raw)
        if active and code.strip():
            prog.lines.append((name, number, code))


def _directive(word: str, rest: str, file: str, line: int, prog: Program, stack: list[bool], active: bool) -> None:
    arg = rest.strip()
    ident = arg.split(None, 1)[0] if arg else ""
    if word in ("ifdef", "ifndef"):
        prog.ifdefs.setdefault(ident, (file, line))
        defined = ident in prog.defines
        stack.append(defined if word == "ifdef" else not defined)
    elif word == "else":
        if stack:
            stack[-1] = not stack[-1]
    elif word == "endif":
        if stack:
            stack.pop()
    elif not active:
        return
    elif word in ("define", "trydef", "redefine", "defexp", "defenv", "trydefenv", "defenvs"):
        if not ident or (word in ("trydef", "trydefenv") and ident in prog.defines):
            return
        value = arg[len(ident):].strip() if word in ("define", "trydef", "redefine") else None
        if word in ("defenv", "trydefenv", "defenvs") and "=" in ident:
            ident = ident.split("=", 1)[0]
        prog.defines[ident] = Define(value, file, line)
    elif word == "undef":
        prog.defines.pop(ident, None)
    elif word in ("subst", "substdef", "substdefs") and arg:
        body = arg.strip().strip('"')
        if len(body) > 2:
            parts = body[1:].split(body[0])
            if len(parts) >= 2 and parts[0]:
                prog.substs.append((parts[0], parts[1]))
                if word != "subst":
                    prog.defines[parts[0]] = Define(parts[1], file, line)


def _include(target: str, current: Path, prog: Program, bases: set[Path], stack: list[bool], depth: int,
             required: bool) -> None:
    given = Path(target)
    tries = [given] if given.is_absolute() else [current.parent / given, Path(prog.read[0]).parent / given]
    for t in tries:
        try:
            r = t.resolve()
        except OSError:
            continue
        if not r.is_file():
            continue
        if not any(r == b or b in r.parents for b in bases):
            prog.unread.append(f"{target} (outside the paths given)")
            return
        if depth >= MAX_DEPTH or str(r) in {str(Path(x).resolve()) for x in prog.read}:
            return
        _run(t, prog, bases, stack, depth + 1)
        return
    if required:
        prog.unread.append(f"{target} (not found)")


def _strip(raw: str) -> tuple[str, bool]:
    """The code of one line without its comments, and whether a /* comment stays open past it."""
    out, i, quote = [], 0, None
    while i < len(raw):
        ch = raw[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(raw):
                out.append(raw[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            out.append(ch)
        elif ch == "#" or raw.startswith("//", i):
            break
        elif raw.startswith("/*", i):
            end = raw.find("*/", i + 2)
            if end < 0:
                return "".join(out), True
            out.append(" ")
            i = end + 2
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out), False


# ---------------------------------------------------------------- routing

def _routes(prog: Program) -> tuple[dict | None, dict[str, tuple[str, int, str]]]:
    """(request_route as (file, line, body) or None, the named route[] blocks)."""
    text, where = "", []
    for file, line, code in prog.lines:
        where.append((len(text), file, line))
        text += code + "\n"
    main = None
    named: dict[str, tuple[str, int, str]] = {}
    for m in ROUTE_HEAD.finditer(text):
        kind, name = m.group(1), (m.group(2) or "").strip()
        body = _block(text, m.end() - 1)
        file, line = _at(where, m.start())
        if kind == "request_route" or (kind == "route" and name in ("", "0", "DEFAULT")):
            main = main or (file, line, body)
        elif kind == "route":
            named.setdefault(name, (file, line, body))
    return main, named


def _block(text: str, start: int) -> str:
    depth, i, quote = 0, start, None
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i]
        i += 1
    return text[start + 1:]


def _at(where: list[tuple[int, str, int]], pos: int) -> tuple[str, int]:
    lo, hi = 0, len(where) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if where[mid][0] <= pos:
            lo = mid
        else:
            hi = mid - 1
    return where[lo][1], where[lo][2]


def _reached(main, named) -> tuple[str, list[str]]:
    """The code request_route runs (its body and every route it calls, followed), and the routes' names."""
    bodies, seen, todo = [main[2]], [], [main[2]]
    dynamic = False
    while todo:
        body = todo.pop()
        dynamic = dynamic or bool(DYNAMIC_CALL.search(body))
        for callee in CALL.findall(body):
            if callee in named and callee not in seen:
                seen.append(callee)
                bodies.append(named[callee][2])
                todo.append(named[callee][2])
    if dynamic:  # route($var) or sroute(): any route may run
        for name, (_, _, body) in named.items():
            if name not in seen:
                seen.append(name)
                bodies.append(body)
    return "\n".join(bodies), seen


# ---------------------------------------------------------------- the checks

def judge(path: Path, prog: Program) -> list[Finding]:
    out: list[Finding] = []

    def find(check, severity, file, line, subject, message, fix):
        out.append(Finding(check, severity, file, line, subject, message, CHECKS[check][1], fix))

    main, named = _routes(prog)
    unread = f" (not read: {', '.join(prog.unread)}; what it holds was not seen)" if prog.unread else ""
    engine = next((re.search(r'cfgengine\s*=?\s*"(\w+)"', code) for _, _, code in prog.lines
                   if "cfgengine" in code), None)
    if main and not (engine and engine.group(1).lower() != "native"):
        code, _ = _reached(main, named)
        if not AUTH_FN.search(code):
            file, line, why = _gate(prog, "WITH_AUTH", main)
            elsewhere = [n for n, (_, _, b) in named.items() if AUTH_FN.search(b)]
            also = f"; route[{elsewhere[0]}] authenticates but request_route never calls it" if elsewhere else ""
            find("kamailio-no-auth", "critical", file, line, "request_route",
                 f"{why}no auth_check, www_authorize or proxy_authorize runs for any request{also}; anyone may "
                 f"register as any user and send calls through it{unread}",
                 "define WITH_AUTH (#!define WITH_AUTH near the top, with WITH_MYSQL or another database for "
                 "the subscriber table) so route[AUTH] challenges every REGISTER and every call from your users"
                 if why else
                 "call auth_check (auth_db) from request_route for every REGISTER and every call from your users, "
                 "and auth_challenge when it fails")
        if not FLOOD_FN.search(code):
            file, line, why = _gate(prog, "WITH_ANTIFLOOD", main)
            find("kamailio-no-antiflood", "medium", file, line, "request_route",
                 f"{why}no pike_check_req (or another rate limit) runs for any request; a scanner or a password "
                 f"guesser may send as many requests as it likes{unread}",
                 "define WITH_ANTIFLOOD (loads pike and the ipban htable; route[REQINIT] then bans an address that "
                 "floods), and keep tollguard's auto defense on" if why else
                 "load pike and call pike_check_req() first thing in request_route, dropping (and banning for a "
                 "while, with an htable) the addresses it reports; keep tollguard's auto defense on")
        if not SOURCE_FN.search(code):
            find("kamailio-no-source-filter", "low", main[0], main[1], "request_route",
                 f"no request is checked by its source address or user agent (permissions, secfilter, ipops, "
                 f"geoip, a $ua match): registrations are accepted from every address{unread}",
                 "drop known scanners' user agents in route[REQINIT] and accept REGISTER only from the networks "
                 "your phones use (permissions' allow_source_address, ipops' is_in_subnet or secfilter)")
    _db_passwords(prog, find)
    _listen(prog, find)
    return out


def _gate(prog: Program, name: str, main) -> tuple[str, int, str]:
    """Where to point for a feature the stock configuration gates behind ``#!ifdef name``."""
    if name in prog.defines or name not in prog.ifdefs:
        return main[0], main[1], ""
    if name in prog.commented:
        file, line = prog.commented[name]
        return file, line, f"{name} is not defined (its #!define is commented out here), so the code under " \
                            f"#!ifdef {name} is left out: "
    file, line = prog.ifdefs[name]
    return file, line, f"{name} is not defined, so the code under #!ifdef {name} is left out: "


def _db_passwords(prog: Program, find) -> None:
    seen = set()
    candidates = [(d.file, d.line, name, d.value) for name, d in prog.defines.items() if d.value]
    for file, line, code in prog.lines:
        m = re.match(r'\s*modparam\s*\(\s*"(\w+)"\s*,\s*"(\w*db_url\w*)"\s*,\s*"([^"]*)"', code)
        if m:
            candidates.append((file, line, f"modparam {m.group(1)} {m.group(2)}", m.group(3)))
    for file, line, subject, value in candidates:
        m = DB_URL.search(value)
        if not m or (file, line) in seen:
            continue
        seen.add((file, line))
        user, password = m.group(1), m.group(2)
        if password.lower() in STOCK_DB_PASSWORDS:
            find("kamailio-default-db-password", "high", file, line, subject,
                 f"the database password for user {user or '?'} is the one the stock kamailio.cfg and kamdbctl "
                 "ship: whoever reaches the database reads every subscriber's credentials and may add their own",
                 "set a long random password for the database users (DBRWPW and DBROPW in kamctlrc before "
                 "kamdbctl create, or ALTER USER), then put it in the URL; keep the database on localhost")
        elif (why := ("empty" if password == "" else weakness(password, "user"))):
            find("kamailio-weak-db-password", "medium", file, line, subject,
                 f"the database password for user {user or '?'} is {why}",
                 "set a long random password (12 characters or more) for the database user and in the URL")


def _listen(prog: Program, find) -> None:
    sockets = []
    for file, line, code in prog.lines:
        m = re.match(r"\s*listen\s*=\s*(.+)$", code)
        if not m:
            continue
        value = m.group(1).strip()
        for name, define in prog.defines.items():
            if define.value:
                value = re.sub(rf"\b{re.escape(name)}\b", define.value.strip('"'), value)
        for a, b in prog.substs:
            value = value.replace(a, b)
        parts = re.split(r"\s+advertise\s+", value.split(" name ")[0].strip().strip('"'), maxsplit=1)
        proto, host, port = _socket(parts[0])
        adv = _socket(parts[1])[1:] if len(parts) > 1 else None
        sockets.append((file, line, proto, host, port, adv))
    if not sockets:
        return
    tls = any(proto in ("tls", "wss") for _, _, proto, _, _, _ in sockets)
    public = [(f, ln, proto, host, port, adv) for f, ln, proto, host, port, adv in sockets
              if _public(host) or (adv and _public(adv[0]))]
    if public and not tls:
        f, ln, proto, host, port, adv = public[0]
        shown = adv[0] if adv and _public(adv[0]) else host
        find("kamailio-no-tls", "low", f, ln, "listen",
             f"it listens for {proto or 'udp, tcp'} on the public address {shown} and has no TLS listener: phones "
             "outside send their registrations and calls in clear",
             "add a TLS listener (listen=tls:ADDRESS:PORT, #!define WITH_TLS with tls.cfg and a certificate) "
             "and make remote phones use it")
    for f, ln, proto, host, port, adv in public:
        p = (adv[1] if adv and adv[1] else port) or "5060"
        if p in ("5060", "5061"):
            find("kamailio-default-port", "low", f, ln, "listen",
                 f"the public socket uses SIP port {p}, the one every scanner tries",
                 "move the public socket to a non-standard port and tell the phones and trunks")
            break


def _socket(text: str) -> tuple[str, str, str]:
    """proto, host, port of a listen= value (proto and port may be empty)."""
    text = text.strip()
    proto = ""
    m = re.match(r"(udp|tcp|tls|sctp|ws|wss|any):(.*)$", text, re.I)
    if m:
        proto, text = m.group(1).lower(), m.group(2)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return proto, host, rest.lstrip(":")
    if text.count(":") == 1:
        host, port = text.split(":")
        return proto, host, port
    return proto, text, ""


def _public(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host.strip())
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_unspecified or any(ip.version == n.version and ip in n for n in PRIVATE_NETS))
