"""One stage's commit protocol, in one object (as Quix Streams keeps its checkpoint).

A stage (a scope of the detection core, or the incident book) reads records, applies them to its
state and sends what they caused. Its ``Checkpoint`` holds what is not yet safe: the records read
and not yet acknowledged, the sends still in flight, and the partitions whose state changed.
``commit`` makes it safe in the one order that survives a crash: the state's changes go to the
changelog (with whatever flushing them sends), every send is awaited, and only then are the records
acknowledged. A crash before the acknowledgement repeats the records, which the state (keyed by
event identity) and the alert ids (named by what was detected) absorb.

It knows nothing of Faust: the worker gives it the calls to write a changelog record and to
acknowledge (``streams.shells.worker.faust_compat`` holds those).
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, Iterable


class Checkpoint:
    def __init__(self, flush: Callable[[int], tuple[list, list]], send: Callable[[list], Awaitable[list]],
                 write: Callable[[str, object, int], Awaitable[object]], ack: Callable[[list], None]):
        """``flush(partition)`` gives (records to send, (key, state or None) changes) of a partition;
        ``send(records)`` sends and gives the futures; ``write(key, value, partition)`` writes one changelog
        record and gives its future; ``ack(records)`` acknowledges records read."""
        self._flush, self._send, self._write, self._ack = flush, send, write, ack
        self.lock = asyncio.Lock()
        self.records: list = []         # read, not yet acknowledged
        self.sends: list = []           # futures to await before the state is written and the records acknowledged
        self.touched: set[int] = set()  # partitions whose state changed since the last commit
        self.since: float | None = None  # when the oldest record not acknowledged was read
        self.last = time.monotonic()     # when the last commit began
        self.failed: BaseException | None = None  # a batch failed midway: nothing is acknowledged any more

    def read(self, records: list, partitions: Iterable[int]) -> None:
        """Records applied to the state of ``partitions``: acknowledged at the next commit."""
        if records and not self.records:
            self.since = time.monotonic()
        self.records.extend(records)
        self.touched.update(partitions)

    def sent(self, futures: list) -> None:
        """Sends the next commit awaits before it acknowledges."""
        self.sends.extend(futures)

    def abort(self, exc: BaseException) -> None:
        """A batch failed after its records were read (a send raised, a rule failed): what it caused may be
        missing, so no later commit may acknowledge it. Every commit from now on raises instead; a restart
        reads the records again from the last acknowledgement."""
        if self.failed is None:
            self.failed = exc

    def due(self, max_records: int, max_seconds: float) -> bool:
        return len(self.records) >= max_records or time.monotonic() - self.last >= max_seconds

    async def commit(self, between: Callable[[], None] | None = None) -> None:
        """Flush each touched partition (sending what the flush gives, writing its changes), call ``between``
        (what must happen after the flush and before the acknowledgement), await every send, acknowledge."""
        if self.failed is not None:
            raise RuntimeError(f"a batch of this stage failed ({self.failed!r}); nothing more is acknowledged "
                               "until a restart reads it again") from self.failed
        self.last = time.monotonic()
        for part in sorted(self.touched):
            out, changes = self._flush(part)
            if out:
                self.sends.extend(await self._send(out))
            for key, value in changes:
                self.sends.append(await self._write(key, value, part))
        self.touched.clear()
        if between is not None:
            between()
        for f in self.sends:
            await f
        self.sends.clear()
        if self.records:
            self._ack(self.records)
        self.records.clear()
        self.since = None
