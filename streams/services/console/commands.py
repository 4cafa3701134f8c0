"""The console's actions, sent as the CLI sends them (``tollguard ack|resolve|unblock``, streams.commands.soc):
a decision on ``<prefix>.detections`` keyed by the incident's subject, an unblock on ``<prefix>.security``.
The worker records both on the incident, with who and when, and the page shows it from the topic."""

from __future__ import annotations

from datetime import datetime, timezone

from streams.domain.events import Unblock, encode
from streams.domain.incidents import Decision, subject_key
from streams.domain.incidents import record_from_topic as _record
from streams.kafka.topic_io import send_one as _send


class KafkaCommands:
    def __init__(self, config):
        self.config = config

    def decide(self, rec: dict, status: str, note: str, verdict: str | None, by: str) -> None:
        d = Decision(incident_id=rec["incident_id"], tenant=rec["tenant"], subject_type=rec["subject_type"],
                     subject=rec["subject"], status=status, by=by, at=datetime.now(timezone.utc), note=note,
                     verdict=verdict, incident=_record(rec))
        _send(self.config, self.config.detections, subject_key(d.tenant, d.subject_type, d.subject).encode(), encode(d))

    def unblock(self, rec: dict, target: str, reason: str, by: str) -> None:
        ev = Unblock(ts=datetime.now(timezone.utc), target=target, reason=reason, tenant=rec["tenant"], by=by)
        _send(self.config, self.config.security, target.encode(), encode(ev))
