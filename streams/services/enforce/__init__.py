"""``tollguard enforce``: carry out the block actions of ``<prefix>.actions`` (docs/enforce.md).

Modules, one job each: :mod:`.action` (a record, checked), :mod:`.settings` (enforce.yaml),
:mod:`.backends` (nftables, fail2ban, command, webhook: plan the steps for an action),
:mod:`.steps` (run a program or send a request; describe it for ``--dry-run``), :mod:`.ledger`
(what was applied; farthest block ends), :mod:`.applier` (expiry, once-only, retries, logs,
counts), :mod:`.service` (the Kafka loop), :mod:`.blocks` (``tollguard blocks``).
"""

from __future__ import annotations


def main(args) -> int:
    import logging

    from streams.kafka.config import Config
    from streams.kafka.observe import setup_logging, web_port
    from streams.services.enforce.applier import Applier
    from streams.services.enforce.ledger import Ledger
    from streams.services.enforce.metrics import EnforceMetrics
    from streams.services.enforce.service import Service
    from streams.services.enforce.settings import Settings

    setup_logging(args.log_format, args.loglevel)
    if logging.getLogger().level > logging.DEBUG:  # kafka-python narrates every connection at INFO
        logging.getLogger("kafka").setLevel(logging.WARNING)
    settings = Settings.load(args.config)
    log = logging.getLogger("tollguard.enforce")
    for line in settings.never.summary():
        log.info("%s", line)
    for line in settings.never.warnings():
        log.warning("%s", line)
    config = Config.from_env()
    state = None if args.dry_run else (getattr(args, "state", None) or settings.state)
    applier = Applier(settings.backends, Ledger(state), EnforceMetrics(), dry_run=args.dry_run)
    group = settings.group or f"{config.prefix}-enforce"
    return Service(config, applier, group, args.idle_timeout).run(web_port(args.web_port))
