"""``tollguard worker``: the Faust shell around the detection core.

- ``app``          the topology, batch agents, commit protocol and rebalance hooks (Faust wiring)
- ``ingest``       input records -> validated events routed to scope partitions, dead letters
- ``scope``        a scope partition's detector, state and clock
- ``clock``        event time per tenant from the input partitions' marks
- ``records``      the repartition record format
- ``emit``         alerts, actions and the blocklist out
- ``statecodec``   changelog values
- ``faust_compat`` everything below Faust's public API, with a reason per patch
"""

from __future__ import annotations

import sys

from streams.shells.gcpolicy import settle_after_startup
from streams.shells.worker.app import create_app

__all__ = ["create_app", "main"]


def model_trust(args, config, scorer):
    """Whose signed models on <prefix>.models the worker switches to, said once at start (docs/models.md).
    The model it starts with (the bundled one, or --model FILE) is the operator's own and is not checked."""
    import logging
    from models.signing import Trust, public_key_files
    trust = Trust.from_files(public_key_files(getattr(args, "model_public_key", None)),
                             allow_unsigned=getattr(args, "allow_unsigned", False))
    if scorer is not None:
        # routine start-up is INFO; only accepting unsigned models from the topic is worth a WARNING
        say = logging.getLogger("tollguard.models").warning if trust.allow_unsigned else \
            logging.getLogger("tollguard.models").info
        say("model: scoring with %s; %s on %s%s", scorer.version, trust.describe(), config.models,
            ": anyone who can write to that topic can change the model" if trust.allow_unsigned else
            " (the model in use stays)" if not trust.keys else "")
    return trust


def main(args) -> int:
    from faust.worker import Worker

    from streams.kafka.config import Config
    from streams.policy import Policy
    from models.loading import load_scorer
    from streams.kafka.topics import ensure_topics

    from streams.kafka.observe import serve, setup_logging, web_port

    setup_logging(args.log_format, args.loglevel)
    policy = Policy.load(args.policy) if args.policy else Policy.default()
    for w in policy.warnings:  # valid, but probably not meant (streams.policy.lint)
        print(f"policy warning: {w}", file=sys.stderr)
    scorer = load_scorer(args)
    config = Config.from_env()
    trust = model_trust(args, config, scorer)
    ensure_topics(config)
    app = create_app(config, policy, (scorer.model, scorer.card) if scorer else None, trust)
    metrics = app.tollguard.metrics
    serve(metrics.m, metrics.health, web_port(args.web_port))
    settle_after_startup()  # start-up objects out of the collector's passes (streams.shells.gcpolicy)
    # our handler and format (escaped text or JSON), not Faust's colour log; no spinner's cursor codes
    worker = Worker(app, loglevel=args.loglevel.upper(), quiet=True, override_logging=False)
    worker.spinner = None
    worker.execute_from_commandline()
    return 0
