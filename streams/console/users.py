"""Console users: a JSON file of ``{"users": [{name, role, tenant, hash}]}`` with argon2id hashes.

``role`` is ``viewer`` (reads) or ``analyst`` (reads and acts); ``tenant`` binds a user to one
tenant's data (null: every tenant). ``tollguard console user add FILE NAME`` writes entries.
"""

from __future__ import annotations

import json
import os
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
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"{path}: {exc}") from None
        entries: dict[str, tuple[User, str]] = {}
        for i, e in enumerate(doc.get("users", []) if isinstance(doc, dict) else []):
            try:
                user = _user(e.get("name"), e.get("role"), e.get("tenant"))
                if not isinstance(e.get("hash"), str) or not e["hash"].startswith("$argon2"):
                    raise UserError("hash must be an argon2 hash (`tollguard console user add` writes one)")
            except (UserError, AttributeError) as exc:
                raise UserError(f"{path}: user {i + 1}: {exc}") from None
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
    doc = json.loads(p.read_text(encoding="utf-8")) if p.exists() else {"users": []}
    doc["users"] = [e for e in doc.get("users", []) if e.get("name") != name]
    doc["users"].append({"name": name, "role": role, "tenant": tenant, "hash": _PH.hash(password)})
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)
    return user
