"""Ed25519 signatures on published models: who made a model, not only that it is intact (docs/models.md).

The card's sha256 proves the model file is the one the card describes; anyone who can write to
``<prefix>.models`` can make a matching pair. A signature by a key the workers trust proves origin.

What is signed is the *statement*: the canonical JSON (keys sorted, no spaces, ASCII) of ::

    {"artifact_sha256": sha256 of the .skops bytes, "card_sha256": sha256 of the canonical card,
     "format": "tollguard-model-signature/1", "name": the model's name, "version": artifact_sha256[:12]}

so a swapped model, a swapped or edited card (a threshold raised to blind the detector) or a model
signed for another name fails. The record carries ``signature``: ``{"format", "alg": "ed25519",
"key": fingerprint, "value": base64 of the 64-byte signature}``; the fingerprint (first 16 hex digits
of the sha256 of the raw 32-byte public key) only picks the key, the signature is what is checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption, PrivateFormat, PublicFormat,
                                                          load_pem_private_key, load_pem_public_key)

from models.errors import ModelError

FORMAT = "tollguard-model-signature/1"
PUBLIC_KEY_ENV = "TOLLGUARD_MODEL_PUBLIC_KEY"    # one or more public key files, separated by os.pathsep
SIGNING_KEY_ENV = "TOLLGUARD_MODEL_SIGNING_KEY"  # the private key file `model publish` signs with
STEM = "model-signing"


class ModelRefused(ModelError):
    """A published model refused for its signature; ``reason`` is the metrics label:
    ``no_key``, ``unsigned``, ``unknown_key`` or ``bad_signature``."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def statement(name: str, data: bytes, card: dict) -> bytes:
    """The bytes signed for model ``name`` with file ``data`` and ``card`` (module docstring)."""
    digest = hashlib.sha256(data).hexdigest()
    return canonical({"format": FORMAT, "name": name, "version": digest[:12], "artifact_sha256": digest,
                      "card_sha256": hashlib.sha256(canonical(card)).hexdigest()})


def fingerprint(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def sign(key: Ed25519PrivateKey, name: str, data: bytes, card: dict) -> dict:
    return {"format": FORMAT, "alg": "ed25519", "key": fingerprint(key.public_key()),
            "value": base64.b64encode(key.sign(statement(name, data, card))).decode()}


def load_private(path: str | Path) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ModelError(f"{path}: not a readable unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ModelError(f"{path}: a {type(key).__name__}, not an Ed25519 key (tollguard model keygen makes one)")
    return key


def load_public(path: str | Path) -> Ed25519PublicKey:
    try:
        key = load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a readable PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ModelError(f"{path}: a {type(key).__name__}, not an Ed25519 public key")
    return key


def keygen(out: str | Path) -> tuple[Path, Path, str]:
    """Write ``model-signing.key`` (PKCS#8 PEM, mode 0600) and ``model-signing.pub`` in ``out``; never overwrite."""
    out = Path(out)
    priv_path, pub_path = out / f"{STEM}.key", out / f"{STEM}.pub"
    for p in (priv_path, pub_path):
        if p.exists():
            raise ModelError(f"{p} already exists: refusing to overwrite a key (move it away to make a new pair)")
    out.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with open(pub_path, "xb") as f:
        f.write(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return priv_path, pub_path, fingerprint(key.public_key())


def public_key_files(given: list[str] | None, env: dict | None = None) -> list[str]:
    """The ``--model-public-key``/``--public-key`` files, else ``$TOLLGUARD_MODEL_PUBLIC_KEY`` (os.pathsep-separated)."""
    if given:
        return list(given)
    raw = (os.environ if env is None else env).get(PUBLIC_KEY_ENV, "")
    return [p for p in raw.split(os.pathsep) if p.strip()]


@dataclass
class Trust:
    """The public keys a reader accepts published models from; with none, every published model is refused
    (unless ``allow_unsigned``: then nothing is checked that no key can check)."""
    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)  # fingerprint -> key
    allow_unsigned: bool = False

    @classmethod
    def from_files(cls, paths, allow_unsigned: bool = False) -> "Trust":
        keys = {}
        for p in paths:
            k = load_public(p)
            keys[fingerprint(k)] = k
        return cls(keys, allow_unsigned)

    def describe(self) -> str:
        if self.allow_unsigned:
            return "unsigned models accepted (--allow-unsigned)" + (
                f"; signatures checked against key {', '.join(self.keys)}" if self.keys else "")
        if not self.keys:
            return "no model public key configured: every published model is refused"
        return f"published models must be signed by key {', '.join(self.keys)}"

    def check(self, name: str, data: bytes, card: dict, signature) -> str:
        """Who signed model ``name`` (a fingerprint, or 'unsigned'); :class:`ModelRefused` if it must not load."""
        if signature is None:
            if self.allow_unsigned:
                return "unsigned"
            if not self.keys:
                raise ModelRefused("no_key", f"no model public key is configured (--model-public-key or "
                                             f"{PUBLIC_KEY_ENV}), so published models are refused")
            raise ModelRefused("unsigned", "carries no signature; only models signed by a trusted key are used")
        if not self.keys:
            if self.allow_unsigned:
                return "unchecked (no public key configured)"
            raise ModelRefused("no_key", f"no model public key is configured (--model-public-key or "
                                         f"{PUBLIC_KEY_ENV}), so published models are refused")
        sig, fp = _signature_bytes(signature)
        key = self.keys.get(fp)
        if key is None:
            raise ModelRefused("unknown_key", f"signed by key {fp[:16]!r}, which is not trusted "
                                              f"(trusted: {', '.join(self.keys)})")
        try:
            key.verify(sig, statement(name, data, card))
        except InvalidSignature:
            raise ModelRefused("bad_signature", f"the signature by key {fp} does not match this name, model and "
                                                "card (swapped or edited after signing, or forged)") from None
        return fp


def _signature_bytes(signature) -> tuple[bytes, str]:
    if not isinstance(signature, dict) or signature.get("format") != FORMAT or signature.get("alg") != "ed25519":
        raise ModelRefused("bad_signature", f"a signature that is not {FORMAT} ed25519")
    try:
        sig = base64.b64decode(str(signature.get("value")), validate=True)
    except (binascii.Error, ValueError):
        sig = b""
    if len(sig) != 64:
        raise ModelRefused("bad_signature", "a signature value that is not 64 bytes of base64")
    return sig, str(signature.get("key"))
