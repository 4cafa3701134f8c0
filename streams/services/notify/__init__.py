"""``tollguard notify --config notify.yaml``: incidents and alerts from Kafka to webhooks, email,
syslog (RFC 5424 or CEF) and, through apprise, other chat and pager services (docs/notify.md).

Modules: ``settings`` (notify.yaml), ``secrets`` (redaction), ``render`` (what a message says),
``pacer`` (routing, dedupe, digests, the storm cap), ``senders`` and ``syslog`` (delivery),
``channel`` (one thread per channel: retries, backoff, parking), ``ledger`` (what may be
committed), ``service`` (the Kafka consumer).
"""

from __future__ import annotations

import logging
import os
import signal


def main(args) -> int:
    from streams.kafka.config import Config
    from streams.kafka.connect import preflight
    from streams.kafka.observe import serve, setup_logging, web_port
    from streams.services.notify import secrets
    from streams.services.notify.service import NotifyMetrics, Service
    from streams.services.notify.settings import load

    setup_logging(args.log_format, args.loglevel)
    if args.loglevel.lower() != "debug":  # kafka-python's INFO is every connection and fetch
        logging.getLogger("kafka").setLevel(logging.WARNING)
    loaded = load(args.config, dict(os.environ))
    secrets.install(loaded.redactor)
    config = Config.from_env()
    metrics = NotifyMetrics()
    service = Service(loaded, config, metrics)
    existing = preflight(config)
    for topic in service.topics:
        if topic not in existing:
            logging.getLogger("tollguard.notify").warning("%s does not exist yet on %s; waiting for it", topic,
                                                          config.where)
    web = serve(metrics.metrics, service.health, web_port(args.web_port))

    def stop(signum, frame):
        service.stop.set()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return service.run(args.idle_timeout)
    finally:
        if web is not None:
            web.stop()
