"""The incident stage: detections and the SOC's decisions in, incident updates and actions out (no Faust here).

Each partition of ``<prefix>.detections`` has its own :class:`~streams.domain.incidents.IncidentBook`
over the incident table (through a ``BufferedState``, written at the commit point like the
scopes' state). Records are keyed by tenant and subject, so every detection and decision about
one subject reaches the same book.
"""

from __future__ import annotations

import logging
from typing import Union

import msgspec

from streams.domain.incidents import Decision, IncidentBook, IncidentRecord, Lifted, Seen
from streams.state import BufferedState

log = logging.getLogger("tollguard.worker")

_decoder = msgspec.json.Decoder(Union[Seen, Decision, Lifted, list[Union[Seen, Decision, Lifted]]])


class IncidentRunner:
    def __init__(self, store: dict, owns, privacy=None):
        self.store = store
        self.privacy = privacy  # privacy(tenant): how action targets are shown on incidents
        self.owns = owns  # owns(key, partition): does this key's state live in that partition?
        self.books: dict[int, IncidentBook] = {}
        self.bad = 0

    def book(self, part: int) -> IncidentBook:
        b = self.books.get(part)
        if b is None:
            b = self.books[part] = IncidentBook(BufferedState(self.store), self.privacy)
        return b

    def apply(self, part: int, value: bytes, dead: list, out: list) -> None:
        """One detection or decision: the incident updates and the actions to publish go to ``out``."""
        try:
            rec = _decoder.decode(value)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            self.bad += 1
            dead.append((value, f"not a detection or decision record: {exc}"))
            return
        book = self.book(part)
        for r in rec if isinstance(rec, list) else (rec,):  # the emitter sends an incident key's detections together
            out += book.absorb(r)

    def finish(self, out: list) -> None:
        """The end of a batch: each incident it changed goes out once, as its latest record."""
        for book in self.books.values():
            out += book.updates()

    def sweep(self, part: int, wall: float | None = None) -> list[IncidentRecord]:
        """Close the partition's incidents that its latest detections, or the wall clock, have left behind."""
        return self.book(part).sweep(None, None, lambda key: self.owns(key, part), floor=wall)

    def flush(self, part: int) -> list[tuple[str, object]]:
        """The incident table's changes to persist: [(key, value or None)]."""
        book = self.books.get(part)
        return [] if book is None else book.state.commit()

    def forget(self, parts) -> None:
        for p in parts:
            self.books.pop(p, None)
