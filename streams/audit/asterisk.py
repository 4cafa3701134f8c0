"""Audit checks for Asterisk configuration files (docs/audit.md).

The files are recognised by name anywhere under the paths: ``sip.conf``, ``pjsip.conf``,
``pjsip_wizard.conf``, ``extensions.conf``, ``manager.conf``, ``http.conf`` and ``iax.conf``, with
the files they ``#include``/``#tryinclude`` when those lie under the paths too. The files of one
folder are one PBX: the contexts sip.conf sends calls to are looked up in the extensions.conf
beside it.

Asterisk's configuration syntax is read here: ``[section]``, ``[section](template,…)`` and
``(!)`` templates with their inheritance, ``(+)`` additions, ``key = value`` and ``key => value``,
``;`` comments (``\\;`` is a literal semicolon), ``;-- … --;`` block comments and ``#include``.
Every key keeps its file and line. A finding names a section, a context or a count, never a secret.
"""

from __future__ import annotations

import ipaddress
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from streams.audit import Finding, read
from streams.audit.passwords import DEFAULTS, name_weakness, weakness

NAMES = {"sip.conf": "sip", "pjsip.conf": "pjsip", "pjsip_wizard.conf": "wizard", "extensions.conf": "extensions",
         "manager.conf": "manager", "http.conf": "http", "iax.conf": "iax"}
GUIDE = {
    "credentials": "Endpoint Security: Use Complex Credentials for SIP Registration",
    "login": "Endpoint Security: Strong Password for Manual Login",
    "ip": "Endpoint Security: Restrict Extension Registration by IP Address",
    "remote": "Endpoint Security: Restrict Remote Registration",
    "login_ip": "Endpoint Security: Account and IP restrictions for Remote Login",
    "forward": "Network Security: Avoid Port Forwarding for Remote Access",
    "route": "Outbound Call Security: Restrict Outbound Dialing by Outbound Route Permission",
}
CHECKS = {
    "asterisk-weak-secret": ("a SIP or IAX registration password that is short, default, simple or holds the "
                             "extension number", GUIDE["credentials"]),
    "asterisk-auth-name-is-extension": ("a registration (auth) name that is the extension number", GUIDE["credentials"]),
    "asterisk-shared-secret": ("one password used by several accounts", GUIDE["credentials"]),
    "asterisk-sip-allowguest": ("chan_sip accepts calls from anyone (allowguest, yes by default)", GUIDE["remote"]),
    "asterisk-sip-alwaysauthreject-off": ("chan_sip tells a scanner which account names exist", GUIDE["credentials"]),
    "asterisk-guest-endpoint": ("a PJSIP anonymous endpoint or an IAX guest user takes calls from anyone",
                                GUIDE["remote"]),
    "asterisk-no-auth": ("an account anyone may register or call as, without a password", GUIDE["remote"]),
    "asterisk-open-context-outbound": ("an inbound, guest or default context reaches an outbound or international "
                                       "route", GUIDE["route"]),
    "asterisk-ami-public": ("the Asterisk Manager Interface listens on every or a public address", GUIDE["forward"]),
    "asterisk-ami-http-public": ("AMI over HTTP (webenabled) served on every or a public address", GUIDE["forward"]),
    "asterisk-ami-weak-secret": ("an AMI user with a default or weak secret", GUIDE["login"]),
    "asterisk-ami-no-acl": ("an AMI user any address may log in as (no deny/permit)", GUIDE["login_ip"]),
    "asterisk-registration-no-acl": ("accounts that register from anywhere (no deny/permit or acl)", GUIDE["ip"]),
    "asterisk-no-tls": ("remote phones register over UDP/TCP only, with unencrypted media", GUIDE["remote"]),
}
MAX_INCLUDE_DEPTH = 10
MAX_STATES = 20_000          # dialplan states walked from one context
INBOUND_NAMES = {"default", "public", "from-external", "from-trunk", "from-pstn", "from-sip-external", "incoming",
                 "inbound", "from-outside", "from-did", "guest", "anonymous", "unauthenticated"}
SHOWN = 5                    # accounts named in a summary finding


# --- the configuration syntax -------------------------------------------------------------------------------------

@dataclass
class Entry:
    key: str       # lower case
    value: str
    file: str
    line: int
    origin: str    # the section it is written in (a template's name when inherited)


@dataclass
class Section:
    name: str
    file: str
    line: int
    parents: list[str]
    template: bool
    own: list[Entry] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)   # inherited first, then its own

    def entry(self, key: str) -> Entry | None:
        for e in reversed(self.entries):
            if e.key == key:
                return e
        return None

    def get(self, key: str, default: str | None = None) -> str | None:
        e = self.entry(key)
        return e.value if e is not None else default

    def all(self, key: str) -> list[Entry]:
        return [e for e in self.entries if e.key == key]


@dataclass
class Conf:
    kind: str
    file: str
    sections: list[Section] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def concrete(self, name: str | None = None) -> list[Section]:
        return [s for s in self.sections if not s.template and (name is None or s.name == name)]

    def general(self) -> Section:
        """Every ``[general]`` section merged (FreePBX splits it over included files)."""
        parts = self.concrete("general")
        merged = Section("general", parts[0].file if parts else self.file, parts[0].line if parts else 1, [], False)
        for p in parts:
            merged.entries.extend(p.entries)
        return merged


def _strip_comment(line: str, in_block: bool) -> tuple[str, bool]:
    out, i = [], 0
    while i < len(line):
        if in_block:
            j = line.find("--;", i)
            if j < 0:
                return "".join(out), True
            in_block, i = False, j + 3
            continue
        j = i
        while True:
            j = line.find(";", j)
            if j <= 0 or line[j - 1] != "\\":
                break
            j += 1
        if j < 0:
            out.append(line[i:])
            break
        out.append(line[i:j])
        if line.startswith(";--", j):
            in_block, i = True, j + 3
            continue
        break
    return "".join(out).replace("\\;", ";").strip(), in_block


