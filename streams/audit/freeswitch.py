"""Audit of FreeSWITCH configuration: vars.xml, the directory, the SIP profiles, acl.conf.xml and the
event socket (docs/audit.md lists the checks).

Files are recognised by name and place: ``vars.xml``, ``directory/**/*.xml``, ``sip_profiles/**/*.xml``
(and an inline ``sofia.conf.xml``), ``acl.conf.xml`` and ``event_socket.conf.xml``. The files of one
FreeSWITCH tree (the folder that holds ``vars.xml``, ``directory/``, ``sip_profiles/`` and
``autoload_configs/``) are judged together: ``$${name}`` is expanded with the values ``vars.xml`` sets
(``<X-PRE-PROCESS cmd="set" data="name=value"/>``), as FreeSWITCH's preprocessor does.

What FreeSWITCH does with these settings (mod_sofia, mod_event_socket):

- a directory user with neither ``password`` nor ``a1-hash`` (in its params or its domain's or group's)
  is authenticated whatever password a phone sends;
- ``auth-calls`` false: a call is taken without a password, from anyone when there is no
  ``apply-inbound-acl``, else only from the addresses the ACL allows (the others get 403);
- ``auth-calls`` true: the addresses ``apply-inbound-acl`` allows are let in WITHOUT a password, the
  others must authenticate; ``accept-blind-auth`` lets every call in without checking;
- ``apply-register-acl``: the addresses it allows register without a password, the others get 403;
  a user's ``auth-acl`` param restricts where that user may register from and still asks the password;
- the event socket listens on 127.0.0.1 with the password ``ClueCon`` unless told otherwise.

XML is read with expat and nothing else: a DOCTYPE or ENTITY declaration is refused before parsing
(no entity expansion, no external entity), and every element keeps the line it starts on.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path

from streams.audit import Finding, Source, read
from streams.audit.passwords import DEFAULTS, name_weakness, weakness

GUIDE = {
    "cred": "Endpoint Security: Use Complex Credentials for SIP Registration",
    "login": "Endpoint Security: Strong Password for Manual Login",
    "ip": "Endpoint Security: Restrict Extension Registration by IP Address",
    "remote": "Endpoint Security: Restrict Remote Registration",
    "static": "Network Security: Restrict Access to PBX by Static Firewall Rules",
    "forward": "Network Security: Avoid Port Forwarding for Remote Access",
    "ports": "System Security: Change default ports",
    "audit": "Overview: reduce the vulnerabilities with regular audit",
}
CHECKS = {
    "freeswitch-default-password": ("vars.xml's default_password is the value FreeSWITCH ships, or weak", GUIDE["cred"]),
    "freeswitch-weak-password": ("a directory user's SIP password breaks the guide's rules", GUIDE["cred"]),
    "freeswitch-password-is-extension": ("a directory user's password is its own extension number", GUIDE["cred"]),
    "freeswitch-shared-password": ("several directory users have the same password", GUIDE["cred"]),
    "freeswitch-no-password": ("a directory user without password or a1-hash: any password is accepted", GUIDE["cred"]),
    "freeswitch-registration-name": ("a user's registration (auth) name is its extension number", GUIDE["cred"]),
    "freeswitch-weak-voicemail-pin": ("a voicemail PIN that is short, a default or the extension number", GUIDE["login"]),
    "freeswitch-blind-register": ("accept-blind-reg: anyone may register as any user", GUIDE["remote"]),
    "freeswitch-blind-auth": ("accept-blind-auth: calls are taken whatever credentials they carry", GUIDE["remote"]),
    "freeswitch-unauthenticated-calls": ("auth-calls false on a reachable profile with no inbound ACL", GUIDE["static"]),
    "freeswitch-acl-allows-all": ("an ACL that allows every address, where it lets requests in without a password",
                                  GUIDE["static"]),
    "freeswitch-registration-from-anywhere": ("users may register from any address (no auth-acl, no register ACL)",
                                              GUIDE["ip"]),
    "freeswitch-default-port": ("a reachable profile on a well-known SIP port", GUIDE["ports"]),
    "freeswitch-tls-off": ("no profile offers TLS while one is reachable from outside", GUIDE["remote"]),
    "freeswitch-esl-exposed": ("the event socket (full control of the switch) listens beyond this host", GUIDE["forward"]),
    "freeswitch-esl-default-password": ("the event socket's password is the one FreeSWITCH ships (or unset)", GUIDE["login"]),
    "freeswitch-esl-weak-password": ("the event socket's password breaks the guide's rules", GUIDE["login"]),
    "freeswitch-unparsed": ("a FreeSWITCH file that could not be read as XML, so was not judged", GUIDE["audit"]),
}

MARKERS = ("directory", "sip_profiles", "autoload_configs")
TRUE = {"yes", "on", "true", "t", "enabled", "active", "allow"}
ALLOW_ALL_BUILTIN = {"wan.auto", "wan_v4.auto", "wan_v6.auto", "any_v4.auto", "any_v6.auto"}
WELL_KNOWN_SIP_PORTS = {5060, 5061, 5080, 5081}
PIN_MIN = 6
LIST_USERS = 8  # users named in one finding; the rest are counted
MAX_EXPANDED = 64 * 1024  # characters a $${variable} may expand to
VAR = re.compile(r"\$\$\{([^}]*)\}")
PRIVATE_NETS = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10")]


# ---------------------------------------------------------------- XML, with lines, safely

class Node:
    __slots__ = ("tag", "attrs", "line", "children", "parent")

    def __init__(self, tag: str, attrs: dict, line: int, parent: "Node | None"):
        self.tag, self.attrs, self.line, self.parent = tag, attrs, line, parent
        self.children: list[Node] = []

    def iter(self, tag: str | None = None):
        """This node and every node under it, in document order (no recursion: nesting may be deep)."""
        todo = [self]
        while todo:
            n = todo.pop()
            if tag is None or n.tag == tag:
                yield n
            todo.extend(reversed(n.children))

    def kids(self, tag: str) -> list["Node"]:
        return [c for c in self.children if c.tag == tag]

    def ancestor(self, tag: str) -> "Node | None":
        n = self.parent
        while n is not None and n.tag != tag:
            n = n.parent
        return n


class Unsafe(ValueError):
    pass


_DECL = re.compile(r"<!\s*(DOCTYPE|ENTITY)\b", re.I)


def parse_xml(text: str) -> Node:
    """The document as a tree of Nodes (each with the line it starts on). Raises Unsafe for a DOCTYPE
    or ENTITY declaration (refused before any parsing, even one inside a comment: FreeSWITCH's files have
    none), ValueError when the XML is not well formed."""
    if _DECL.search(text):
        raise Unsafe("it holds a DOCTYPE or ENTITY declaration, refused unread (entity expansion)")
    text = re.sub(r"^\ufeff?\s*<\?xml[^>]*\?>", lambda m: "\n" * m.group().count("\n"), text)
    try:
        return _expat(text)
    except ValueError as exc:
        if "junk after document element" not in str(exc):
            raise
        return _expat("<x-root>" + text + "</x-root>")  # several top-level elements; same lines


def _expat(text: str) -> Node:
    p = xml.parsers.expat.ParserCreate()
    root = Node("#document", {}, 1, None)
    stack = [root]

    def start(tag, attrs):
        n = Node(tag, attrs, p.CurrentLineNumber, stack[-1])
        stack[-1].children.append(n)
        stack.append(n)

    def end(tag):
        stack.pop()

    def refuse(*_):
        raise Unsafe("it holds a DOCTYPE or ENTITY declaration, refused unread (entity expansion)")

    p.StartElementHandler, p.EndElementHandler = start, end
    p.StartDoctypeDeclHandler = refuse
    p.EntityDeclHandler = refuse
    try:
        p.Parse(text, True)
    except xml.parsers.expat.ExpatError as exc:
        raise ValueError(f"line {exc.lineno}: {xml.parsers.expat.ErrorString(exc.code)}") from None
    return root


# ---------------------------------------------------------------- the tree of one FreeSWITCH install

def _kind(path: Path) -> str | None:
    name, parts = path.name.lower(), [p.lower() for p in path.parts[:-1]]
    if not name.endswith(".xml"):
        return None
    if name == "vars.xml":
        return "vars"
    if name == "acl.conf.xml":
        return "acl"
    if name == "event_socket.conf.xml":
        return "esl"
    if name == "sofia.conf.xml" or "sip_profiles" in parts:
        return "profile"
    if "directory" in parts:
        return "directory"
    return None


def _root(path: Path) -> Path:
    parts = [p.lower() for p in path.parts]
    at = max((i for i, p in enumerate(parts[:-1]) if p in MARKERS), default=None)
    return Path(*path.parts[:at]) if at else path.parent


@dataclass
class Doc:
    kind: str
    src: Source
    root: Node


@dataclass
class User:
    id: str
    alias: str | None
    file: str
    line: int
    params: dict = field(default_factory=dict)      # name -> (raw value, line), own then inherited
    variables: dict = field(default_factory=dict)   # name -> raw value

    @property
    def extension(self) -> str | None:
        return self.alias or (self.id if self.id.isdigit() else None)


def audit(files: list[Path]) -> tuple[list[Finding], list[str]]:
    trees: dict[Path, list[tuple[str, Path]]] = {}
    for path in files:
        kind = _kind(path)
        if kind:
            trees.setdefault(_root(path), []).append((kind, path))
    findings: list[Finding] = []
    looked: list[str] = []
    for root, items in sorted(trees.items()):
        got, seen = Tree(root, items).judge()
        findings.extend(got)
        looked.extend(seen)
    return findings, looked


class Tree:
    def __init__(self, root: Path, items: list[tuple[str, Path]]):
        self.root = root
        self.docs: list[Doc] = []
        self.out: list[Finding] = []
        self.looked: list[str] = []
        for kind, path in sorted(items, key=lambda kp: (kp[0] != "vars", str(kp[1]))):
            src = read(path)
            if src is None:
                continue
            try:
                node = parse_xml(src.text)
            except ValueError as exc:
                if _looks_freeswitch(src.text):
                    self.looked.append(src.name)
                    self.find("freeswitch-unparsed", "low", src.name, _line_of(exc), path.name,
                              f"not judged: {exc}",
                              "make it well-formed XML (FreeSWITCH refuses it too), then run the audit again")
                continue
            self.docs.append(Doc(kind, src, node))
        self.vars = self._vars()

    def find(self, check, severity, file, line, subject, message, fix):
        self.out.append(Finding(check, severity, file, line, subject, message, CHECKS[check][1], fix))

    # -------------------------------------------------------------- $${variables}

    def _vars(self) -> dict[str, tuple[str | None, str, int]]:
        """name -> (value, file, line); value None when only known at run time (exec-set, env-set)."""
        out: dict[str, tuple[str | None, str, int]] = {}
        for doc in self.docs:  # vars.xml first, as freeswitch.xml reads it first
            for n in doc.root.iter("X-PRE-PROCESS"):
                cmd, data = n.attrs.get("cmd", ""), n.attrs.get("data", "")
                if cmd in ("set", "stun-set", "env-set", "exec-set") and "=" in data:
                    name, value = data.split("=", 1)
                    name = name.strip()
                    if doc.kind != "vars" and name in out and out[name][1].endswith("vars.xml"):
                        continue
                    out[name] = (value if cmd in ("set", "stun-set") else None, doc.src.name, n.line)
        return out

    def expand(self, value: str | None) -> str | None:
        """``value`` with every $${name} the tree sets replaced; a name it does not set (or only at run
        time) stays as written. Variables that expand into each other stop after 8 rounds or MAX_EXPANDED
        characters (then the value is left as written: unresolved, not judged)."""
        if value is None:
            return None
        original = value
        for _ in range(8):
            new = VAR.sub(lambda m: self.vars[m.group(1)][0]
                          if m.group(1) in self.vars and self.vars[m.group(1)][0] is not None else m.group(0), value)
            if new == value:
                break
            if len(new) > MAX_EXPANDED:
                return original
            value = new
        return value

    @staticmethod
    def resolved(value: str | None) -> bool:
        return value is not None and "$${" not in value and "${" not in value

    # -------------------------------------------------------------- judging

    def judge(self) -> tuple[list[Finding], list[str]]:
        acls = self._acls()
        users = self._users()
        self._default_password(users)
        self._users_judged(users)
        self._profiles(acls, users)
        self._esl(acls)
        for doc in self.docs:
            if doc.kind == "vars" or _holds(doc):
                self.looked.append(doc.src.name)
        return self.out, sorted(set(self.looked))

    def _default_password(self, users: list[User]) -> None:
        got = self.vars.get("default_password")
        if not got or got[0] is None or not got[1].endswith("vars.xml"):
            return
        value = self.expand(got[0])
        if not self.resolved(value):
            return
        users_of = [u.id for u in users if "$${default_password}" in u.params.get("password", ("", 0))[0]]
        used = f"; {len(users_of)} user(s) use it ({_names(users_of)})" if users_of else ""
        if value == "1234":
            self.find("freeswitch-default-password", "critical", got[1], got[2], "default_password",
                      "default_password is the stock value FreeSWITCH ships (a well-known default), the first "
                      "password a scanner tries" + used,
                      "set default_password to a long random value, and give every user a password of its own "
                      "(mixed case and digits, 8 characters or more) instead of $${default_password}")
        elif (why := weakness(value, "registration")):
            self.find("freeswitch-default-password", "high", got[1], got[2], "default_password",
                      f"default_password is {why}" + used,
                      "set default_password to a long random value (upper and lower case and digits, 8 characters "
                      "or more, no repeated or consecutive digits)")

    # directory ---------------------------------------------------------

    def _users(self) -> list[User]:
        context = self._included_into()
        users: list[User] = []
        for doc in self.docs:
            if doc.kind != "directory":
                continue
            for n in doc.root.iter("user"):
                if n.attrs.get("type") == "pointer" or not n.attrs.get("id"):
                    continue
                u = User(self.expand(n.attrs["id"]) or "", self.expand(n.attrs.get("number-alias")),
                         doc.src.name, n.line)
                outer = [n.ancestor("group"), n.ancestor("domain")]
                if outer == [None, None]:
                    outer = list(context.get(doc.src.name, (None, None)))
                for holder in [n, *[o for o in outer if o is not None]]:  # own params win, then group, domain
                    for p in holder.kids("params"):
                        for q in p.kids("param"):
                            if q.attrs.get("name"):
                                u.params.setdefault(q.attrs["name"].lower(), (q.attrs.get("value", ""), q.line))
                    for v in holder.kids("variables"):
                        for q in v.kids("variable"):
                            if q.attrs.get("name"):
                                u.variables.setdefault(q.attrs["name"], q.attrs.get("value", ""))
                users.append(u)
        return users

    def _included_into(self) -> dict[str, tuple[Node | None, Node | None]]:
        """file -> (group, domain) of the X-PRE-PROCESS include that pulls it into a domain of the directory
        (a relative pattern is tried from the including file's folder, then from the tree's root)."""
        out: dict[str, tuple[Node | None, Node | None]] = {}
        files = {d.src.name: Path(d.src.name).resolve() for d in self.docs if d.kind == "directory"}
        for doc in self.docs:
            if doc.kind != "directory":
                continue
            for n in doc.root.iter("X-PRE-PROCESS"):
                group, domain = n.ancestor("group"), n.ancestor("domain")
                if n.attrs.get("cmd") != "include" or (group is None and domain is None):
                    continue
                pattern = Path(self.expand(n.attrs.get("data", "")) or "")
                bases = [Path("/")] if pattern.is_absolute() else [Path(doc.src.name).parent, self.root]
                for base in bases:
                    full = (base / pattern.parent).resolve() / pattern.name
                    for name, resolved in files.items():
                        if name not in out and fnmatch.fnmatchcase(str(resolved), str(full)):
                            out[name] = (group, domain)
        return out

    def _users_judged(self, users: list[User]) -> None:
        by_password: dict[str, list[User]] = {}
        via_default: set[str] = set()
        for u in users:
            subject = f"user {u.id}"
            raw, line = u.params.get("password", (None, u.line))
            value = self.expand(raw)
            has_hash = bool(u.params.get("a1-hash", ("", 0))[0])
            if (raw is None or value == "") and not has_hash:
                context = u.variables.get("user_context")
                severity = "critical" if context and context != "public" else "medium"
                where = f"its calls run in context {context}" if context else \
                    "its calls run in the profile's context"
                self.find("freeswitch-no-password", severity, u.file, line if raw is not None else u.line, subject,
                          f"no password and no a1-hash: FreeSWITCH accepts any password for this user, so "
                          f"anyone may register as it and call ({where})",
                          "give it a password param of its own (upper and lower case and digits, 8 characters or "
                          "more), or remove the user")
            elif raw is not None and value and self.resolved(value):
                ext = u.extension
                default_note = ", from $${default_password} in vars.xml" if "$${default_password}" in raw else ""
                if value.lower() in {u.id.lower(), (u.alias or "").lower()}:
                    self.find("freeswitch-password-is-extension", "critical", u.file, line, subject,
                              "the password is the user's own extension number: the first guess of every scanner"
                              + default_note,
                              "set a password of its own: upper and lower case and digits, 8 characters or more, "
                              "without the extension number")
                elif (why := weakness(value, "registration", extension=ext,
                                      name=None if u.id.isdigit() else u.id)):
                    severity = "critical" if "well-known default" in why else "high"
                    self.find("freeswitch-weak-password", severity, u.file, line, subject,
                              f"password {why}{default_note}",
                              "set a password of its own: upper and lower case and digits, 8 characters or more, "
                              "no repeated or consecutive digits, neither the extension number nor its name")
                if value:
                    by_password.setdefault(value, []).append(u)
                    if default_note:
                        via_default.add(value)
            if (raw is not None and value) or has_hash:
                if (why := name_weakness(u.id, u.extension)):
                    self.find("freeswitch-registration-name", "low", u.file, u.line, subject,
                              f"{why} ({u.id}): a scanner that knows the number needs only the password",
                              "make the user id a random registration name (the guide's example: 1DhZSD57bG) and "
                              "keep the extension number as its number-alias")
            self._pin(u, subject)
        for value, group in by_password.items():
            if len(group) < 2:
                continue
            group.sort(key=lambda u: (u.file, u.line))
            ids = [u.id for u in group]
            how = " (they use $${default_password})" if value in via_default else ""
            self.find("freeswitch-shared-password", "high", group[0].file, group[0].params["password"][1],
                      f"users {_names(ids, 3)}",
                      f"{len(group)} users share one password{how}: {_names(ids)}; whoever learns one has them all",
                      "give every user a password of its own")

    def _pin(self, u: User, subject: str) -> None:
        raw, line = u.params.get("vm-password", (None, u.line))
        pin = self.expand(raw)
        if raw is None or not self.resolved(pin) or pin in ("", "user-choose"):
            return
        problems = []
        if pin.lower() in {u.id.lower(), (u.alias or "").lower()}:
            problems.append("the extension number")
        elif u.extension and len(u.extension) >= 2 and u.extension in pin:
            problems.append("contains the extension number")
        if pin.lower() in DEFAULTS or len(set(pin)) == 1:
            problems.append("a well-known default")
        if len(pin) < PIN_MIN:
            problems.append(f"{len(pin)} characters, under {PIN_MIN}")
        if _runs(pin):
            problems.append("repeated or consecutive digits")
        if problems:
            self.find("freeswitch-weak-voicemail-pin", "medium", u.file, line, subject,
                      "voicemail PIN (vm-password) weak (" + "; ".join(problems) + "): whoever guesses it reads the "
                      "messages and may change the mailbox's forwarding",
                      f"set a vm-password of {PIN_MIN} digits or more, not the extension, without repeated or "
                      "consecutive digits (or user-choose, so the user sets one at first login)")

    # ACLs --------------------------------------------------------------

    def _acls(self) -> dict[str, tuple[bool, str, int, str]]:
        """list name -> (allows every address, file, line, why)."""
        out: dict[str, tuple[bool, str, int, str]] = {}
        for doc in self.docs:
            if doc.kind != "acl":
                continue
            for n in doc.root.iter("list"):
                name = self.expand(n.attrs.get("name", "")) or ""
                default = (self.expand(n.attrs.get("default", "deny")) or "").lower()
                why = ""
                if default == "allow":
                    why = 'default="allow": every address it does not deny'
                for node in n.kids("node"):
                    cidr = self.expand(node.attrs.get("cidr", "")) or ""
                    if node.attrs.get("type", "").lower() == "allow" and re.search(r"/0$", cidr.strip()):
                        why = why or f"it allows {cidr.strip()}: every address"
                out[name.lower()] = (bool(why), doc.src.name, n.line, why)
        return out

    def _opens(self, values: list[str], acls) -> str | None:
        """Why the ACLs named (every one must allow an address) allow every address, or None."""
        if not values:
            return None
        whys = []
        for v in values:
            name = v.split(":", 1)[0].strip().lower()
            if name in ALLOW_ALL_BUILTIN:
                whys.append(f"{name} (built in: every address outside the private ranges)")
            elif name in acls and acls[name][0]:
                _, file, line, why = acls[name]
                whys.append(f"list {name} ({file}:{line}, {why})")
            else:
                return None
        return "; ".join(whys)

    # profiles ----------------------------------------------------------

    def _profiles(self, acls, users: list[User]) -> None:
        profiles = []
        for doc in self.docs:
            if doc.kind != "profile":
                continue
            for n in doc.root.iter("profile"):
                params: dict[str, list[tuple[str, int]]] = {}
                for s in n.kids("settings"):
                    for q in s.kids("param"):
                        name = q.attrs.get("name", "").lower()
                        value = self.expand(q.attrs.get("value", "")) or ""
                        if name in ("apply-inbound-acl", "apply-register-acl") and value.strip().lower() == "none":
                            params[name] = []
                            continue
                        params.setdefault(name, []).append((value, q.line))
                profiles.append((doc, n, params))
        tls_values = [_flag(_last(p, "tls")) for _, _, p in profiles]
        tls_unknown = None in tls_values and not any(tls_values)  # a $${variable} this tree does not set
        free_users = [u for u in users if not u.params.get("auth-acl", ("", 0))[0]
                      and (u.params.get("password") or u.params.get("a1-hash"))]
        for doc, n, p in profiles:
            self._profile(doc, n, p, acls, free_users, tls_values, tls_unknown)

    def _profile(self, doc, n, p, acls, free_users, tls_values, tls_unknown) -> None:
        """One SIP profile: who may register or call through it without a password, and how it is reached."""
        file, name = doc.src.name, self.expand(n.attrs.get("name", "")) or "?"
        subject = f"profile {name}"
        at = lambda key, default=n.line: p[key][-1][1] if p.get(key) else default  # noqa: E731
        exposed = self._exposed(p)
        auth_calls = _flag(_last(p, "auth-calls"))  # None: a $${variable} this tree does not set
        context = _last(p, "context") or "public"
        inbound = [v for v, _ in p.get("apply-inbound-acl", [])]
        register = [v for v, _ in p.get("apply-register-acl", [])]
        inbound_open = self._opens(inbound, acls)
        reach = exposed or "it listens on a private address only"
        self._profile_auth(file, subject, p, at, exposed, auth_calls, context, inbound, inbound_open, reach)
        self._profile_reach(file, subject, n, p, at, exposed, register, acls, free_users, tls_values, tls_unknown, reach)

    def _profile_auth(self, file, subject, p, at, exposed, auth_calls, context, inbound, inbound_open, reach) -> None:
        if _true(_last(p, "accept-blind-reg")):
            self.find("freeswitch-blind-register", "critical" if exposed else "high", file, at("accept-blind-reg"),
                      subject, f"accept-blind-reg is on: anyone may register as any user, without a password "
                      f"({reach})", "remove accept-blind-reg (or set it false)")
        if auth_calls is not False and _true(_last(p, "accept-blind-auth")):
            self.find("freeswitch-blind-auth", "critical" if exposed else "high", file, at("accept-blind-auth"),
                      subject, f"accept-blind-auth is on: calls are taken whatever credentials they carry, so "
                      f"anyone may call as any user ({reach})", "remove accept-blind-auth (or set it false)")
        if auth_calls is not False and inbound_open:
            self.find("freeswitch-acl-allows-all", "critical" if exposed else "high", file,
                      at("apply-inbound-acl"), subject,
                      f"apply-inbound-acl lets the addresses it allows call without a password, and it allows "
                      f"every address: {inbound_open} ({reach})",
                      "name a list with default=\"deny\" that allows only your carriers' and trusted addresses")
        if exposed and auth_calls is False and (not inbound or inbound_open):
            severity = {"public": "medium", "default": "critical"}.get(context, "high")
            what = "auth-calls is false" if p.get("auth-calls") else "auth-calls is not set (FreeSWITCH: false)"
            acl = f"its apply-inbound-acl allows every address ({inbound_open})" if inbound else \
                "there is no apply-inbound-acl"
            dial_out = " (the context your users dial out from)" if context == "default" else ""
            self.find("freeswitch-unauthenticated-calls", severity, file, at("auth-calls"), subject,
                      f"{what} and {acl}: anyone may send calls into context {context}{dial_out} without a "
                      f"password ({reach})",
                      "add apply-inbound-acl naming a list (default=\"deny\") of your carriers' addresses; "
                      "keep its context one that reaches no outbound route")

    def _profile_reach(self, file, subject, n, p, at, exposed, register, acls, free_users, tls_values, tls_unknown,
                       reach) -> None:
        register_open = self._opens(register, acls)
        if register_open:
            self.find("freeswitch-acl-allows-all", "critical" if exposed else "high", file,
                      at("apply-register-acl"), subject,
                      f"apply-register-acl lets the addresses it allows register without a password, and it "
                      f"allows every address: {register_open} ({reach})",
                      "remove apply-register-acl, or name a list with default=\"deny\" of trusted addresses; "
                      "give users an auth-acl param instead")
        registers = not _true(_last(p, "disable-register"))
        if exposed and registers and not register and free_users:
            ids = [u.id for u in free_users]
            self.find("freeswitch-registration-from-anywhere", "medium", file, n.line, subject,
                      f"{len(ids)} user(s) may register from any address ({_names(ids)}): no auth-acl param on "
                      f"them and no apply-register-acl on the profile ({reach})",
                      "give each user an auth-acl param (an acl.conf.xml list or a CIDR) naming where its phones "
                      "register from: the password is still asked. (apply-register-acl restricts too, but the "
                      "addresses it allows register without a password.)")
        if exposed:
            port = _last(p, "sip-port") or "5060"
            if port.isdigit() and int(port) in WELL_KNOWN_SIP_PORTS:
                self.find("freeswitch-default-port", "low", file, at("sip-port"), subject,
                          f"it listens on SIP port {port}, one every scanner tries ({reach})",
                          "move it to a non-standard port (and its tls-sip-port too), and tell the phones")
            if not any(tls_values) and not tls_unknown:
                self.find("freeswitch-tls-off", "low", file, at("tls"), subject,
                          f"no profile has tls on, so phones outside send their credentials' digest and calls "
                          f"in clear ({reach})",
                          "set tls true (with a certificate in tls-cert-dir) on the profile remote phones use, "
                          "and make them register over TLS")

    def _exposed(self, p) -> str | None:
        """How the profile is reachable from outside (words for the finding), or None when it is not."""
        ext = (_last(p, "ext-sip-ip") or "").strip()
        ip = (_last(p, "sip-ip") or "").strip()
        kind = _address(ip)
        if ext:
            ext_kind = _address(ext)
            if ext_kind in ("public", "any") or ext_kind == "unknown" and re.match(r"(stun|host|autonat|auto-nat|auto)",
                                                                                   ext, re.I):
                return f"reachable from outside: ext-sip-ip is {ext}"
        if kind == "public":
            return f"reachable from outside: sip-ip is the public address {ip}"
        if kind == "any":
            return f"reachable from outside: sip-ip is every address ({ip})"
        if kind == "unknown":
            return f"may be reachable from outside: sip-ip is {ip or 'not set'}, known only at run time"
        return None

    # event socket ------------------------------------------------------

    def _esl(self, acls) -> None:
        for doc in self.docs:
            if doc.kind != "esl":
                continue
            for settings in doc.root.iter("settings"):
                params: dict[str, list[tuple[str, int]]] = {}
                for q in settings.kids("param"):
                    params.setdefault(q.attrs.get("name", "").lower(), []).append(
                        (self.expand(q.attrs.get("value", "")) or "", q.line))
                self._esl_one(doc.src.name, settings.line, params, acls)

    def _esl_one(self, file: str, line: int, p, acls) -> None:
        subject = "event socket"
        at = lambda key: p[key][-1][1] if p.get(key) else line  # noqa: E731
        ip = (_last(p, "listen-ip") or "127.0.0.1").strip()
        kind = _address(ip)
        acl_values = [v for v, _ in p.get("apply-inbound-acl", []) if v]
        acl_open = self._opens(acl_values, acls)
        restricted = bool(acl_values) and not acl_open
        nat_map = _true(_last(p, "nat-map")) and kind != "loopback"
        exposed = kind != "loopback"
        if exposed and not restricted:
            reach = {"any": f"every address of the host ({ip})", "public": f"the public address {ip}",
                     "private": f"the LAN address {ip}"}.get(kind, ip)
            severity = "medium" if kind == "private" and not nat_map else "high"
            where = f"it listens on {reach}" + (" and nat-map asks the router to forward its port" if nat_map else "")
            acl = f"an apply-inbound-acl that allows every address ({acl_open})" if acl_values else \
                "no apply-inbound-acl"
            self.find("freeswitch-esl-exposed", severity, file, at("listen-ip"), subject,
                      f"{where}, with {acl}: whoever reaches port {_last(p, 'listen-port') or '8021'} and knows the "
                      "password controls the switch (originates calls, reads every event)",
                      "listen-ip 127.0.0.1 (or ::1); if another host must connect, add apply-inbound-acl naming a "
                      "list (default=\"deny\") of that host; nat-map false")
        password = _last(p, "password")
        reachable = exposed and not restricted
        if password is None or password == "" or password.lower() == "cluecon":
            how = "is not set, so it is the one FreeSWITCH ships" if not password else \
                "is the one FreeSWITCH ships (a well-known default)"
            self.find("freeswitch-esl-default-password", "critical" if reachable else "high" if exposed else "medium",
                      file, at("password"), subject,
                      f"the event socket password {how}, the first one anyone tries"
                      + ("" if exposed else " (it listens on loopback only: every local user and process can use it)"),
                      "set password to a long random value (12 characters or more) and update fs_cli.conf and "
                      "the ESL clients")
        elif self.resolved(password) and (why := weakness(password, "user")):
            self.find("freeswitch-esl-weak-password", "high" if reachable else "medium", file, at("password"), subject,
                      f"the event socket password is {why}",
                      "set password to a long random value (12 characters or more)")


# ---------------------------------------------------------------- helpers

def _last(params: dict, key: str) -> str | None:
    got = params.get(key)
    return got[-1][0] if got else None


def _flag(value: str | None) -> bool | None:
    """switch_true of a setting, None when it is a variable left unresolved (its value is not known here).
    A setting not given is false, as in mod_sofia."""
    if value is not None and ("$${" in value or "${" in value):
        return None
    return _true(value)


def _true(value: str | None) -> bool:
    """FreeSWITCH's switch_true."""
    if value is None:
        return False
    v = value.strip().lower()
    return v in TRUE or (v.lstrip("-").isdigit() and int(v) != 0)


