"""An attacker's (or any other signer's) view of ``<prefix>.models``: records and signatures built by hand from
the format docs/models.md documents, never through ``models.signing`` or ``models.registry``."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

FORMAT = "tollguard-model-signature/1"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def signed_by(priv, name: str, data: bytes, card: dict, claim: str | None = None) -> dict:
    """The signature record of docs/models.md; ``claim`` names another key's fingerprint than the signer's."""
    raw = priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    statement = canonical({"format": FORMAT, "name": name, "version": sha(data)[:12], "artifact_sha256": sha(data),
                           "card_sha256": sha(canonical(card))})
    return {"format": FORMAT, "alg": "ed25519", "key": claim or sha(raw)[:16],
            "value": base64.b64encode(priv.sign(statement)).decode()}


def record(data: bytes, card: dict, name: str = "default", signature: dict | None = None) -> tuple[bytes, bytes]:
    """A ``model`` record of ``<name>@<version>``."""
    value = {"type": "model", "name": name, "version": sha(data)[:12], "published_at": "2026-12-06T00:00:00+00:00",
             "by": "mallory", "card": card, "skops": base64.b64encode(data).decode()}
    if signature is not None:
        value["signature"] = signature
    return f"{name}@{sha(data)[:12]}".encode(), json.dumps(value).encode()


def activate(version: str, name: str = "default") -> tuple[bytes, bytes]:
    """The ``active`` record that points workers at ``version``."""
    return name.encode(), json.dumps({"type": "active", "name": name, "version": version, "at": "2026-12-06T00:00:00+00:00",
                                      "by": "mallory", "reason": "trust me", "previous": None}).encode()