SECTION = re.compile(r"^\[([^\]]*)\]\s*(?:\(([^)]*)\))?")
INCLUDE = re.compile(r"^#\s*(include|tryinclude)\s+(.+)$", re.I)


def parse(path: Path, kind: str, root: Path, allowed: dict[Path, Path]) -> Conf:
    """The sections of ``path`` and of the files it includes (those under the audited paths only)."""
    conf = Conf(kind, str(path))
    state = {"current": None}
    _load(path, conf, root, allowed, [], state)
    last: dict[str, Section] = {}   # a template is the latest section of that name before the one using it
    for s in conf.sections:
        entries: list[Entry] = []
        for parent in s.parents:
            if parent in last:
                entries.extend(last[parent].entries)
        s.entries = entries + s.own
        last[s.name] = s
    return conf


def _load(path: Path, conf: Conf, root: Path, allowed: dict[Path, Path], stack: list[Path], state: dict) -> None:
    key = path.resolve()
    if key in stack or len(stack) > MAX_INCLUDE_DEPTH:
        return
    src = read(path)
    if src is None:
        return
    name = str(path)
    if name not in conf.files:
        conf.files.append(name)
    in_block = False
    for n, raw in enumerate(src.text.splitlines(), 1):
        line, in_block = _strip_comment(raw, in_block)
        if not line:
            continue
        m = INCLUDE.match(line)
        if m:
            for inc in _resolve(m.group(2).strip().strip('"<>').strip(), path, root, allowed):
                _load(inc, conf, root, allowed, [*stack, key], state)
            continue
        if line.startswith("#"):
            continue   # #exec and the like: nothing read
        m = SECTION.match(line)
        if m:
            opts = [o.strip() for o in (m.group(2) or "").split(",") if o.strip()]
            sec_name = m.group(1).strip()
            if "+" in opts:
                prior = next((s for s in reversed(conf.sections) if s.name == sec_name), None)
                if prior is not None:
                    state["current"] = prior
                    continue
            sec = Section(sec_name, name, n, [o for o in opts if o not in ("!", "+")], "!" in opts)
            conf.sections.append(sec)
            state["current"] = sec
            continue
        sec = state["current"]
        if sec is None or "=" not in line:
            continue
        k, v = line.split("=", 1)
        if v.startswith(">"):
            v = v[1:]
        sec.own.append(Entry(k.strip().lower(), v.strip(), name, n, sec.name))


def _resolve(target: str, including: Path, root: Path, allowed: dict[Path, Path]) -> list[Path]:
    p = Path(target)
    if p.is_absolute():
        candidates = [p]
        if p.parts[:3] == ("/", "etc", "asterisk"):
            candidates.append(root.joinpath(*p.parts[3:]))
    else:
        candidates = [root / p, including.parent / p]
    for c in candidates:
        matches = sorted(c.parent.glob(c.name)) if any(ch in c.name for ch in "*?[") else [c]
        got = [allowed[m.resolve()] for m in matches if m.resolve() in allowed]
        if got:
            return got
    return []


# --- small readings -------------------------------------------------------------------------------------------------

def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("yes", "true", "y", "t", "1", "on")


def _false(value: str | None) -> bool:
    return (value or "").strip().lower() in ("no", "false", "n", "f", "0", "off")


def _public(addr: str | None) -> str | None:
    """How an address to bind exposes the service ('every address', 'the public address X'), None when local."""
    if addr is None:
        return None
    host = addr.strip()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip.is_unspecified:
        return f"{host} (every address)"
    if ip.is_loopback or ip.is_private or ip.is_link_local:
        return None
    return f"the public address {host}"


def _callerid(section: Section, key: str = "callerid") -> tuple[str | None, str | None]:
    """(name, number) of a ``"Alice" <2001>`` caller ID."""
    value = section.get(key) or ""
    m = re.match(r'\s*"?([^"<]*?)"?\s*<([^>]*)>', value)
    if m:
        return (m.group(1).strip() or None), (m.group(2).strip() or None)
    return None, None


def _extension(section: Section, cid_key: str = "callerid", hint: str | None = None) -> tuple[str | None, str | None]:
    """(extension number, extension name) of an account: its caller ID, else its section name when it is a number."""
    cid_name, cid_number = _callerid(section, cid_key)
    number = hint or cid_number or (section.name if section.name.isdigit() else None)
    return number, cid_name


def _has_acl(section: Section, prefix: str = "") -> bool:
    """A deny rule or a named ACL: Asterisk allows whatever no rule denies, so permit alone restricts nothing."""
    keys = [f"{prefix}{k}" for k in ("deny", "acl", "contactdeny", "contactacl", "contact_deny", "contact_acl")]
    return any(section.get(k) for k in keys)


def _acl_hint(section: Section, prefix: str = "") -> str:
    return " (permit without deny restricts nothing)" if section.get(f"{prefix}permit") else ""


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _where(file: str, line: int) -> str:
    return f"{Path(file).name}:{line}"


# --- accounts -------------------------------------------------------------------------------------------------------

@dataclass
class Account:
    """One set of registration credentials, wherever it is configured."""
    kind: str                    # sip, iax, pjsip, wizard
    name: str                    # the endpoint or peer
    section: Section             # where the credentials are
    secret: Entry | None
    username: str | None         # the registration (auth) name
    username_entry: Entry | None
    extension: str | None
    ext_name: str | None
    users: list[str] = field(default_factory=list)   # the endpoints that use these credentials


WHAT = {"sip": "sip.conf peer", "iax": "iax.conf peer", "pjsip": "pjsip auth", "wizard": "pjsip wizard"}


