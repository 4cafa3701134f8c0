"""Console users: a JSON file of ``{"users": [{name, role, tenant, hash}]}`` with argon2id hashes.

``role`` is ``viewer`` (reads) or ``analyst`` (reads and acts); ``tenant`` binds a user to one
tenant's data (null: every tenant). ``tollguard console user add FILE NAME`` writes entries.
A key given twice in one object, or a name given twice, is refused with ``file:line`` (JSON would let
the last one win silently), as every file an operator writes is read (streams.policy.yamlfile).
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import os
import re
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("viewer", "analyst")
_PH = PasswordHasher()
_DUMMY = _PH.hash("not a password anyone has")  # an unknown name costs the same time as a wrong password


class UserError(ValueError):
    """A users file or entry that cannot be used, with the reason."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    tenant: str | None = None

    @property
    def may_act(self) -> bool:
        return self.role == "analyst"

    def sees(self, tenant: str | None) -> bool:
        return self.tenant is None or tenant == self.tenant


class UserBook:
    def __init__(self, entries: dict[str, tuple[User, str]]):
        self._entries = entries

    @classmethod
    def load(cls, path: str | Path) -> "UserBook":
        doc, line_of = read(path)
        entries: dict[str, tuple[User, str]] = {}
        for i, e in enumerate(doc.get("users", []) if isinstance(doc, dict) else []):
            try:
                user = _user(e.get("name"), e.get("role"), e.get("tenant"))
                if not isinstance(e.get("hash"), str) or not e["hash"].startswith("$argon2"):
                    raise UserError("hash must be an argon2 hash (`tollguard console user add` writes one)")
            except (UserError, AttributeError) as exc:
                raise UserError(f"{path}: user {i + 1}: {exc}") from None
            if user.name in entries:
                raise UserError(f"{path}:{line_of(e)}: user {i + 1}: the name {user.name!r} is given twice")
            entries[user.name] = (user, e["hash"])
        if not entries:
            raise UserError(f"{path}: no users (add one with `tollguard console user add {path} NAME`)")
        return cls(entries)

    def check(self, name: str, password: str) -> User | None:
        """The user, when ``password`` is theirs."""
        user, hashed = self._entries.get(name, (None, _DUMMY))
        try:
            _PH.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return None
        return user

    def __len__(self) -> int:
        return len(self._entries)


def _user(name, role, tenant) -> User:
    if not isinstance(name, str) or not name or len(name) > 64 or not name.isprintable() or name.strip() != name:
        raise UserError("name must be 1 to 64 printable characters")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if tenant is not None and (not isinstance(tenant, str) or not tenant or len(tenant) > 64):
        raise UserError("tenant must be a tenant name or null")
    return User(name, role, tenant)


def add(path: str | Path, name: str, role: str, tenant: str | None, password: str) -> User:
    """Add or replace a user in the file (created with mode 0600)."""
    if len(password) < 8:
        raise UserError("the password must have at least 8 characters")
    user = _user(name, role, tenant)
    p = Path(path)
    doc = read(p)[0] if p.exists() else {"users": []}
    doc["users"] = [e for e in doc.get("users", []) if e.get("name") != name]
    doc["users"].append({"name": name, "role": role, "tenant": tenant, "hash": _PH.hash(password)})
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)
    return user


def read(path: str | Path):
    """The JSON in ``path``, and a function giving the line where one of its objects starts; a key given twice
    in one object is refused with its line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: {exc.strerror}") from None
    try:
        decoder = _StrictDecoder(str(path))
        doc = decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    starts = {id(obj): start for obj, start in decoder.starts}
    return doc, lambda obj: text.count("\n", 0, starts.get(id(obj), 0)) + 1


class _StrictDecoder(json.JSONDecoder):
    """json's own decoder, with an object parser that knows where each object is in the text (the pure-Python
    scanner calls it with the position; an ``object_pairs_hook`` alone is never told where it is)."""

    def __init__(self, source: str):
        super().__init__()
        self.source = source
        self.objects: list[tuple[int, int]] = []  # every object read so far, as (start, end) in the text
        self.starts: list[tuple[dict, int]] = []  # and the dict each became, with where it starts
        self.parse_object = self._object
        self.scan_once = json.scanner.py_make_scanner(self)

    def _object(self, s_and_end, strict, scan_once, object_hook, object_pairs_hook, memo=None):
        s, start = s_and_end
        pairs, end = json.decoder.JSONObject(s_and_end, strict, scan_once, None, list, memo)
        seen = set()
        for key, _ in pairs:
            if key in seen:
                line = _line_of_second(s, start, end, key, self.objects)
                raise UserError(f"{self.source}:{line}: the key {key!r} is given twice in one object")
            seen.add(key)
        self.objects.append((start, end))
        obj = dict(pairs)
        self.starts.append((obj, start))
        return obj, end


def _line_of_second(s: str, start: int, end: int, key: str, inner: list[tuple[int, int]]) -> int:
    """The line of ``key``'s second occurrence as a key of the object at s[start:end] (not of one inside it)."""
    at = [m.start() for m in re.finditer(re.escape(json.dumps(key, ensure_ascii=False)) + r"\s*:", s[start:end])]
    at = [start + a for a in at if not any(a0 <= start + a < a1 for a0, a1 in inner if start <= a0)]
    return s.count("\n", 0, at[1] if len(at) > 1 else start) + 1

