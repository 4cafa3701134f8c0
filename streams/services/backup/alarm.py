"""When a backup fails and ``--notify FILE`` was given: one message on each of notify's channels saying what
failed (the guide's Event Notification). Routing by tenant, rule or record type does not apply (a backup
belongs to no tenant); the message is ``critical``, so every channel's ``min_severity`` lets it through.
The file is loaded before the backup starts, so a wrong one is a bad argument, not a silent failure later."""

from __future__ import annotations

import socket
from datetime import datetime, timezone

from streams.reference.text import safe


class Alarm:
    def __init__(self, path: str, env: dict):
        from streams.services.notify.settings import load
        self.loaded = load(path, env)

    def send(self, what: str, reason: str, details: dict) -> list[str]:
        """Send one message per channel; the channels that could not take it, each with why (redacted)."""
        from streams.services.notify.render import Message
        from streams.services.notify.senders import broadcast
        host = socket.gethostname()
        title = f"[tollguard CRITICAL] {what} failed on {safe(host, 64)}"
        text = "\n".join([title, f"reason: {safe(reason, 600)}",
                          *(f"{k}: {safe(str(v), 200)}" for k, v in details.items())])
        body = {"type": "backup_failed", "severity": "critical", "host": host, "reason": reason,
                "at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **details}
        msg = Message(kind="alert", severity="critical", title=title, text=text, body=body)
        return [f"{name}: {why}" for name, why in broadcast(self.loaded, msg).items() if why is not None]