class Pbx:
    """The Asterisk files of one folder."""

    def __init__(self, confs: dict[str, Conf]):
        self.confs = confs
        self.findings: list[Finding] = []
        self.accounts: list[Account] = []
        self.entries: dict[str, dict] = {}   # context -> {"reasons": [...], "open": bool}
        self.guests: list[tuple] = []         # guest findings, rated once the dialplan is read

    def add(self, check: str, severity: str, file: str, line: int, subject: str, message: str, fix: str) -> None:
        self.findings.append(Finding(check, severity, file, line, subject, message, CHECKS[check][1], fix))

    def entry_context(self, context: str, reason: str, open_: bool) -> None:
        e = self.entries.setdefault(context, {"reasons": [], "open": False})
        if reason not in e["reasons"]:
            e["reasons"].append(reason)
        e["open"] = e["open"] or open_

    def run(self) -> list[Finding]:
        if "sip" in self.confs:
            self.sip(self.confs["sip"])
        if "iax" in self.confs:
            self.iax(self.confs["iax"])
        if "pjsip" in self.confs or "wizard" in self.confs:
            self.pjsip(self.confs.get("pjsip"), self.confs.get("wizard"))
        self.credentials()
        if "manager" in self.confs:
            self.manager(self.confs["manager"], self.confs.get("http"))
        self.dialplan(self.confs.get("extensions"))
        return self.findings

    # chan_sip ------------------------------------------------------------------------------------------------------
    def sip(self, conf: Conf) -> None:
        if not conf.sections:   # an empty sip.conf: chan_sip left unconfigured (gone since Asterisk 21)
            return
        general = conf.general()
        gen_context = general.get("context") or "default"
        guest = general.entry("allowguest")
        if guest is None or not _false(guest.value):
            self.entry_context(gen_context, "sip.conf allowguest", True)
            at = guest or general
            self.guests.append(("asterisk-sip-allowguest", at.file, at.line, "general", gen_context,
                                "allowguest is " + ("yes" if guest else "unset, and yes by default")
                                + ": calls from anyone who is no configured peer are taken",
                                "allowguest=no in [general] of sip.conf"))
        reject = general.entry("alwaysauthreject")
        if reject is not None and _false(reject.value):
            self.add("asterisk-sip-alwaysauthreject-off", "medium", reject.file, reject.line, "general",
                     "alwaysauthreject is no: a wrong name and a wrong password get different answers, so a "
                     "scanner learns which account names exist before it guesses their passwords",
                     "alwaysauthreject=yes in [general] of sip.conf (the default since Asterisk 1.8)")
        open_acl, no_tls = [], []
        for s in conf.concrete():
            if s.name == "general" or s.name == "authentication":
                continue
            kind = (s.get("type") or "friend").lower()
            if kind not in ("friend", "peer", "user"):
                continue
            secret = s.entry("secret")
            has_auth = secret is not None or s.get("md5secret") is not None
            dynamic = (s.get("host") or "").lower() == "dynamic"
            context = s.get("context") or gen_context
            number, ext_name = _extension(s)
            if has_auth:
                self.accounts.append(Account("sip", s.name, s, secret, s.name, None, number, ext_name, [s.name]))
            elif dynamic or kind in ("friend", "user"):
                self.add("asterisk-no-auth", "high", s.file, s.line, s.name,
                         f"sip.conf {kind} {s.name} has no secret: anyone may "
                         + ("register as it and " if dynamic else "") + f"call into context {context} as it",
                         f"give {s.name} a secret of at least 8 mixed characters (or remove it)")
                self.entry_context(context, f"sip.conf {kind} {s.name} without a secret", True)
            else:
                self.entry_context(context, f"sip.conf trunk {s.name}", False)
            if has_auth and dynamic:
                if not _has_acl(s):
                    open_acl.append(s)
                transport = (s.get("transport") or "udp").lower()
                if "tls" not in transport and not _true(s.get("encryption")):
                    no_tls.append(s)
        self._acl_summary(open_acl, "deny=0.0.0.0/0.0.0.0 and permit=<the phone's network> in each peer (or a "
                                    "template), or acl=<a named ACL of acl.conf>")
        if no_tls and not _true(general.get("tlsenable")):
            self.add("asterisk-no-tls", "low", general.file, general.line, "general",
                     f"TLS is off (tlsenable) and {len(no_tls)} registering peer(s) use UDP/TCP with unencrypted "
                     f"media: {_names([s.name for s in no_tls])}",
                     "tlsenable=yes in [general], transport=tls and encryption=yes for the phones outside the LAN")

    # IAX2 --------------------------------------------------------------------------------------------------------
    def iax(self, conf: Conf) -> None:
        open_acl = []
        for s in conf.concrete():
            if s.name == "general":
                continue
            kind = (s.get("type") or "").lower()
            if kind not in ("friend", "peer", "user"):
                continue
            secret = s.entry("secret")
            has_auth = secret is not None or s.get("inkeys") is not None or s.get("md5secret") is not None
            context = s.get("context") or "default"
            dynamic = (s.get("host") or "").lower() == "dynamic"
            number, ext_name = _extension(s)
            if has_auth:
                if secret is not None:
                    self.accounts.append(Account("iax", s.name, s, secret, s.name, None, number, ext_name, [s.name]))
                if dynamic and not _has_acl(s):
                    open_acl.append(s)
            elif kind in ("user", "friend"):
                self.guests.append(("asterisk-guest-endpoint", s.file, s.line, s.name, context,
                                    f"iax.conf user {s.name} has no secret and no inkeys: any IAX2 caller is taken "
                                    "as it", f"remove [{s.name}] or give it a secret"))
                self.entry_context(context, f"iax.conf guest user {s.name}", True)
            elif dynamic:
                self.add("asterisk-no-auth", "high", s.file, s.line, s.name,
                         f"iax.conf peer {s.name} is host=dynamic without a secret: anyone may register as it",
                         f"give {s.name} a secret of at least 8 mixed characters")
        self._acl_summary(open_acl, "deny=0.0.0.0/0.0.0.0 and permit=<the phone's network> in each dynamic peer")

    # PJSIP -------------------------------------------------------------------------------------------------------
    def pjsip(self, conf: Conf | None, wizard: Conf | None) -> None:
        sections = [s for c in (conf, wizard) if c for s in c.concrete()]
        by_type: dict[str, list[Section]] = {}
        for s in sections:
            by_type.setdefault((s.get("type") or "").lower(), []).append(s)
        auths = {s.name: s for s in by_type.get("auth", [])}
        global_acl = any(_has_acl(s) for s in by_type.get("acl", []))
        outbound_only = {a.strip() for s in sections for a in (s.get("outbound_auth") or "").split(",") if a.strip()}
        used_inbound, registering = self._pjsip_endpoints(by_type)
        self._pjsip_accounts(auths, used_inbound, outbound_only)
        registering += self._pjsip_wizards(by_type)
        if not global_acl:
            wiz = lambda s: "endpoint/" if (s.get("type") or "").lower() == "wizard" else ""  # noqa: E731
            self._acl_summary([s for s in registering if not _has_acl(s, wiz(s))],
                              "deny=0.0.0.0/0.0.0.0 and permit=<the phone's network> on each endpoint (endpoint/deny "
                              "and endpoint/permit in a wizard), or one type=acl section for all of them")
        self._pjsip_tls(by_type.get("transport", []), registering)

    def _pjsip_endpoints(self, by_type: dict) -> tuple[dict[str, list[Section]], list[Section]]:
        """(the auth sections each endpoint names, the endpoints that register with a password); guests and
        endpoints without auth are reported here."""
        identified = {e.strip() for s in by_type.get("identify", []) for e in (s.get("endpoint") or "").split(",")}
        used_inbound: dict[str, list[Section]] = {}
        registering: list[Section] = []
        for ep in by_type.get("endpoint", []):
            refs = [a.strip() for a in (ep.get("auth") or "").split(",") if a.strip()]
            context = ep.get("context") or "default"
            for ref in refs:
                used_inbound.setdefault(ref, []).append(ep)
            if ep.name == "anonymous":
                self.guests.append(("asterisk-guest-endpoint", ep.file, ep.line, ep.name, context,
                                    "a PJSIP endpoint named anonymous takes every call that matches no other "
                                    "endpoint, without a password",
                                    "remove [anonymous], or give it a context that only reaches your own numbers"))
                self.entry_context(context, "pjsip anonymous endpoint", True)
            elif not refs:
                by = (ep.get("identify_by") or "username,ip").lower()
                if ep.name in identified:
                    self.entry_context(context, f"pjsip trunk {ep.name}", False)
                elif "username" in by:
                    self.add("asterisk-no-auth", "high", ep.file, ep.line, ep.name,
                             f"pjsip endpoint {ep.name} has no auth and no identify: a request from anyone whose "
                             f"From user is {ep.name} is taken into context {context}",
                             f"auth=<an auth section> for {ep.name}, or identify_by=ip and an identify section "
                             "if it is a trunk")
                    self.entry_context(context, f"pjsip endpoint {ep.name} without auth", True)
            else:
                registering.append(ep)
        return used_inbound, registering

    def _pjsip_accounts(self, auths: dict, used_inbound: dict, outbound_only: set) -> None:
        for ref, eps in used_inbound.items():
            a = auths.get(ref)
            if a is None or (a.get("auth_type") or "userpass").lower() not in ("userpass", "digest"):
                continue
            number, ext_name = _extension(eps[0])
            user = a.entry("username")
            self.accounts.append(Account("pjsip", eps[0].name, a, a.entry("password"), user.value if user else None,
                                         user, number, ext_name, [e.name for e in eps]))
        for name, a in auths.items():   # auth sections no endpoint names: judged alone, unless only outbound
            if name in used_inbound or name in outbound_only:
                continue
            if a.get("password") is not None:
                self.accounts.append(Account("pjsip", name, a, a.entry("password"), a.get("username"),
                                             a.entry("username"), None, None, [name]))

    def _pjsip_wizards(self, by_type: dict) -> list[Section]:
        """The wizards that register with a password; trunks and wizards without auth are noted here."""
        registering = []
        for wz in by_type.get("wizard", []):
            context = wz.get("endpoint/context") or "default"
            if _true(wz.get("accepts_auth")) and wz.get("inbound_auth/password") is not None:
                user = wz.entry("inbound_auth/username")
                number, ext_name = _extension(wz, "endpoint/callerid", wz.get("hint_exten"))
                self.accounts.append(Account("wizard", wz.name, wz, wz.entry("inbound_auth/password"),
                                             user.value if user else wz.name, user, number, ext_name, [wz.name]))
                registering.append(wz)
            elif wz.get("remote_hosts"):
                self.entry_context(context, f"pjsip wizard trunk {wz.name}", False)
            elif _true(wz.get("accepts_registrations")):
                self.add("asterisk-no-auth", "high", wz.file, wz.line, wz.name,
                         f"wizard {wz.name} accepts registrations without inbound auth: anyone may register as it",
                         "accepts_auth=yes with inbound_auth/username and inbound_auth/password")
                self.entry_context(context, f"pjsip wizard {wz.name} without auth", True)
        return registering

    def _pjsip_tls(self, transports: list[Section], registering: list[Section]) -> None:
        if transports and registering and not any(
                (t.get("protocol") or "udp").lower() in ("tls", "wss") for t in transports):
            plain = [s for s in registering
                     if (s.get("media_encryption") or s.get("endpoint/media_encryption") or "no").lower() == "no"]
            if plain:
                t = transports[0]
                self.add("asterisk-no-tls", "low", t.file, t.line, t.name,
                         f"no TLS transport, and {len(plain)} registering endpoint(s) send media unencrypted: "
                         f"{_names([s.name for s in plain])}",
                         "add a type=transport with protocol=tls for the phones outside the LAN, and "
                         "media_encryption=sdes (or dtls) on their endpoints")

    def _acl_summary(self, sections: list[Section], fix: str) -> None:
        by_file: dict[str, list[Section]] = {}
        for s in sections:
            by_file.setdefault(s.file, []).append(s)
        for file, group in by_file.items():
            first = group[0]
            hint = next((h for h in (_acl_hint(s) or _acl_hint(s, "endpoint/") for s in group) if h), "")
            self.add("asterisk-registration-no-acl", "medium", file, first.line, "registering accounts",
                     f"{len(group)} account(s) in {Path(file).name} may register from any address{hint}: "
                     f"{_names([s.name for s in group])}", fix)

    # credentials, across the files -------------------------------------------------------------------------------
    def credentials(self) -> None:
        weak: dict[tuple[str, int], list[tuple[Account, str]]] = {}
        groups: dict[str, list[Account]] = {}
        for acc in self.accounts:
            if acc.secret is not None and acc.secret.value:
                groups.setdefault(acc.secret.value, []).append(acc)
                problem = weakness(acc.secret.value, "registration", acc.extension, acc.ext_name)
                if problem:
                    weak.setdefault((acc.secret.file, acc.secret.line), []).append((acc, problem))
            problem = name_weakness(acc.username, acc.extension)
            if problem:
                e = acc.username_entry
                file, line = (e.file, e.line) if e else (acc.section.file, acc.section.line)
                self.add("asterisk-auth-name-is-extension", "medium", file, line, acc.section.name,
                         f"{WHAT[acc.kind]} {acc.section.name}: {problem} ({acc.extension}), the first name a "
                         "scanner tries",
                         "a registration name that is not the extension number (the guide's example: 1DhZSD57bG); "
                         + ("in sip.conf and iax.conf it is the section name: rename the peer and keep the number "
                            "in callerid" if acc.kind in ("sip", "iax") else
                            "set the auth's username to it and keep the endpoint's number"))
        for (file, line), items in weak.items():
            acc, problem = items[0]
            users = list(dict.fromkeys(u for a, _ in items for u in a.users))
            inherited = acc.secret.origin != acc.section.name
            if inherited:
                subject = acc.secret.origin
                what = f"the password set in template {subject} and inherited by {_names(users)}"
            else:
                subject = acc.section.name
                what = f"the password of {WHAT[acc.kind]} {subject}" + (
                    f" (used by {_names(users)})" if users != [subject] else "")
            self.add("asterisk-weak-secret", "critical" if acc.secret.value.lower() in DEFAULTS else "high",
                     file, line, subject, f"{what} is {problem}",
                     "a registration password of at least 8 characters mixing upper case, lower case and digits, "
                     "without the extension's number or name (the guide's example: ORverH9reH)")
        for group in groups.values():
            names = list(dict.fromkeys(n for a in group for n in a.users))
            if len(names) < 2:
                continue
            first = group[0].secret
            files = sorted({Path(a.secret.file).name for a in group})
            self.add("asterisk-shared-secret", "high", first.file, first.line, group[0].section.name,
                     f"{len(names)} accounts share one password ({', '.join(files)}): {_names(names)}; whoever "
                     "learns it from one phone may register as all of them", "give every account its own password")

    # AMI ---------------------------------------------------------------------------------------------------------
    def manager(self, conf: Conf, http: Conf | None) -> None:
        general = conf.general()
        enabled = general.entry("enabled")
        on = enabled is not None and _true(enabled.value)
        bind = general.entry("bindaddr")
        exposed = _public(bind.value if bind else "0.0.0.0") if on else None
        tls_bind = general.entry("tlsbindaddr")
        if on and not exposed and _true(general.get("tlsenable")):
            exposed = _public(tls_bind.value if tls_bind else "0.0.0.0")
            bind = tls_bind or bind
        if exposed:
            at = bind or enabled
            self.add("asterisk-ami-public", "high", at.file, at.line, "general",
                     f"AMI is enabled and listens on {exposed}"
                     + ("" if bind else " (bindaddr unset)") + ": anyone who reaches its port may try logins, and "
                     "a logged-in user may originate calls",
                     "bindaddr=127.0.0.1 in [general] of manager.conf (or a management network's address), and "
                     "reach it over SSH or a VPN, never a forwarded port")
        web = general.entry("webenabled")
        if on and web is not None and _true(web.value) and http is not None:
            hg = http.general()
            http_on = _true(hg.get("enabled"))
            where = None
            if http_on and hg.get("bindaddr"):
                where = _public(hg.get("bindaddr"))
            if not where and _true(hg.get("tlsenable")):
                where = _public(hg.get("tlsbindaddr") or "0.0.0.0")
            if where:
                at = hg.entry("bindaddr") or hg.entry("tlsbindaddr") or hg.entry("enabled")
                self.add("asterisk-ami-http-public", "high", web.file, web.line, "general",
                         f"webenabled=yes serves AMI over HTTP, and http.conf ({_where(at.file, at.line)}) binds "
                         f"{where}", "webenabled=no in manager.conf, or bindaddr=127.0.0.1 in http.conf")
        for s in conf.concrete():
            if s.name == "general":
                continue
            secret = s.entry("secret")
            reachable = exposed and not _has_acl(s)   # any address may try this user's secret
            if secret is not None and secret.value:
                problem = weakness(secret.value, "user", None, s.name)
                default = secret.value.lower() in DEFAULTS
                if problem:
                    severity = ("critical" if reachable else "high" if on else "medium") if default else \
                        ("high" if reachable else "medium" if on else "low")
                    self.add("asterisk-ami-weak-secret", severity, secret.file, secret.line, s.name,
                             f"the secret of AMI user {s.name} is {problem}"
                             + ("" if on else " (AMI is off now)"),
                             "a secret of at least 10 characters mixing upper case, lower case and digits (FreePBX: "
                             "change AMPMGRPASS in /etc/amportal.conf too)")
            if not _has_acl(s):
                self.add("asterisk-ami-no-acl", "high" if exposed else "low", s.file, s.line, s.name,
                         f"AMI user {s.name} may log in from any address{_acl_hint(s)}"
                         + ("" if exposed else " that reaches the AMI port"),
                         "deny=0.0.0.0/0.0.0.0 then permit=127.0.0.1/255.255.255.255 (and the management hosts) in "
                         f"[{s.name}]")

    # dialplan ----------------------------------------------------------------------------------------------------
    def dialplan(self, conf: Conf | None) -> None:
        plan = Dialplan(conf) if conf else None
        routes: dict[str, tuple] = {}
        if plan is not None:
            for context in plan.contexts:
                if context.lower() in INBOUND_NAMES and context not in self.entries:
                    self.entries[context] = {"reasons": ["named as an inbound or default context"], "open": False}
            for context in self.entries:
                found = plan.reach(context)
                if found:
                    routes[context] = found
        for check, file, line, subject, context, message, fix in self.guests:
            if plan is None:
                severity, tail = "high", f"; its calls land in context {context} (no extensions.conf read beside it)"
            elif context not in plan.contexts:
                severity, tail = "medium", f"; its context {context} is not in the extensions.conf read"
            elif context in routes:
                severity, tail = "high", f"; its context {context} reaches an outbound route"
            else:
                severity, tail = "medium", f"; its context {context} reaches no outbound route"
            self.add(check, severity, file, line, subject, message + tail, fix)
        for context, (kind, chain, pattern, tech, file, line) in routes.items():
            info = self.entries[context]
            head = plan.contexts[context][0]
            severity = {(True, "international"): "critical", (True, "outbound"): "high",
                        (False, "international"): "high", (False, "outbound"): "medium"}[(info["open"], kind)]
            self.add("asterisk-open-context-outbound", severity, head.file, head.line, context,
                     f"context {context} ({'; '.join(info['reasons'][:2])}) reaches an {kind} route: {chain}: "
                     f"{pattern} dials {tech} ({_where(file, line)})",
                     f"keep {context} to your own extensions and numbers: remove the include or Goto that leads to "
                     "the route, and dial out only from the contexts of authenticated phones"
                     + (" (and stop unauthenticated calls: allowguest=no, no anonymous or guest account)"
                        if info["open"] else ""))


