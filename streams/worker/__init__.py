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

import gc

from .app import create_app

__all__ = ["create_app", "main"]


def main(args) -> int:
    from faust.worker import Worker

    from ..config import Config
    from ..policy import Policy
    from models.loading import load_scorer
    from ..topics import ensure_topics

    from ..observe import serve, setup_logging, web_port

    setup_logging(args.log_format, args.loglevel)
    policy = Policy.load(args.policy) if args.policy else Policy.default()
    for w in policy.warnings:  # valid, but probably not meant (streams.policy_lint)
        print(f"policy warning: {w}", file=sys.stderr)
    scorer = load_scorer(args)
    config = Config.from_env()
    ensure_topics(config)
    app = create_app(config, policy, (scorer.model, scorer.card) if scorer else None)
    metrics = app.tollguard.metrics
    serve(metrics.m, metrics.health, web_port(args.web_port))
    # Start-up objects (libraries, the model, phone metadata) never die: keep them out of the
    # collector's full passes, and collect young objects less often. Full passes over a few
    # hundred MB of heap stalled the event loop for 100-300 ms (the latency tail).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    # our handler and format (escaped text or JSON), not Faust's colour log; no spinner's cursor codes
    worker = Worker(app, loglevel=args.loglevel.upper(), quiet=True, override_logging=False)
    worker.spinner = None
    worker.execute_from_commandline()
    return 0
