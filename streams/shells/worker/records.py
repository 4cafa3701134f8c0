"""The records on the worker's repartition topics (``<prefix>.by-ip``, ``.by-ext``, ``.by-trunk``).

One record carries a batch of events for one scope partition and the *marks* of the input
partitions they came from: ``TAG + msgpack([marks, events])`` with

- ``events``: ``[[source, offset, index, raw event JSON, event time, identity], ...]`` in the
  order ingest read them; ``source`` names the input partition (``cdr:2``), ``index`` the
  position inside a batch record (-1 for a one-event record); time and identity as ingest
  computed them, so the scopes do not again;
- ``marks``: ``{source: [watermark, idle, {tenant: [latest, lag]}, pace]}``: how far that
  input partition has got in event time, whether it has nothing left to read, each tenant's
  latest event time there and how far it lagged, and the watermark capped at the wall clock
  (``clock`` explains how a scope partition reads them). A mark follows the events it covers on every partition
  it is sent to, so a scope partition that reads it has read them all (docs/stream.md).

Ingest sends marks with every batch and, on their own, to every scope partition at least
every ``MARK_EVERY`` seconds while anything changed.
"""

from __future__ import annotations

import msgspec

TAG = b"\x00T1"
_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder()


def encode(marks: dict, events: list) -> bytes:
    return TAG + _enc.encode([marks, events])


def decode(value: bytes) -> tuple[dict, list]:
    """(marks, events) of a repartition record; ValueError for anything else."""
    if not value.startswith(TAG):
        raise ValueError(f"not a tollguard repartition record (starts {value[:4]!r})")
    marks, events = _dec.decode(memoryview(value)[len(TAG):])
    return marks, events