# --- the dialplan ---------------------------------------------------------------------------------------------------

@dataclass
class Step:
    ext: str
    app: str
    file: str
    line: int
    jumps: list = field(default_factory=list)
    dials: dict = field(default_factory=dict)   # "EXTEN"/"ARG" -> trunk technologies Dial sends that number to


CALL = re.compile(r"\b(Dial|Goto|GotoIf|Gosub|GosubIf|Macro|DISA)\s*\(", re.I)
NUMBER = re.compile(r"\$\{(EXTEN|ARG\d)")


def _inner(text: str, start: int) -> str:
    """What the parenthesis opening at ``start`` holds."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return text[start + 1:i]
    return text[start + 1:]


def _split(text: str, sep: str = ",") -> list[str]:
    """``text`` split on ``sep`` outside parentheses, braces and brackets."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [p.strip() for p in out]


def _tokens(pattern: str) -> list[str | set]:
    """A ``_`` pattern as a list of character sets, with ``.`` and ``!`` kept as they are."""
    out: list = []
    i, p = 0, pattern
    while i < len(p):
        c = p[i]
        if c in ".!":
            out.append(c)
        elif c in "Xx":
            out.append(set("0123456789"))
        elif c in "Zz":
            out.append(set("123456789"))
        elif c in "Nn":
            out.append(set("23456789"))
        elif c == "[":
            j = p.find("]", i)
            body = p[i + 1:j if j > 0 else len(p)]
            chars = set()
            k = 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    chars.update(chr(x) for x in range(ord(body[k]), ord(body[k + 2]) + 1))
                    k += 3
                else:
                    chars.add(body[k])
                    k += 1
            out.append(chars)
            i = j if j > 0 else len(p)
        else:
            out.append({c})
        i += 1
    return out


