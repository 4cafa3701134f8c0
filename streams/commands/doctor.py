"""``tollguard doctor``: check the broker, the topics, the consumer groups, the clock, the policy, the model,
notify's channels and the enforcers, each ✔ or ✘ with its fix (streams.services.doctor)."""

from __future__ import annotations

import argparse
import os
import sys

HELP = "check a deployment: broker, topics, lag, clock, policy, model, notify, enforcers; each ✔/✘ with its fix"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", metavar="FILE", help="the policy the worker runs with")
    p.add_argument("--model", metavar="FILE", help="the model the worker starts with (default: the shipped one)")
    p.add_argument("--no-model", action="store_true", help="the worker runs rules only")
    p.add_argument("--model-public-key", metavar="FILE", action="append",
                   help="a key published models must be signed with (default $TOLLGUARD_MODEL_PUBLIC_KEY)")
    p.add_argument("--notify", metavar="FILE", help="notify's configuration, to check its channels")
    p.add_argument("--send-test", action="store_true", help="with --notify: send one test message on each channel")
    p.add_argument("--enforce", metavar="FILE", help="enforce.yaml, to check each backend may act on this host")
    p.add_argument("--max-lag", type=int, default=10_000, metavar="RECORDS",
                   help="a consumer group further behind than this is a fault (default 10,000)")
    p.add_argument("--max-skew", type=float, default=5.0, metavar="SECONDS",
                   help="a broker clock further off than this is a fault (default 5)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per Kafka request (default 10)")
    p.add_argument("--no-kafka", action="store_true", help="check only the files and programs, not the cluster")


def main(args) -> int:
    for given in [args.policy, args.model, args.notify, args.enforce, *(args.model_public_key or [])]:
        if given is not None and not os.path.exists(given):  # a wrong argument, as for every command: exit 2
            raise FileNotFoundError(2, "No such file or directory", given)
    from models.signing import public_key_files
    from streams.kafka.config import Config
    from streams.services import doctor as d
    findings: list = []

    def show(new: list) -> None:
        for f in new:
            print(f.line(), flush=True)
        findings.extend(new)

    if args.no_kafka:
        show([d.Finding(d.SKIP, "broker", "--no-kafka: the cluster was not asked")])
    else:
        config = Config.from_env()
        found, admin = d.broker(config, args.timeout)
        show(found)
        if admin is not None:
            try:
                show(d.topics(config, admin))
                show(d.lag(config, admin, args.max_lag))
                show(d.skew(config, admin, args.max_skew))
            finally:
                admin.close()
    show(d.policy(args.policy))
    show(d.model(args.model, public_key_files(args.model_public_key), args.no_model))
    show(d.notify(args.notify, args.send_test, dict(os.environ)))
    show(d.enforcers(args.enforce))
    bad = [f for f in findings if f.mark == d.BAD]
    print(f"doctor: {len(findings) - len(bad)} fine or not checked, {len(bad)} to fix", file=sys.stderr)
    return 1 if bad else 0
