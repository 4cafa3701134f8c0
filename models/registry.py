"""Models as versioned artifacts on the compacted ``<prefix>.models`` topic (docs/models.md).

A model's *version* is the first 12 hex digits of its artifact's sha256 (content-addressed: the same
file is the same version everywhere). Two kinds of records share the topic:

- ``model``  key ``<name>@<version>``: the artifact (skops bytes, base64) and its card, published once;
- ``active`` key ``<name>``: which version of ``<name>`` workers score with, who set it, when, why,
  and the version it replaced (what ``rollback`` returns to).

Compaction keeps every version (distinct keys) and the latest ``active`` record of each name.
A worker follows the topic on a thread of its own (:class:`ModelBook`, :func:`follow`); when the
active version changes it loads the artifact with the same checks as a file (sha256 against the
card, features, skops trusted types) and switches between micro-batches. Before anything is
deserialized, the record's Ed25519 signature must verify against a key the worker trusts
(models.signing): the sha256 proves integrity, the signature origin. A record that fails any of
those checks is logged with its reason, counted, and ignored: the worker keeps the model it has.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from models.errors import ModelError
from models.signing import ModelRefused, Trust, sign

log = logging.getLogger("tollguard.models")
MAX_BYTES = 32 * 1024 * 1024  # the topic's max.message.bytes: a forest of a few hundred trees fits


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def model_record(path: str | Path, name: str, by: str, signing_key=None) -> tuple[bytes, bytes, str]:
    """(key, value, version) of an artifact, checked as a worker will check it (ModelError if not), signed
    with ``signing_key`` (an Ed25519 private key) when given."""
    from models import artifact
    _, card = artifact.load(path)  # sha256 against the card, features, trusted types
    data = Path(path).read_bytes()
    version = version_of(data)
    value = {"type": "model", "name": name, "version": version, "published_at": _now(), "by": by,
             "card": card, "skops": base64.b64encode(data).decode()}
    if signing_key is not None:
        value["signature"] = sign(signing_key, name, data, card)
    raw = json.dumps(value).encode()
    if len(raw) > MAX_BYTES:
        raise ModelError(f"{path}: {len(raw):,} bytes encoded, over the topic's {MAX_BYTES:,}")
    return f"{name}@{version}".encode(), raw, version


def active_record(name: str, version: str, by: str, reason: str, previous: str | None) -> tuple[bytes, bytes]:
    value = {"type": "active", "name": name, "version": version, "at": _now(), "by": by, "reason": reason,
             "previous": previous}
    return name.encode(), json.dumps(value).encode()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class ModelBook:
    """What the topic says: every version published, and the active one per name; ``trust`` says whose
    signatures make a version usable (the default, no key, refuses every published model)."""
    versions: dict[str, dict] = field(default_factory=dict)    # "<name>@<version>" -> model record
    active: dict[str, dict] = field(default_factory=dict)      # name -> active record
    unreadable: int = 0
    trust: Trust = field(default_factory=Trust)

    def apply(self, key: bytes | None, value: bytes | None) -> bool:
        if key is None:
            self.unreadable += 1
            return False
        k = key.decode("utf-8", "replace")
        if value is None:  # a tombstone: that version or pointer is gone
            self.versions.pop(k, None)
            self.active.pop(k, None)
            return True
        try:
            rec = json.loads(value)
            kind = rec["type"]
        except (ValueError, KeyError, TypeError):
            self.unreadable += 1
            return False
        if kind == "model" and k == f"{rec.get('name')}@{rec.get('version')}":
            self.versions[k] = rec
        elif kind == "active" and k == rec.get("name"):
            self.active[k] = rec
        else:
            self.unreadable += 1
            return False
        return True

    def active_version(self, name: str) -> str | None:
        rec = self.active.get(name)
        return rec.get("version") if rec else None

    def scorer(self, name: str, version: str):
        """A scorer of that version, loaded from the record with every check a file gets, once its signature
        verifies (:class:`~models.signing.ModelRefused` if not: nothing is deserialized before)."""
        from models.score import Scorer
        rec = self.versions.get(f"{name}@{version}")
        if rec is None:
            raise ModelError(f"model {name}@{version} is not on the topic")
        try:
            data = base64.b64decode(rec["skops"], validate=True)
        except (ValueError, TypeError, KeyError):
            raise ModelError(f"model {name}@{version}: its skops field is not base64") from None
        if version_of(data) != version:
            raise ModelError(f"model {name}@{version}: its bytes are another version ({version_of(data)})")
        if not isinstance(rec.get("card"), dict):
            raise ModelError(f"model {name}@{version}: no model card")
        self.trust.check(name, data, rec["card"], rec.get("signature"))
        with tempfile.TemporaryDirectory(prefix="tollguard-model-") as d:
            path = Path(d) / f"{name}.skops"
            path.write_bytes(data)
            (Path(d) / f"{name}.card.json").write_text(json.dumps(rec["card"]))
            return Scorer.load(path, version=version)


class Follower:
    """After each poll: load the active version of ``name`` when it, or its model record, changed; call
    ``on_change(version, scorer)``, or ``on_refused(reason)`` and log why (the model in use stays).
    A record replaced under the same version (an unsigned copy, then the signed one) is tried again."""

    def __init__(self, book: ModelBook, name: str, on_change, on_refused=None):
        self.book, self.name, self.on_change, self.on_refused = book, name, on_change, on_refused
        self.tried: tuple | None = None  # (version, model record) last tried: held, so never a reused id

    def __call__(self) -> None:
        wanted = self.book.active_version(self.name)
        if wanted is None:
            return
        rec = self.book.versions.get(f"{self.name}@{wanted}")
        if self.tried is not None and self.tried[0] == wanted and self.tried[1] is rec:
            return
        self.tried = (wanted, rec)
        try:
            scorer = self.book.scorer(self.name, wanted)
        except Exception as exc:  # a bad artifact never replaces a working model
            reason = exc.reason if isinstance(exc, ModelRefused) else "invalid"
            log.error("models: refused %s@%s (%s); the model in use stays", self.name, wanted, exc)
            if self.on_refused is not None:
                self.on_refused(reason)
            return
        self.on_change(wanted, scorer)


def follow(config, book: ModelBook, on_change, name: str = "default", stop: threading.Event | None = None,
           on_refused=None) -> None:
    """Read ``<prefix>.models`` from its start and keep reading (on the calling thread); call
    ``on_change(version, scorer)`` when the active version of ``name`` changes and loads, ``on_refused(reason)``
    when it does not. Never raises."""
    from streams.kafka.follow import follow_topic
    follow_topic(config, config.models, book.apply, what="model record", kept="the model in use stays",
                 after_poll=Follower(book, name, on_change, on_refused), stop=stop,
                 max_partition_fetch_bytes=MAX_BYTES, fetch_max_bytes=MAX_BYTES * 2)


def start_following(config, book: ModelBook, on_change, name: str = "default", on_refused=None) -> threading.Thread:
    from streams.kafka.follow import start
    return start(follow, config, book, on_change, name, None, on_refused, name="tollguard-models")