def _address(value: str) -> str:
    """loopback, private, public, any (every address) or unknown (a name, a variable, auto)."""
    v = value.strip().strip("[]")
    if "/" in v:
        v = v.split("/", 1)[0]
    try:
        ip = ipaddress.ip_address(v)
    except ValueError:
        return "unknown"
    if ip.is_unspecified:
        return "any"
    if ip.is_loopback:
        return "loopback"
    if any(ip.version == n.version and ip in n for n in PRIVATE_NETS):
        return "private"
    return "public"


def _runs(secret: str) -> bool:
    for i in range(len(secret) - 2):
        part = secret[i:i + 3]
        if part.isdigit():
            steps = {int(b) - int(a) for a, b in zip(part, part[1:])}
            if len(steps) == 1 and steps.pop() in (-1, 0, 1):
                return True
    return False


def _names(ids: list[str], limit: int = LIST_USERS) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _line_of(exc: Exception) -> int:
    m = re.search(r"line (\d+)", str(exc))
    return int(m.group(1)) if m else 1


def _looks_freeswitch(text: str) -> bool:
    return bool(re.search(r"<(include|profile|configuration|user|domain|X-PRE-PROCESS)\b", text))


def _holds(doc: Doc) -> bool:
    tags = {"directory": ("user", "domain"), "profile": ("profile", "gateway"), "acl": ("list",),
            "esl": ("settings",)}[doc.kind]
    return any(next(doc.root.iter(t), None) is not None for t in tags)
