"""The ``tollguard`` command: thin entry points over the core and the Kafka shells."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module

from streams.domain.ruleids import SEVERITIES
from streams.reference.text import safe


def _policy_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", metavar="FILE", help="policy YAML (default: built-in guide defaults)")
    p.add_argument("--no-model", action="store_true", help="rules only: do not load the anomaly model")
    p.add_argument("--model", metavar="FILE", help="anomaly model artifact (default: the shipped models/default.skops)")


INPUTS = ("auto", "jsonl", "asterisk-csv", "freeswitch-csv", "yeastar-csv", "3cx-csv", "csv",
          "asterisk-log", "freeswitch-log", "kamailio-log")  # streams.intake.FORMATS (kept light for --help)


def _input_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", choices=INPUTS, default="auto",
                   help="input format: the JSONL contract, a PBX CDR export or a PBX security log "
                        "(default auto: told from each file's first lines)")
    p.add_argument("--map", metavar="MAP.yaml", help="with --input csv: which column is which (docs/intake.md)")
    p.add_argument("--tz", default="UTC", metavar="ZONE",
                   help="IANA zone of local times in CSV exports and logs (default UTC)")
    p.add_argument("--tenant", default="default", help="tenant of the records of CSV exports and logs (default 'default')")


def _service_args(p: argparse.ArgumentParser) -> None:
    """What every long-running consumer takes: where to serve metrics, how to log, where to start."""
    p.add_argument("--web-port", type=int, default=None, metavar="PORT",
                   help="serve /metrics and /health on this port (default $TOLLGUARD_WEB_PORT; none when unset)")
    p.add_argument("--log-format", choices=["text", "json"], default=os.environ.get("TOLLGUARD_LOG_FORMAT") or "text",
                   help="text (escaped, no terminal codes) or json (one object per line); default $TOLLGUARD_LOG_FORMAT or text")
    p.add_argument("--loglevel", default="info")
    p.add_argument("--idle-timeout", type=float, default=None, metavar="SECONDS",
                   help="stop after this long without a record (default: run until stopped)")


LATENESS = 6 * 3600.0  # streams.core.ordering.LATENESS (not imported here: `tollguard --help` stays light)
MAX_KEYS = 200_000  # streams.state.lifecycle.MAX_KEYS


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="tollguard", description="Toll-fraud detection on CDR and SIP security events.")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("replay", help="run event files through the detector (no broker)")
    _policy_arg(p)
    p.add_argument("--format", choices=["table", "jsonl"], default="table")
    _input_args(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no summary or progress on stderr")
    p.add_argument("--lateness", type=float, default=LATENESS, metavar="SECONDS",
                   help="how far out of event-time order the input may be and still be judged in order "
                        f"(default {LATENESS:g}: files sorted by call start or end, or shuffled within hours)")
    p.add_argument("--now", metavar="TIME", help="the worker's clock (RFC 3339, epoch seconds, or 'wall'): "
                   "refuse events more than 15 min ahead of it, and at the end close the incidents it has passed, "
                   "as the worker does (default: the input's last event time closes them)")
    p.add_argument("--max-keys", type=int, default=MAX_KEYS, metavar="N",
                   help=f"keys of state held per scope before the oldest is evicted (default {MAX_KEYS:,})")
    p.add_argument("--ranges", metavar="FILE", help="high-risk number ranges for every tenant (CSV prefix,label,"
                   "source,expires; rule high_risk_range), over the policy's own")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSONL event files, '-' for stdin")

    p = sub.add_parser("worker", help="run the Faust worker on Kafka")
    _policy_arg(p)
    p.add_argument("--model-public-key", metavar="FILE", action="append",
                   help="switch only to models on <prefix>.models signed by this Ed25519 key (repeatable, to rotate; "
                        "default $TOLLGUARD_MODEL_PUBLIC_KEY). Without one, published models are refused")
    p.add_argument("--allow-unsigned", action="store_true",
                   help="also switch to unsigned published models (anyone who can write the topic picks the model)")
    p.add_argument("--loglevel", default="warning")
    p.add_argument("--web-port", type=int, default=None, metavar="PORT",
                   help="serve /metrics and /health on this port (default $TOLLGUARD_WEB_PORT; none when unset)")
    p.add_argument("--log-format", choices=["text", "json"], default=os.environ.get("TOLLGUARD_LOG_FORMAT") or "text",
                   help="text (escaped, no terminal codes) or json (one object per line); default $TOLLGUARD_LOG_FORMAT or text")

    p = sub.add_parser("produce", help="send event files to Kafka")
    _input_args(p)
    p.add_argument("--policy", metavar="FILE", help="policy YAML whose cdr: section says what export columns mean")
    p.add_argument("--batch", type=int, default=1, metavar="N",
                   help="send up to N events per Kafka record, as a JSON array (default 1: one event per record)")
    p.add_argument("--max-record-bytes", type=int, default=None, metavar="B",
                   help="cut batch records below B bytes (default: the topics' max.message.bytes)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="how long a record may wait for the broker before it counts as lost (default 30)")
    p.add_argument("files", nargs="+", metavar="FILE")

    p = sub.add_parser("tail", help="follow growing log and CDR files and ship their events to Kafka")
    _input_args(p)
    p.add_argument("--policy", metavar="FILE", help="policy YAML whose cdr: section says what export columns mean")
    p.add_argument("--state", default=".tollguard-tail.json", metavar="FILE",
                   help="where read positions are kept (default .tollguard-tail.json in the current directory)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--from-start", dest="from_end", action="store_false",
                   help="a file with no saved position is read from its start (the default)")
    g.add_argument("--from-end", dest="from_end", action="store_true",
                   help="a file with no saved position is read from its end: only lines written from now on")
    p.set_defaults(from_end=False)  # --from-start's store_false would make its own default True
    p.add_argument("--poll", type=float, default=0.2, metavar="SECONDS", help="how often quiet files are looked at (default 0.2)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="how long an event may wait for the broker's acknowledgement (default 30)")
    p.add_argument("files", nargs="+", metavar="FILE", help="log or CDR files to follow (they may not exist yet)")

    p = sub.add_parser("alerts", help="tail the alert topic")
    p.add_argument("--from-beginning", action="store_true", help="read the topic from its start")
    p.add_argument("--since", metavar="TIME", help="alerts with event time from TIME (RFC 3339, or 15m/2h/7d ago)")
    p.add_argument("--rule", action="append", metavar="R", help="only this rule id (repeatable)")
    p.add_argument("--severity", choices=SEVERITIES,
                   help="only this severity and above")
    p.add_argument("--tenant", action="append", metavar="T", help="only this tenant (repeatable)")
    p.add_argument("--idle-timeout", type=float, default=None, metavar="SECONDS")
    p.add_argument("--format", choices=["table", "jsonl"], default="table")

    p = sub.add_parser("incidents", help="list incidents (the compacted incident topic)")
    p.add_argument("--open", action="store_true", help="only incidents not closed or resolved")
    p.add_argument("--from-beginning", action="store_true", help="every incident on the topic (the default)")
    p.add_argument("--follow", action="store_true", help="keep reading and print updates as they come")
    p.add_argument("--tenant", action="append", metavar="T", help="only this tenant (repeatable)")
    p.add_argument("--format", choices=["table", "jsonl"], default="table")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="how long reading the topic to its end may take (default 60); the list says when it was cut")

    for name, what in (("ack", "acknowledge an incident: the SOC has seen it and works on it"),
                       ("resolve", "resolve an incident, with a verdict kept as a training label")):
        p = sub.add_parser(name, help=what)
        p.add_argument("incident_id", metavar="ID")
        p.add_argument("--note", default="", metavar="TEXT", help="what was found or done")
        p.add_argument("--by", default=None, metavar="WHO", help="who decided (default: $USER)")
        p.add_argument("--wait", type=float, default=15.0, metavar="SECONDS",
                       help="how long to wait for the worker to record it on the incident (default 15; 0: do not wait)")
        if name == "resolve":
            v = p.add_mutually_exclusive_group()
            v.add_argument("--verdict", choices=["true_positive", "false_positive"], default=None,
                           help="was it fraud? a false positive becomes a label for retraining")
            v.add_argument("--false-positive", dest="verdict", action="store_const", const="false_positive",
                           help="same as --verdict false_positive")

    p = sub.add_parser("unblock", help="lift the blocks on a target (IP, number, account or extension)")
    p.add_argument("target")
    p.add_argument("--reason", required=True, metavar="TEXT", help="why (recorded with who and when)")
    p.add_argument("--tenant", default="default", help="the tenant whose blocks are lifted (default 'default')")
    p.add_argument("--by", default=None, metavar="WHO", help="who decided (default: $USER)")

    # -- notify (streams.services.notify) ---------------------------------------------------------------
    p = sub.add_parser("notify", help="route incidents and alerts to webhooks, email and syslog")
    p.add_argument("--config", required=True, metavar="FILE", help="notify.yaml (docs/notify.md)")
    _service_args(p)
    # -- end notify --

    # -- enforce (streams.services.enforce) -------------------------------------------------------------
    p = sub.add_parser("enforce", help="carry out block actions: nftables, fail2ban, commands, webhooks")
    p.add_argument("--config", required=True, metavar="FILE", help="enforce.yaml (docs/enforce.md)")
    p.add_argument("--dry-run", action="store_true", help="print what would be done, change nothing")
    p.add_argument("--state", metavar="FILE", default=None,
                   help="where applied action ids are kept across restarts (default: `state:` in the config; none)")
    _service_args(p)

    p = sub.add_parser("blocks", help="list active blocks with their expiry")
    p.add_argument("--tenant", action="append", metavar="T", help="only this tenant (repeatable)")
    p.add_argument("--all", action="store_true", help="expired and lifted blocks too")
    p.add_argument("--format", choices=["table", "jsonl"], default="table")
    # -- end enforce --

    p = sub.add_parser("simulate", help="generate labelled PBX traffic with attack scenarios")
    p.add_argument("--days", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--tenants", type=int, default=1)
    p.add_argument("--extensions", type=int, default=50, help="extensions per tenant")
    p.add_argument("--scenario", action="append", metavar="NAME", help="only these scenarios (repeatable)")
    p.add_argument("--cdr-only", action="store_true", help="completed CDRs only, no live call-start events")

    p = sub.add_parser("evaluate", help="replay a simulated directory and score detections against its labels")
    p.add_argument("dir", metavar="DIR")
    _policy_arg(p)
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--without", metavar="RULE[,RULE]",
                   help="replay again with these rules off and show what each scenario's fraud cost without them")

    p = sub.add_parser("train", help="train the anomaly model on event history")
    p.add_argument("--data", nargs="+", required=True, metavar="PATH", help="event files: JSONL, or Parquet (*.parquet)")
    p.add_argument("--out", required=True, metavar="FILE", help="models/<name>.skops (a .card.json is written beside it)")
    p.add_argument("--policy", metavar="FILE", help="policy of the PBXs the data comes from")
    p.add_argument("--labels", metavar="FILE", help="the simulator's labels.json or a `tollguard labels` file: fraud is left out of the fit; "
                        "the SOC's false positives are repeated in it, and how many the new model still flags is reported")
    p.add_argument("--target-rate", type=float, default=None,
                   help="share of benign calls above the threshold (default 0.001, models.train.TARGET_RATE)")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("model", help="anomaly models as versioned artifacts on <prefix>.models; drift (docs/models.md)")
    msub = p.add_subparsers(dest="model_cmd", required=True)
    m = msub.add_parser("publish", help="check an artifact and put it on the topic; running workers switch to it")
    m.add_argument("file", help="a .skops artifact with its .card.json beside it")
    m.add_argument("--name", default="default")
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
    m = msub.add_parser("keygen", help="make the Ed25519 key pair that signs published models")
    m.add_argument("--out", required=True, metavar="DIR",
                   help="writes DIR/model-signing.key (mode 0600) and DIR/model-signing.pub; never overwrites")
    m = msub.add_parser("list", help="the versions published and the active one")
    m = msub.add_parser("rollback", help="make the previous (or a named) version active again")
    m.add_argument("--name", default="default")
    m.add_argument("--to", metavar="VERSION", help="this version instead of the one before the current")
    m.add_argument("--reason")
    m.add_argument("--by")
    m = msub.add_parser("drift", help="live scores and feature medians (a worker's /metrics) against the model card")
    m.add_argument("--metrics", metavar="URL", required=True, help="the worker's /metrics")
    m.add_argument("--model", metavar="FILE", help="the card's model (default: the shipped one)")
    m.add_argument("--iqr", type=float, default=1.0, help="flag a feature whose median moved more than this many IQRs")
    m.add_argument("--format", choices=["table", "json"], default="table")

    p = sub.add_parser("labels", help="the SOC's verdicts on incidents into a training label file (for train --labels)")
    p.add_argument("--out", required=True, metavar="FILE")

    p = sub.add_parser("export", help="a topic, or a time range of it, to JSONL or Parquet (for notebooks and retraining)")
    p.add_argument("--topic", default="cdr",
                   help="cdr, security, alerts, actions, incidents, detections, dlq, or a full topic name")
    p.add_argument("--out", required=True, metavar="FILE", help="the file ('-' for stdout, JSONL only)")
    p.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl")
    p.add_argument("--since", metavar="TIME", help="records that reached Kafka from then on (RFC 3339, or 15m/2h/7d ago)")
    p.add_argument("--until", metavar="TIME", help="records that reached Kafka before then (default: the end as of now)")
    p.add_argument("--join", action="store_true",
                   help="alerts with the CDRs they concern; incidents with their alerts, decisions and verdict")
    p.add_argument("--max", type=int, default=None, help="stop after this many records")
    p.add_argument("--idle-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="give up when the broker sends nothing for this long before the range's end")

    p = sub.add_parser("topics", help="list the Kafka topics tollguard uses, check or create them")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--check", action="store_true", help="exit 1 and name the ones missing on the cluster")
    g.add_argument("--create", action="store_true", help="create the missing ones (needs topic-CREATE rights)")

    p = sub.add_parser("policy", help="validate a policy file, and warn about settings that disarm detection")
    p.add_argument("file")
    p.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")

    p = sub.add_parser("verdict", help="HTTP service: allow or refuse a call before it is routed (docs/verdict.md)")
    _policy_arg(p)
    p.add_argument("--host", default=os.environ.get("TOLLGUARD_VERDICT_HOST") or "127.0.0.1")
    p.add_argument("--port", type=int, default=int(os.environ.get("TOLLGUARD_VERDICT_PORT") or 8089))
    p.add_argument("--fail", choices=["open", "closed"], default="closed",
                   help="when no verdict can be formed (an exception, or the live blocks unknown): closed = refuse "
                        "with SIP 503, open = allow what the rules allow (default closed; docs/verdict.md says why)")
    p.add_argument("--token-file", default=os.environ.get("TOLLGUARD_VERDICT_TOKEN_FILE") or None,
                   help="/v1/verdict and /metrics need 'Authorization: Bearer <the file's token>'; "
                        "without it the service binds to loopback only")
    p.add_argument("--no-live", action="store_true", help="the policy's rules only: do not read <prefix>.actions")
    p.add_argument("--log-format", choices=["text", "json"], default=os.environ.get("TOLLGUARD_LOG_FORMAT") or "text")
    p.add_argument("-v", "--verbose", action="store_true")

    p = sub.add_parser("ranges", help="manage the high-risk number ranges on <prefix>.ranges (docs/ranges.md)")
    rsub = p.add_subparsers(dest="ranges_cmd", required=True)
    r = rsub.add_parser("load", help="list the ranges of a CSV file (prefix,label,source,expires) on the topic")
    r.add_argument("file")
    r.add_argument("--remove", action="store_true", help="take these prefixes off the list instead")
    r = rsub.add_parser("list", help="the ranges listed now")
    r.add_argument("--all", action="store_true", help="expired ones too")
    r.add_argument("--format", choices=["table", "jsonl"], default="table")
    r.add_argument("--timeout", type=float, default=30.0)

    p = sub.add_parser("console", help="the SOC's web page: incidents live, evidence, ack/resolve/unblock (docs/console.md)")
    p.add_argument("--users", metavar="FILE", default=os.environ.get("TOLLGUARD_CONSOLE_USERS"),
                   help="who may log in (`tollguard console user add FILE NAME` writes it)")
    p.add_argument("--host", default=os.environ.get("TOLLGUARD_CONSOLE_HOST") or "127.0.0.1")
    p.add_argument("--port", type=int, default=int(os.environ.get("TOLLGUARD_CONSOLE_PORT") or 8080))
    p.add_argument("--metrics", metavar="URL", help="the worker's /metrics, for the health panel "
                   "(e.g. http://127.0.0.1:9108/metrics)")
    p.add_argument("--session-minutes", type=float, default=30.0, help="a session ends this long after its last use")
    p.add_argument("--insecure-cookie", action="store_true",
                   help="send the session cookie over plain HTTP too (a lab without HTTPS; warns at start)")
    p.add_argument("--secure-cookie", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for old scripts
    p.add_argument("--trust-proxy", metavar="CIDR", action="append", default=[],
                   help="believe X-Forwarded-For/-Proto only from a peer in CIDR (your HTTPS proxy; repeatable)")
    p.add_argument("--log-format", choices=["text", "json"], default=os.environ.get("TOLLGUARD_LOG_FORMAT") or "text")
    csub = p.add_subparsers(dest="console_cmd")
    u = csub.add_parser("user", help="manage the users file")
    usub = u.add_subparsers(dest="user_cmd", required=True)
    a = usub.add_parser("add", help="add or replace a user (the password is read from the terminal, or stdin)")
    a.add_argument("file")
    a.add_argument("name")
    a.add_argument("--role", choices=["viewer", "analyst"], default="viewer")
    a.add_argument("--tenant", help="bind the user to this tenant's data (default: every tenant)")
    a.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")

    p = sub.add_parser("schema", help="print or write the event contract's JSON Schemas")
    p.add_argument("--write", metavar="DIR", help="write <name>.schema.json files into DIR")
    return ap


COMMANDS = {
    "replay": "streams.shells.replay", "worker": "streams.shells.worker", "produce": "streams.commands.produce",
    "tail": "streams.commands.tail",
    "alerts": "streams.commands.alerts", "simulate": "streams.commands.simulate", "evaluate": "streams.commands.evaluate",
    "export": "streams.commands.export", "train": "streams.commands.train", "labels": "streams.commands.labels", "model": "streams.commands.model", "topics": "streams.kafka.topics",
    "incidents": "streams.commands.soc", "ack": "streams.commands.soc", "resolve": "streams.commands.soc", "unblock": "streams.commands.soc",
    "notify": "streams.services.notify", "enforce": "streams.services.enforce", "blocks": "streams.services.enforce.blocks",
    "verdict": "streams.services.verdict.service", "ranges": "streams.commands.ranges", "console": "streams.services.console.service",
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from models.errors import ModelError

    from streams.kafka.config import ConfigError
    from streams.kafka.connect import KafkaProblem
    from streams.policy import PolicyError
    try:
        if args.cmd == "policy":
            from streams.policy import Policy
            pol = Policy.load(args.file)
            for w in pol.warnings:
                print(f"policy warning: {safe(w, 400)}", file=sys.stderr)
            print(f"{args.file}: valid policy" + (f", {len(pol.warnings)} warning(s)" if pol.warnings else ""))
            return 1 if (pol.warnings and args.strict) else 0
        if args.cmd == "schema":
            return _schema(args)
        # each command's module is imported only when it runs (the worker pulls in Faust)
        return import_module(COMMANDS[args.cmd]).main(args)
    except ModelError as exc:
        print(f"model error: {exc}", file=sys.stderr)
        return 2
    except PolicyError as exc:
        for line in exc.problems:
            print(f"policy error: {safe(line, 400)}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"tollguard {args.cmd}: configuration: {exc}", file=sys.stderr)
        return 2
    except KafkaProblem as exc:
        print(f"tollguard {args.cmd}: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"tollguard: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    except ValueError as exc:  # an input that is not what --input says, or an unreadable --map
        from streams.intake import FormatError
        from streams.intake.mapped import MapError
        if not isinstance(exc, (FormatError, MapError)):
            raise
        print(f"tollguard {args.cmd}: {safe(str(exc), 400)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0



def _schema(args) -> int:
    import json
    from pathlib import Path

    from streams.domain.events import schemas
    docs = schemas()
    if args.write:
        d = Path(args.write)
        d.mkdir(parents=True, exist_ok=True)
        for name, schema in docs.items():
            (d / f"{name}.schema.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        print(f"wrote {len(docs)} schemas to {d}")
    else:
        print(json.dumps(docs, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