def _starts(tokens: list, prefix: str, literal: int = 0) -> bool:
    """Whether the pattern matches some number that begins with ``prefix``, its first ``literal`` characters
    written as themselves (``_011.`` and ``_01.`` open 011, ``_0[1-9].`` is a national pattern)."""
    for i, ch in enumerate(prefix):
        if i >= len(tokens):
            return False
        t = tokens[i]
        if t in (".", "!"):
            return i >= literal
        if ch not in t or (i < literal and t != {ch}):
            return False
    return True


def _abroad(tokens: list) -> bool:
    """00, + or 011, after an optional access digit 9 (written as itself)."""
    for body in (tokens, tokens[1:] if tokens and tokens[0] == {"9"} else None):
        if body and (_starts(body, "00") or _starts(body, "+") or _starts(body, "011", 2)):
            return True
    return False


def _matches(pattern: str, ext: str) -> bool:
    if not pattern.startswith("_"):
        return pattern == ext
    tokens = _tokens(pattern[1:])

    def go(i: int, j: int) -> bool:
        if i == len(tokens):
            return j == len(ext)
        t = tokens[i]
        if t in (".", "!"):
            return any(go(i + 1, k) for k in range(j + (1 if t == "." else 0), len(ext) + 1))
        return j < len(ext) and ext[j] in t and go(i + 1, j + 1)
    return go(0, 0)


