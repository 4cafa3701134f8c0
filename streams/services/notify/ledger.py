"""Which Kafka offsets are finished, per channel, and what may be committed.

A record read at (topic, partition, offset) is *held* for every channel that subscribes to its
topic, and *released* by a channel when it has delivered it, parked it, filtered it out or found
it a duplicate. The committed offset of a partition is its lowest offset still held by some
channel. Records above that offset which a channel has finished are written into the commit's
metadata (``{"v": 1, "done": {"channel": [[from, to_exclusive], ...]}}``), so that after a
restart the re-read tail is replayed into the channel's memory without being sent again. The
metadata is kept under :data:`MAX_METADATA` bytes (the broker's ``offset.metadata.max.bytes`` is
4096 by default); when it would not fit, the highest ranges are left out and those records may
be sent again after a crash (at-least-once).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

MAX_METADATA = 3500
Ref = tuple  # (topic, partition, offset)


@dataclass
class Part:
    base: int                                         # first offset this run is responsible for
    upto: int                                         # one past the highest offset read
    held: dict = field(default_factory=dict)          # channel -> set of offsets not finished
    earlier: dict = field(default_factory=dict)       # channel -> [[a, b)] finished by an earlier run
    dirty: bool = True


class Ledger:
    def __init__(self, channels: list[str]):
        self.channels = list(channels)
        self._parts: dict[tuple, Part] = {}
        self._lock = threading.Lock()

    def known(self, tp) -> bool:
        with self._lock:
            return tp in self._parts

    def start(self, tp, offset: int, metadata: str | None) -> None:
        """A partition this run starts reading at ``offset``, with the metadata of the last commit."""
        earlier = parse(metadata)
        with self._lock:
            self._parts[tp] = Part(offset, offset, {c: set() for c in self.channels}, earlier)

    def forget(self, tp) -> None:
        with self._lock:
            self._parts.pop(tp, None)

    def read(self, tp, offset: int, channels: list[str]) -> dict[str, bool]:
        """Hold ``offset`` for ``channels``; tell each whether an earlier run finished it (a replay)."""
        with self._lock:
            part = self._parts[tp]
            part.upto = max(part.upto, offset + 1)
            part.dirty = True
            out = {}
            for ch in channels:
                part.held.setdefault(ch, set()).add(offset)
                out[ch] = any(a <= offset < b for a, b in part.earlier.get(ch, ()))
            return out

    def release(self, channel: str, ref: Ref) -> None:
        topic, partition, offset = ref
        with self._lock:
            part = self._parts.get((topic, partition))
            if part is not None and offset in part.held.get(channel, ()):
                part.held[channel].discard(offset)
                part.dirty = True

    def mark_dirty(self, tps) -> None:
        with self._lock:
            for tp in tps:
                if tp in self._parts:
                    self._parts[tp].dirty = True

    def held(self) -> int:
        with self._lock:
            return sum(len(s) for p in self._parts.values() for s in p.held.values())

    def commits(self, force: bool = False) -> dict:
        """{tp: (offset, metadata)} for the partitions that changed since the last call."""
        out = {}
        with self._lock:
            for tp, part in self._parts.items():
                if part.dirty or force:
                    out[tp] = _commit(part, self.channels)
                    part.dirty = False
        return out


def _commit(part: Part, channels: list[str]) -> tuple[int, str]:
    point = min((min(s) for s in part.held.values() if s), default=part.upto)
    done = {}
    for ch in channels:
        held = sorted(o for o in part.held.get(ch, ()) if o >= point)
        ranges, start = [], point
        for o in held:
            if o > start:
                ranges.append([start, o])
            start = o + 1
        if part.upto > start:
            ranges.append([start, part.upto])
        ranges += [[max(a, part.upto), b] for a, b in part.earlier.get(ch, ()) if b > part.upto]
        if ranges:
            done[ch] = _merge(ranges)
    return point, encode(done)


def _merge(ranges: list) -> list:
    out: list = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def encode(done: dict) -> str:
    """The metadata JSON, cut from the highest ranges down until it fits."""
    done = {ch: list(r) for ch, r in done.items() if r}
    while True:
        text = json.dumps({"v": 1, "done": done}, separators=(",", ":"))
        if len(text.encode()) <= MAX_METADATA or not done:
            return text
        ch = max(done, key=lambda c: len(done[c]))
        done[ch].pop()
        if not done[ch]:
            del done[ch]


def parse(metadata: str | None) -> dict:
    try:
        doc = json.loads(metadata) if metadata else {}
        done = doc.get("done", {}) if isinstance(doc, dict) and doc.get("v") == 1 else {}
        return {str(ch): [(int(a), int(b)) for a, b in r] for ch, r in done.items()}
    except (ValueError, TypeError, AttributeError):
        return {}  # someone else's metadata: nothing is known finished above the committed offset
