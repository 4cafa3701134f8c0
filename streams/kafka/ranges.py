"""Following the compacted ``<prefix>.ranges`` topic into a ``RangeTable`` (key: the prefix; value: the
range as JSON; a tombstone takes it off): the worker and the verdict keep their tables up to date with it."""

from __future__ import annotations

import json
import threading

from streams.reference.ranges import RangeError, RangeTable, parse_range


def apply(table: RangeTable, key: bytes | None, value: bytes | None) -> bool:
    """One topic record into the table; False when it is not a readable range (logged by the caller)."""
    if key is None:
        return False
    prefix = key.decode("utf-8", "replace")
    if value is None:
        table.remove(prefix)
        return True
    try:
        d = json.loads(value)
        table.put(parse_range(d.get("prefix", ""), d.get("label", ""), d.get("source", ""), d.get("expires") or ""))
        return True
    except (ValueError, RangeError, AttributeError):
        return False


def follow(config, table: RangeTable, stop: "threading.Event | None" = None) -> None:
    """Read the ranges topic from its start and keep reading, on the calling thread (the worker runs it on
    a daemon thread of its own, away from Faust's event loop); never raises."""
    from streams.kafka.follow import follow_topic
    follow_topic(config, config.ranges, lambda key, value: apply(table, key, value), what="range",
                 kept="the ranges known so far stay in force", stop=stop)


def start_following(config, table: RangeTable) -> "threading.Thread":
    from streams.kafka.follow import start
    return start(follow, config, table, name="tollguard-ranges")