def route_kind(pattern: str) -> str | None:
    """``international`` when the pattern lets a number abroad through, ``outbound`` for one long or open enough
    to be a public number, None for an internal extension's."""
    if not pattern.startswith("_"):
        return None
    tokens = _tokens(pattern[1:])
    variable = any(t in (".", "!") for t in tokens)
    length = len([t for t in tokens if t not in (".", "!")])
    if not variable and length < 7:
        return None
    if _abroad(tokens):
        return "international"
    return "outbound"


def _narrower(a: str | None, b: str | None) -> str | None:
    """Of two patterns the number passed through, the one that lets the fewer numbers abroad."""
    if a is None or b is None:
        return a or b
    return a if _weaker(route_kind(a), route_kind(b)) == route_kind(a) else b


def _weaker(a: str | None, b: str | None) -> str | None:
    order = {None: 0, "outbound": 1, "international": 2}
    return a if order[a] <= order[b] else b


def _trunk(dialstring: str) -> str | None:
    """The technology of a dial string that sends the dialled number to a trunk (SIP/trunk/${EXTEN},
    PJSIP/${EXTEN}@trunk, IAX2/…, DAHDI/g0/…, ${TRUNK}/${EXTEN}); None for a local phone (SIP/${EXTEN})."""
    m = re.match(r"(\$\{[^}]*\}|[A-Za-z0-9]+)/(.+)", dialstring.strip())
    if not m or not NUMBER.search(m.group(2)):
        return None
    tech, res = m.group(1), m.group(2)
    if tech.lower() == "local":
        return None
    if tech.startswith("${"):
        return "a trunk variable"
    if "/" in res or "@" in res:
        return tech.upper()
    return None


