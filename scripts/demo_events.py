#!/usr/bin/env python3
"""make demo: the bundled fixture day moved forward by whole weeks, so it ends in the last week.

Whole weeks keep every weekday and time of day (business hours, time conditions, the model's
hour-of-day features), and a day in the recent past lets `enforce` show blocks still in force.
Lines that are not events (the fixture's deliberate rejects) are copied unchanged.

    demo_events.py IN OUT
"""

import json
import os
import sys
import time
from datetime import datetime, timedelta

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
FIELDS = ("ts", "start", "answer", "end")
WEEK = 7 * 86400


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def latest(lines: list[str]) -> float:
    """The latest time of the lines that are valid events (a reject may carry any time)."""
    from streams.domain.events import EventError, decode_event
    out = 0.0
    for line in lines:
        try:
            decode_event(line)
            ev = json.loads(line)
        except (EventError, ValueError):
            continue
        for f in FIELDS:
            if isinstance(ev.get(f), str):
                out = max(out, parse(ev[f]).timestamp())
    return out


def main(src: str, dst: str) -> int:
    lines = open(src, encoding="utf-8").read().splitlines()
    weeks = int((time.time() - 3600 - latest(lines)) // WEEK)
    shift = timedelta(weeks=max(weeks, 0))
    with open(dst, "w", encoding="utf-8") as out:
        for line in lines:
            try:
                ev = json.loads(line)
                for f in FIELDS:
                    if isinstance(ev.get(f), str):
                        ev[f] = (parse(ev[f]) + shift).isoformat().replace("+00:00", "Z")
                out.write(json.dumps(ev) + "\n")
            except (ValueError, TypeError, AttributeError):
                out.write(line + "\n")
    print(f"demo: {src} moved forward {shift.days // 7} weeks into {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
