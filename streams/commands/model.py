"""``tollguard model keygen|publish|list|rollback|drift``: the anomaly model as versioned, signed artifacts on
``<prefix>.models`` (models.registry, models.signing), and drift of live scoring against the model card
(models.drift)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time

from models.errors import ModelError
from streams.reference.text import safe

HELP = "anomaly models as versioned artifacts on <prefix>.models; drift (docs/models.md)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="model_cmd", required=True)
    m = sub.add_parser("publish", help="check an artifact and put it on the topic; running workers switch to it")
    m.add_argument("file", help="a .skops artifact with its .card.json beside it")
    m.add_argument("--name", default="default", help="the model's name on the topic (default 'default')")
    m.add_argument("--reason", help="why (kept with the switch)")
    m.add_argument("--by", help="who (default: $USER)")
    m.add_argument("--no-activate", action="store_true", help="publish only; activate later with rollback --to")
    m.add_argument("--signing-key", metavar="KEY", help="Ed25519 private key to sign with (default "
                   "$TOLLGUARD_MODEL_SIGNING_KEY; `model keygen` makes one); workers refuse unsigned models")
    m.add_argument("--public-key", metavar="FILE", action="append",
                   help="check the signature against the workers' public key before sending (default "
                        "$TOLLGUARD_MODEL_PUBLIC_KEY); repeatable")
    m.add_argument("--allow-unsigned", action="store_true",
                   help="publish without a signature (only workers run with --allow-unsigned take it)")
    m = sub.add_parser("keygen", help="make the Ed25519 key pair that signs published models")
    m.add_argument("--out", required=True, metavar="DIR",
                   help="writes DIR/model-signing.key (mode 0600) and DIR/model-signing.pub; never overwrites")
    sub.add_parser("list", help="the versions published and the active one")
    m = sub.add_parser("rollback", help="make the previous (or a named) version active again")
    m.add_argument("--name", default="default", help="the model's name on the topic (default 'default')")
    m.add_argument("--to", metavar="VERSION", help="this version instead of the one before the current")
    m.add_argument("--reason", help="why (kept with the switch)")
    m.add_argument("--by", help="who (default: $USER)")
    m = sub.add_parser("drift", help="live scores and feature medians (a worker's /metrics) against the model card")
    m.add_argument("--metrics", metavar="URL", required=True, help="the worker's /metrics")
    m.add_argument("--model", metavar="FILE", help="the card's model (default: the shipped one)")
    m.add_argument("--iqr", type=float, default=1.0, help="flag a feature whose median moved more than this many IQRs")
    m.add_argument("--format", choices=["table", "json"], default="table", help="table (default) or json")


def main(args) -> int:
    return {"keygen": keygen, "publish": publish, "list": list_models, "rollback": rollback,
            "drift": drift}[args.model_cmd](args)


def keygen(args) -> int:
    from models.signing import PUBLIC_KEY_ENV
    from models.signing import keygen as make
    try:
        priv, pub, fp = make(args.out)
    except (ModelError, OSError) as exc:
        print(f"model keygen: {exc}", file=sys.stderr)
        return 2
    print(f"key {fp}: private {priv} (mode 0600: keep it off the workers), public {pub}\n"
          f"publish with: tollguard model publish FILE --signing-key {priv}\n"
          f"workers trust it with: tollguard worker --model-public-key {pub}  (or {PUBLIC_KEY_ENV}={pub})")
    return 0


def _signing_key(args):
    """The private key to sign with (--signing-key or $TOLLGUARD_MODEL_SIGNING_KEY), or None."""
    from models.signing import SIGNING_KEY_ENV, load_private
    path = getattr(args, "signing_key", None) or os.environ.get(SIGNING_KEY_ENV)
    return load_private(path) if path else None


def _signed(args, key, value: bytes) -> str:
    """Check the record as the workers will (their public keys, if given here); what to say about its signature."""
    import base64
    import json

    from models.signing import SIGNING_KEY_ENV, Trust, public_key_files
    if key is None and not args.allow_unsigned:
        raise ModelError(f"refusing to publish an unsigned model: workers refuse it. Sign it with --signing-key KEY "
                         f"(or {SIGNING_KEY_ENV}; make a pair with `tollguard model keygen`), or pass "
                         "--allow-unsigned for workers that run with --allow-unsigned")
    files = public_key_files(getattr(args, "public_key", None))
    if key is None:
        return "UNSIGNED (only workers with --allow-unsigned take it)"
    if files:
        rec = json.loads(value)
        Trust.from_files(files).check(args.name, base64.b64decode(rec["skops"]), rec["card"], rec["signature"])
    return f"signed by key {json.loads(value)['signature']['key']}" + ("" if files else " (not checked: no --public-key)")


def _who(args) -> str:
    return getattr(args, "by", None) or os.environ.get("USER") or getpass.getuser() or "unknown"


def read_book(config, timeout: float = 30.0):
    """Everything on the models topic now (read to its end offsets)."""
    from kafka import KafkaConsumer, TopicPartition

    from models.registry import MAX_BYTES, ModelBook
    from streams.kafka.connect import kafka_python_kwargs
    book = ModelBook()
    consumer = KafkaConsumer(**kafka_python_kwargs(config), group_id=None, enable_auto_commit=False,
                             max_partition_fetch_bytes=MAX_BYTES, fetch_max_bytes=MAX_BYTES * 2)
    try:
        parts = consumer.partitions_for_topic(config.models) or set()
        tps = [TopicPartition(config.models, p) for p in parts]
        if not tps:
            return book
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise ModelError(f"{config.models} was not read to its end within {timeout:g} s")
            for recs in consumer.poll(timeout_ms=500).values():
                for r in recs:
                    book.apply(r.key, r.value)
        return book
    finally:
        consumer.close()


def _send(config, pairs) -> None:
    from kafka import KafkaProducer

    from models.registry import MAX_BYTES
    from streams.kafka.connect import kafka_python_kwargs
    from streams.kafka.topics import ensure_topics
    ensure_topics(config, names=[config.models])
    producer = KafkaProducer(**kafka_python_kwargs(config), acks="all", max_request_size=MAX_BYTES,
                             compression_type="gzip")
    try:
        for key, value in pairs:
            producer.send(config.models, key=key, value=value).get(timeout=60)
    finally:
        producer.close()


def publish(args) -> int:
    from models.registry import active_record, model_record
    from streams.kafka.config import Config
    config = Config.from_env()
    try:
        signing_key = _signing_key(args)
        key, value, version = model_record(args.file, args.name, _who(args), signing_key)
        signed = _signed(args, signing_key, value)
        previous = read_book(config).active_version(args.name)
    except (ModelError, OSError) as exc:
        print(f"model publish: {safe(str(exc), 400)}", file=sys.stderr)
        return 2
    pairs = [(key, value)]
    if not args.no_activate:
        pairs.append(active_record(args.name, version, _who(args), args.reason or f"published {args.file}", previous))
    _send(config, pairs)
    state = "published" if args.no_activate else f"published and active (was {previous or 'the file each worker started with'})"
    print(f"model {args.name}@{version} {state} on {config.models}, {signed}; workers switch at their next micro-batch")
    return 0


def list_models(args) -> int:
    from streams.kafka.config import Config
    config = Config.from_env()
    try:
        book = read_book(config)
    except ModelError as exc:
        print(f"model list: {exc}", file=sys.stderr)
        return 1
    if not book.versions:
        print(f"model list: nothing published on {config.models} (workers use the model they started with)")
        return 0
    rows = sorted(book.versions.values(), key=lambda r: str(r.get("published_at")))
    for r in rows:
        mark = "*" if book.active_version(r["name"]) == r["version"] else " "
        m = r.get("card", {}).get("metrics", {})
        sig = r.get("signature")
        signer = f"signed {safe(str(sig.get('key')), 16)}" if isinstance(sig, dict) else "UNSIGNED"
        print(f"{mark} {safe(r['name'], 32)}@{r['version']}  published {str(r.get('published_at'))[:19]} by "
              f"{safe(str(r.get('by')), 32):<12} {signer:<23} threshold {r.get('card', {}).get('threshold', 0):.4f}  "
              f"calls {m.get('calls', '-')}  precision {m.get('precision', '-')}  recall {m.get('recall', '-')}")
    for name, a in sorted(book.active.items()):
        print(f"active {safe(name, 32)}: {a.get('version')} since {str(a.get('at'))[:19]} by {safe(str(a.get('by')), 32)}"
              f" ({safe(str(a.get('reason')), 120)}; before it {a.get('previous') or 'the start-up file'})")
    return 0


def rollback(args) -> int:
    from models.registry import active_record
    from streams.kafka.config import Config
    config = Config.from_env()
    try:
        book = read_book(config)
    except ModelError as exc:
        print(f"model rollback: {exc}", file=sys.stderr)
        return 1
    current = book.active.get(args.name)
    target = args.to or (current or {}).get("previous")
    if not target:
        print(f"model rollback: nothing to go back to for {safe(args.name, 32)} (no earlier active version recorded); "
              "name one with --to (see `tollguard model list`)", file=sys.stderr)
        return 1
    if f"{args.name}@{target}" not in book.versions:
        print(f"model rollback: {safe(args.name, 32)}@{safe(target, 32)} is not on {config.models}", file=sys.stderr)
        return 1
    _send(config, [active_record(args.name, target, _who(args), args.reason or "rollback",
                                 (current or {}).get("version"))])
    print(f"model {args.name}: active version now {target} (was {(current or {}).get('version')}); "
          "workers switch at their next micro-batch")
    return 0


def drift(args) -> int:
    from models.drift import main as run
    return run(args)
