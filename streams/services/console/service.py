"""``tollguard console``: serve the page (uvicorn), following the topics; ``tollguard console user add``."""

from __future__ import annotations

import getpass
import ipaddress
import logging
import sys

from streams.reference.text import safe

log = logging.getLogger("tollguard.console")


def main(args) -> int:
    if args.console_cmd == "user":
        return _add_user(args)
    from streams.kafka.config import Config
    from streams.kafka.observe import setup_logging
    from streams.services.console.app import Sessions, make_app
    from streams.services.console.commands import KafkaCommands
    from streams.services.console.feed import IncidentFeed
    from streams.services.console.store import IncidentStore
    from streams.services.console.users import UserBook, UserError
    setup_logging(args.log_format, getattr(args, "loglevel", "info"))
    # the audit trail of sign-ins and decisions is written whatever --loglevel says (propagation to the
    # root handler does not look at the root logger's level)
    logging.getLogger("tollguard.console.audit").setLevel(logging.INFO)
    if getattr(args, "loglevel", "info") != "debug":
        logging.getLogger("kafka").setLevel(logging.WARNING)  # kafka-python's connection chatter, as notify and enforce
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)  # kafka-python's own loop-timing notes
    if not args.users:
        print("console: --users FILE is required (create it with `tollguard console user add FILE NAME --role analyst`)",
              file=sys.stderr)
        return 2
    try:
        users = UserBook.load(args.users)
        proxies = trusted_proxies(args.trust_proxy)
    except (UserError, ValueError) as exc:
        print(f"console: {safe(str(exc), 300)}", file=sys.stderr)
        return 2
    config = Config.from_env()
    store = IncidentStore()
    feed = IncidentFeed(config, store)
    feed.start()
    app = make_app(store, users, KafkaCommands(config), feed, Sessions(args.session_minutes * 60),
                   metrics_url=args.metrics, secure_cookie=not args.insecure_cookie, tz=getattr(args, "tz", "UTC"))
    import uvicorn
    log.info("console: http://%s:%d/ (%d users; incidents from %s)", args.host, args.port, len(users), config.incidents)
    if args.insecure_cookie:
        log.warning("console: --insecure-cookie: the session cookie also travels over plain HTTP, where anyone on "
                    "the path can read it and take the session; use it only in a lab")
    if proxies:
        log.warning("console: X-Forwarded-For is believed from %s only", ", ".join(proxies))
    # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: then any local client chooses the
    # address the audit log and the login throttle see. Only a proxy the operator names is believed.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                proxy_headers=bool(proxies), forwarded_allow_ips=proxies or "")
    return 0


def trusted_proxies(given: list[str]) -> list[str]:
    """``--trust-proxy`` values as networks (a bare address is its /32 or /128); ValueError names a bad one."""
    nets = []
    for value in given:
        try:
            if "%" in value:
                raise ValueError("scope id")
            nets.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise ValueError(f"--trust-proxy {value!r}: not an address or network (e.g. 10.0.0.0/8)") from None
    return nets


def _add_user(args) -> int:
    from streams.services.console.users import UserError, add
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("console: the passwords differ", file=sys.stderr)
            return 2
    try:
        user = add(args.file, args.name, args.role, args.tenant, password)
    except (UserError, OSError, ValueError) as exc:
        print(f"console: {safe(str(exc), 300)}", file=sys.stderr)
        return 2
    print(f"console: {safe(user.name, 64)} ({user.role}{', tenant ' + safe(user.tenant, 64) if user.tenant else ''}) "
          f"written to {safe(str(args.file), 200)}")
    return 0
