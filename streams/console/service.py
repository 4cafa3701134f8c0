"""``tollguard console``: serve the page (uvicorn), following the topics; ``tollguard console user add``."""

from __future__ import annotations

import getpass
import logging
import sys

from ..text import safe

log = logging.getLogger("tollguard.console")


def main(args) -> int:
    if args.console_cmd == "user":
        return _add_user(args)
    from ..config import Config
    from ..observe import setup_logging
    from .app import Sessions, make_app
    from .commands import KafkaCommands
    from .feed import IncidentFeed
    from .store import IncidentStore
    from .users import UserBook, UserError
    setup_logging(args.log_format, "WARNING")
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)  # kafka-python's own loop-timing notes
    if not args.users:
        print("console: --users FILE is required (create it with `tollguard console user add FILE NAME --role analyst`)",
              file=sys.stderr)
        return 2
    try:
        users = UserBook.load(args.users)
    except UserError as exc:
        print(f"console: {safe(str(exc), 300)}", file=sys.stderr)
        return 2
    config = Config.from_env()
    store = IncidentStore()
    feed = IncidentFeed(config, store)
    feed.start()
    app = make_app(store, users, KafkaCommands(config), feed, Sessions(args.session_minutes * 60),
                   metrics_url=args.metrics, secure_cookie=args.secure_cookie)
    import uvicorn
    log.warning("console: http://%s:%d/ (%d users; incidents from %s)", args.host, args.port, len(users), config.incidents)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _add_user(args) -> int:
    from .users import UserError, add
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