class Dialplan:
    """The contexts of extensions.conf: their priorities (globals expanded) and includes."""

    def __init__(self, conf: Conf):
        self.globals: dict[str, str] = {}
        for s in conf.concrete("globals"):
            for e in s.entries:
                self.globals[e.key.upper()] = e.value
        self.contexts: dict[str, list[Section]] = {}
        self.steps: dict[str, list[Step]] = {}
        self.includes: dict[str, list[tuple[str, str, int]]] = {}
        self.literal: dict[str, dict[str, list[Step]]] = {}   # context -> extension -> its priorities
        self.patterns: dict[str, list[Step]] = {}             # context -> the priorities of its _patterns
        for s in conf.concrete():
            if s.name in ("general", "globals"):
                continue
            self.contexts.setdefault(s.name, []).append(s)
            steps = self.steps.setdefault(s.name, [])
            literal = self.literal.setdefault(s.name, {})
            patterns = self.patterns.setdefault(s.name, [])
            includes = self.includes.setdefault(s.name, [])
            last = None
            for e in s.entries:
                if e.key == "include":
                    includes.append((_split(e.value.replace("|", ","))[0], e.file, e.line))
                elif e.key == "exten":
                    parts = e.value.split(",", 2)
                    last = parts[0].split("/", 1)[0].strip()   # _X./5551212: a caller ID match follows the slash
                    if len(parts) == 3 and parts[1].strip().lower() != "hint":
                        steps.append(self._step(s.name, last, parts[2], e))
                elif e.key == "same" and last is not None:
                    parts = e.value.split(",", 1)
                    if len(parts) == 2:
                        steps.append(self._step(s.name, last, parts[1], e))
            for step in steps[len(patterns) + sum(map(len, literal.values())):]:
                if step.ext.startswith("_"):
                    patterns.append(step)
                else:
                    literal.setdefault(step.ext, []).append(step)

    def _step(self, ctx: str, ext: str, app: str, e: Entry) -> Step:
        app = self.expand(app)
        return Step(ext, app, e.file, e.line, list(self._jumps(app, ctx)),
                    {var: list(self._dials(app, var)) for var in ("EXTEN", "ARG")})

    def expand(self, text: str) -> str:
        """``${NAME}`` and ``${GLOBAL(NAME)}`` of [globals] replaced by their values (the dialled number's kept)."""
        def value(m: re.Match) -> str:
            return self.globals.get(m.group(1).upper(), m.group(0))
        for _ in range(5):
            new = re.sub(r"\$\{GLOBAL\(([A-Za-z0-9_]+)\)\}", value, text)
            new = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", value, new)
            if new == text:
                break
            text = new
        return text

    def reach(self, start: str):
        """(kind, chain, pattern, tech, file, line) of the worst outbound route a caller into ``start`` reaches
        (international before national, the shortest chain first), or None.

        A state is (context, extension, in_args, pattern): extension None when the caller picks the number
        (every extension of the context answers), in_args when a subroutine holds the number in ${ARGn}, and
        pattern the extension pattern that let the caller's number in."""
        if start not in self.contexts:
            return None
        first = (start, None, False, None)
        parent: dict = {first: None}
        queue = deque([first])
        best = None
        while queue and len(parent) < MAX_STATES and not (best and best[0] == "international"):
            state = queue.popleft()
            ctx, ext, in_args, pattern = state
            for inc, file, line in self.includes.get(ctx, []):
                self._push(queue, parent, (inc, ext, in_args, pattern), state, "include", file, line)
            if ext is None:
                steps = self.steps.get(ctx, [])
            else:
                steps = self.literal.get(ctx, {}).get(ext, []) + [
                    p for p in self.patterns.get(ctx, []) if _matches(p.ext, ext)]
            for step in steps:
                picked = ext is None and step.ext.startswith("_")   # the caller's number is ${EXTEN} here
                number = step.ext if picked else pattern if in_args else None
                if number is None:
                    kinds = None
                else:
                    kinds = _weaker(route_kind(number), route_kind(pattern)) if picked and pattern else \
                        route_kind(number)
                if kinds and (picked or in_args):
                    for tech in step.dials["ARG" if in_args else "EXTEN"]:
                        best = self._better(best, (kinds, self._chain(parent, state), number, tech, step.file,
                                                   step.line))
                carries = picked or in_args
                held = "${ARG" if in_args else "${EXTEN"   # where this priority sees the caller's number
                for how, target, to_ext, args in step.jumps:
                    if carries and kinds and args and held in args.upper():
                        for tech in self._arg_dials(target, args):   # Gosub(sub,s,1(SIP/trunk/${EXTEN}))
                            best = self._better(best, (kinds, self._chain(parent, state), number, tech,
                                                       step.file, step.line))
                    if target not in self.contexts:
                        continue
                    if how == "DISA":   # a dial tone: the caller dials any number in the target context
                        nxt = (target, None, False, None)
                    elif carries and held in (to_ext or "").upper():
                        exact = to_ext.upper() in ("${EXTEN}", "${ARG1}")
                        nxt = (target, None, False, _narrower(number, pattern if picked else None) if exact else None)
                    elif carries and args and held in args.upper():
                        nxt = (target, to_ext or "s", True, number)
                    elif to_ext and "$" not in to_ext:
                        nxt = (target, to_ext, in_args and how.startswith("Goto"), pattern if in_args else None)
                    else:
                        continue
                    self._push(queue, parent, nxt, state, how, step.file, step.line)
        return best

    @staticmethod
    def _better(best, found):
        if best is None or (found[0] == "international" and best[0] != "international"):
            return found
        return best

    @staticmethod
    def _push(queue, parent, nxt, state, how, file, line) -> None:
        if nxt not in parent:
            parent[nxt] = (state, f"{how} {_where(file, line)}")
            queue.append(nxt)

    @staticmethod
    def _chain(parent, state) -> str:
        hops = []
        while parent.get(state):
            prev, how = parent[state]
            hops.append(f"-({how})-> {state[0]}")
            state = prev
        hops.reverse()
        if len(hops) > 4:
            hops = [*hops[:2], f"…{len(hops) - 4} more…", *hops[-2:]]
        return " ".join([state[0], *hops])

    @staticmethod
    def _dials(app: str, var: str):
        """The trunk technologies ``app``'s Dial sends the number to (in ${EXTEN}, or ${ARGn} in a subroutine)."""
        for m in CALL.finditer(app):
            if m.group(1).lower() == "dial":
                for ds in _split(_inner(app, m.end() - 1))[0].split("&"):
                    tech = _trunk(ds)
                    if tech and "${" + var in ds.upper():
                        yield tech

    @staticmethod
    def _arg_dials(target: str, args: str):
        """A subroutine handed a trunk's dial string with the number, or FreePBX's dialout-trunk macro handed the
        number (outbound routes call it as Macro(dialout-trunk,1,${EXTEN},…))."""
        if "dialout" in target.lower():
            yield target
            return
        for part in _split(args):
            for ds in part.split("&"):
                tech = _trunk(ds)
                if tech and re.search(r"\$\{(EXTEN|ARG\d)", ds):
                    yield tech

    @staticmethod
    def _jumps(app: str, ctx: str):
        """(how, context, extension, arguments) of each Goto, GotoIf, Gosub, GosubIf, Macro, DISA and
        Dial(Local/…@context) in ``app``; a jump within the context names ``ctx``."""
        for m in CALL.finditer(app):
            name = m.group(1).lower()
            body = _inner(app, m.end() - 1)
            if name == "dial":
                for ds in _split(body)[0].split("&"):
                    lm = re.match(r"\s*Local/([^@]+)@([^/,]+)", ds, re.I)
                    if lm:
                        yield "Local", lm.group(2).strip(), lm.group(1).strip(), None
            elif name == "macro":
                parts = _split(body)
                yield "Macro", f"macro-{parts[0]}", "s", ",".join(parts[1:])
            elif name == "disa":
                parts = _split(body)
                yield "DISA", (parts[1] if len(parts) > 1 and parts[1] else "disa"), None, None
            else:
                how = {"goto": "Goto", "gotoif": "GotoIf", "gosub": "Gosub", "gosubif": "GosubIf"}[name]
                labels = _split(body.partition("?")[2], ":") if name.endswith("if") else [body]
                for label in labels:
                    args = None
                    if name.startswith("gosub"):
                        lm = re.match(r"(.*?)\((.*)\)\s*$", label)
                        if lm:
                            label, args = lm.group(1), lm.group(2)
                    parts = _split(label)
                    if len(parts) == 3:
                        yield how, parts[0], parts[1], args
                    elif len(parts) == 2:
                        yield how, ctx, parts[0], args


# --- the module's entry point ---------------------------------------------------------------------------------------

def audit(files: list[Path]) -> tuple[list[Finding], list[str]]:
    """(findings, the files this module read) for the Asterisk files among ``files``."""
    allowed = {}
    for f in files:
        try:
            allowed.setdefault(f.resolve(), f)
        except OSError:
            continue
    folders: dict[Path, dict[str, Path]] = {}
    for f in files:
        kind = NAMES.get(f.name)
        if kind:
            folders.setdefault(f.parent, {}).setdefault(kind, f)
    findings: list[Finding] = []
    looked: list[str] = []
    for folder, found in folders.items():
        confs = {kind: parse(path, kind, folder, allowed) for kind, path in found.items()}
        for c in confs.values():
            looked.extend(x for x in c.files if x not in looked)
        pbx = Pbx(confs)
        findings.extend(pbx.run())
    return findings, looked
