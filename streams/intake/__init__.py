"""Intake: the files operators have (JSONL, CDR exports, PBX security logs) to the event contract.

Everything is read a physical line at a time by a ``Converter`` (one per file), so ``replay``,
``produce`` and the ``tail`` shipper read alike, and every line is accounted for: an event, a
reject with its file:line and reason, or a skipped line (a comment, a header, a log line that is
no security event, a CDR to a pseudo-destination), counted per file.

``--input auto`` (the default) picks the format of each file from its first lines
(``sniff``); an explicit format that the first lines contradict stops with one hint, not a
reject per line.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Iterable, Iterator
from zoneinfo import ZoneInfo

from streams.intake import cdr, seclog
from streams.intake.common import AdapterError
from streams.policy.meaning import CdrMeaning

CSV_FORMATS = ("asterisk-csv", "freeswitch-csv", "yeastar-csv", "3cx-csv", "csv")
FORMATS = ("auto", "jsonl", *CSV_FORMATS, *seclog.FORMATS)
MAX_LINE = 1 << 20         # a longer line is rejected (read in bounded memory, never held whole)
SNIFF_LINES = 50
csv.field_size_limit(MAX_LINE)


class FormatError(ValueError):
    """The input is not in the format asked for (or none could be told): one message, not a reject per line."""


@dataclass
class Counts:
    """What became of a file's lines."""
    fmt: str = ""
    lines: int = 0
    events: int = 0
    skipped: int = 0
    rejected: int = 0

    def line(self, source: str) -> str:
        return (f"{source} ({self.fmt}): {self.lines:,} lines, {self.events:,} events, "
                f"{self.skipped:,} skipped, {self.rejected:,} rejected")


@dataclass
class Summary:
    """Counts per file, for the summary line of replay, produce and tail."""
    files: dict[str, Counts] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        return sum(c.events for c in self.files.values())

    def lines(self) -> list[str]:
        return [c.line(src) for src, c in self.files.items()]


class Converter:
    """One file's lines to events. ``feed(line)`` gives ``[(raw, error)]``: JSON event bytes with no
    error, the line itself with the reason it was rejected, or nothing for a skipped line."""

    def __init__(self, fmt: str, tz: str | ZoneInfo = "UTC", tenant: str = "default",
                 meaning: CdrMeaning | None = None, mapping=None, year: int | None = None):
        if fmt not in FORMATS or fmt == "auto":
            raise ValueError(f"unknown input format {fmt!r} (one of {', '.join(FORMATS[1:])})")
        self.fmt, self.tenant = fmt, tenant
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self.meaning = meaning or CdrMeaning()
        if mapping is not None and mapping.date_order and mapping.date_order != self.meaning.date_order:
            self.meaning = self.meaning.model_copy(update={"date_order": mapping.date_order})  # the map's own order
        self.mapping = mapping
        if fmt == "csv" and mapping is None:
            raise FormatError("--input csv needs --map MAP.yaml naming its columns (docs/intake.md)")
        self.row = cdr.Row(self.meaning, self.tz, tenant)
        self.log = _log_reader(fmt, self.tz, tenant, year) if fmt in seclog.FORMATS else None
        self.rust = self.log is not None and not isinstance(self.log, seclog.LogState)
        self.header: list[str] | None = None
        self.counts = Counts(fmt)
        self.first = True

    def snapshot(self) -> dict:
        """What a shipper persists to resume mid-file (the header of a header-led CSV, the log's year)."""
        return {"header": self.header, "log": self.log.snapshot() if self.log else None, "first": self.first}

    def restore(self, snap: dict) -> None:
        self.header = snap.get("header")
        self.first = snap.get("first", False)
        if self.log is not None and snap.get("log"):
            if self.rust:
                self.log.restore(snap["log"])
            else:
                self.log = seclog.LogState.restore(self.tz, self.tenant, snap["log"])

    def feed(self, line: bytes) -> list[tuple[bytes, str | None]]:
        if self.rust:
            return self.feed_many([line])[0]
        self.counts.lines += 1
        if self.first:
            self.first = False
            line = line.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark is no part of the first field
        out = self._convert(line.rstrip(b"\r\n"))
        if not out:
            self.counts.skipped += 1
        return out  # events and rejects are counted once validated against the contract (``decoded``)

    def feed_many(self, lines: list[bytes]) -> list[list[tuple[bytes, str | None]]]:
        """``feed`` of each line; a log read by the engine parses them in one call."""
        if not self.rust:
            return [self.feed(line) for line in lines]
        out: list = []
        texts, where = [], []
        for line in lines:
            self.counts.lines += 1
            if self.first:
                self.first = False
                line = line.removeprefix(b"\xef\xbb\xbf")
            line = line.rstrip(b"\r\n")
            text = line.decode("utf-8", errors="replace") if line.strip() else ""
            if not text or text.lstrip().startswith("#"):  # as _convert and _event: never parsed
                out.append([])
                continue
            where.append(len(out))
            out.append(line)
            texts.append(text)
        for i, got in zip(where, self.log.parse(texts), strict=True):  # one answer per line, or a loud error
            if got is None:
                out[i] = []
            elif isinstance(got, str):
                out[i] = [(out[i], got)]
            else:
                out[i] = [(json.dumps(got, separators=(",", ":"), ensure_ascii=False).encode(), None)]
        self.counts.skipped += sum(1 for o in out if not o)
        return out

    def _convert(self, line: bytes) -> list[tuple[bytes, str | None]]:
        if not line.strip():
            return []
        if self.fmt == "jsonl":
            return [(line, None)]
        text = line.decode("utf-8", errors="replace")
        try:
            ev = self._event(text)
        except AdapterError as exc:
            return [(line, str(exc))]
        except csv.Error as exc:
            return [(line, f"not a CSV row: {exc}")]
        if ev is None:
            return []
        return [(json.dumps(ev, separators=(",", ":"), ensure_ascii=False).encode(), None)]

    def _event(self, text: str) -> dict | None:
        if self.log is not None:
            if text.lstrip().startswith("#"):
                return None
            return seclog.parse_line(self.fmt, text, self.log)
        fields = next(csv.reader([text], strict=True), [])
        if not fields or all(not f.strip() for f in fields):
            return None
        if self.fmt == "asterisk-csv":
            if _looks_like_header(fields, ("src", "dst", "dcontext")):
                return None
            return cdr.asterisk_row(fields, self.row)
        if self.fmt == "freeswitch-csv":
            if _looks_like_header(fields, ("caller_id_number", "destination_number", "uuid")):
                return None
            return cdr.freeswitch_row(fields, self.row)
        if self.fmt == "3cx-csv":
            return cdr.threecx_row(fields, self.row)
        if self.header is None:
            return self._take_header(fields)
        named = dict(zip(self.header, fields))
        if self.fmt == "yeastar-csv":
            return cdr.yeastar_row(named, self.row)
        return self.mapping.event(named, fields, self.row)

    def _take_header(self, fields: list[str]) -> None:
        header = [h.strip().lstrip("\ufeff") for h in fields]
        if self.fmt == "yeastar-csv" and ("Time" not in header or "Call To" not in header):
            raise AdapterError("first row must be the Yeastar header (Time, Call From, Call To, …)")
        if self.fmt == "csv" and self.mapping.by_header:
            missing = self.mapping.missing(header)
            if missing:
                raise AdapterError(f"header lacks the mapped column(s) {', '.join(missing)}")
        elif self.fmt == "csv":
            self.header = [str(i) for i in range(len(fields))]
            return self.mapping.event(dict(zip(self.header, fields)), fields, self.row)
        self.header = header
        return None


def _log_reader(fmt: str, tz: ZoneInfo, tenant: str, year: int | None):
    """The log's reading state: the engine's ``LogReader`` (streams/_engine.pyi), or with
    ``TOLLGUARD_ENGINE=python`` the reference ``seclog.LogState``; also for a zone the engine cannot
    open (one without a name, or only in the ``tzdata`` package where the system has no TZif files)."""
    from models.forest import engine_choice
    if engine_choice() == "rust" and tz.key:
        from streams import _engine
        try:
            return _engine.LogReader(fmt, tz.key, tenant, year)
        except ValueError:
            pass
    return seclog.LogState(tz, tenant, year)


def _looks_like_header(fields: list[str], names: tuple[str, ...]) -> bool:
    low = {f.strip().lower().lstrip("\ufeff") for f in fields}
    return sum(n in low for n in names) >= 2


def lines_of(fh: IO[bytes]) -> Iterator[bytes]:
    """The physical lines of a file in bounded memory: a line over ``MAX_LINE`` comes out cut, marked
    by its missing newline and its length (the converter rejects it; the rest of the file goes on)."""
    while True:
        line = fh.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while True:  # skip the rest of this line
                more = fh.readline(MAX_LINE)
                if not more or more.endswith(b"\n"):
                    break
            yield TOO_LONG
            continue
        yield line


TOO_LONG = b"\x00too-long"


def _open(path: str) -> IO[bytes]:
    return sys.stdin.buffer if path == "-" else open(path, "rb")


def sniff(lines: list[bytes]) -> str | None:
    """The format the first lines of a file are in, or None when they do not say."""
    votes: dict[str, int] = {}
    for raw in lines[:SNIFF_LINES]:
        fmt = sniff_line(raw)
        if fmt:
            votes[fmt] = votes.get(fmt, 0) + 1
    return max(votes, key=votes.get) if votes else None


def sniff_line(raw: bytes) -> str | None:
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    if not text or text.startswith("#"):
        return None
    if text[0] in "{[" and (text.endswith("}") or text.endswith("]")):
        try:
            json.loads(text)
            return "jsonl"
        except ValueError:
            pass
    log = seclog.sniff_line(text)
    if log:
        return log
    try:
        fields = next(csv.reader([text]), [])
    except csv.Error:
        return None
    return _sniff_csv(fields)


_STAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d|\d{9,11}(\.\d+)?$|\d{15,17}$")


def _sniff_csv(fields: list[str]) -> str | None:
    f = [x.strip() for x in fields]
    if "Call From" in f and "Call To" in f:
        return "yeastar-csv"
    if len(f) >= 23 and f[0].startswith("Call ") and f[0][5:].isdigit():
        return "3cx-csv"
    if 16 <= len(f) <= 21 and _STAMP.match(f[9]) and (not f[11] or _STAMP.match(f[11])):
        return "asterisk-csv"
    if 11 <= len(f) <= 16 and _STAMP.match(f[4]) and len(f[10]) >= 16 and "-" in f[10]:
        return "freeswitch-csv"
    if {"src", "dst", "dcontext"} <= {x.lower() for x in f}:
        return "asterisk-csv"
    if {"caller_id_number", "destination_number"} <= {x.lower() for x in f}:
        return "freeswitch-csv"
    return None


def read_events(paths: Iterable[str], fmt: str = "auto", tz: str = "UTC", tenant: str = "default",
                meaning: CdrMeaning | None = None, mapping=None,
                summary: Summary | None = None) -> Iterator[tuple[str, int, bytes, str | None]]:
    """Every record of every file as (source, line, JSON bytes, error-or-None). Skipped lines are
    counted in ``summary``; nothing else is left out."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown input format {fmt!r} (one of {', '.join(FORMATS)})")
    summary = summary if summary is not None else Summary()
    for path in paths:
        fh = _open(path)
        try:
            lines = lines_of(fh)
            head = [line for _, line in zip(range(SNIFF_LINES), lines)]
            conv = Converter(_format_of(path, fmt, head), tz, tenant, meaning, mapping, year_of(path))
            summary.files[path] = conv.counts
            batch = BATCH if conv.rust and path != "-" else 1  # stdin may be a live pipe: a line at a time
            for first, chunk in _chunks(_chain(head, lines), batch):
                for n, line, records in zip(range(first, first + len(chunk)), chunk, _fed(conv, chunk)):
                    for raw, error in records:
                        yield path, n, raw, error
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()


def _chain(head, rest):
    yield from head
    yield from rest


BATCH = 512  # lines per call into the engine


def _chunks(lines: Iterable[bytes], size: int) -> Iterator[tuple[int, list[bytes]]]:
    """(number of the first line, up to ``size`` lines)."""
    chunk: list[bytes] = []
    n = 1
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield n, chunk
            n, chunk = n + size, []
    if chunk:
        yield n, chunk


def _fed(conv: Converter, chunk: list[bytes]) -> list[list[tuple[bytes, str | None]]]:
    """What each line of the chunk became; a line over ``MAX_LINE`` is rejected as such."""
    out: list = [None] * len(chunk)
    read = [i for i, line in enumerate(chunk) if line is not TOO_LONG]
    for i in range(len(chunk)):
        if chunk[i] is TOO_LONG:
            out[i] = [(b"", f"line longer than {MAX_LINE:,} bytes")]
    for i, records in zip(read, conv.feed_many([chunk[i] for i in read])):
        out[i] = records
    conv.counts.lines += len(chunk) - len(read)
    return out


def year_of(path: str) -> int | None:
    try:
        return datetime.fromtimestamp(os.stat(path).st_mtime).year if path != "-" else None
    except OSError:
        return None


def _format_of(path: str, fmt: str, head: list[bytes]) -> str:
    seen = sniff([line for line in head if line is not TOO_LONG])
    if fmt == "auto":
        if seen is None:
            if not any(line.strip() for line in head):
                return "jsonl"  # empty: nothing to tell, nothing to read
            raise FormatError(f"{path}: cannot tell its format from its first lines; give --input "
                              f"(one of {', '.join(FORMATS[1:])})")
        return seen
    if seen is not None and _family(seen) != _family(fmt):
        raise FormatError(f"{path}: looks like {seen}, not {fmt} (try --input {seen}, or --input auto)")
    return fmt


def _family(fmt: str) -> str:
    return "json" if fmt == "jsonl" else ("csv" if fmt in CSV_FORMATS else "log")


def decoded(records: Iterable[tuple[str, int, bytes, str | None]], summary: Summary | None = None):
    """Validate what ``read_events`` yields: (source, line, raw, event or None, error or None), counting
    events and rejects per file in ``summary``.

    A line holding a JSON array is a batch record: each element is judged alone (``record_events``).
    """
    from streams.domain.events import EventError, record_events

    files = summary.files if summary is not None else {}
    spare = Counts()
    for source, n, raw, error in records:
        counts = files.get(source, spare)
        if error is not None:
            counts.rejected += 1
            yield source, n, raw, None, error
            continue
        try:
            judged = list(record_events(raw))
        except EventError as exc:  # a batch record that is not an array of anything
            counts.rejected += 1
            yield source, n, raw, None, exc.reason
            continue
        for _, item, event, why in judged:
            if event is None:
                counts.rejected += 1
            else:
                counts.events += 1
            yield source, n, item, event, why


def from_args(args, policy=None) -> tuple[Iterator[tuple[str, int, bytes, str | None]], Summary]:
    """The records of a command's FILE arguments (``--input``, ``--tz``, ``--tenant``, ``--map``), read
    with the CDR meaning of the tenant's policy, and the summary they count into."""
    from streams.intake.mapped import load_mapping
    meaning = policy.tenant(args.tenant).settings.cdr if policy is not None else None
    mapping = load_mapping(args.map) if getattr(args, "map", None) else None
    summary = Summary()
    return read_events(args.files, args.input, args.tz, args.tenant, meaning, mapping, summary), summary


def files_by_time(args, policy=None) -> tuple[Iterator, Summary]:
    """``from_args``'s records validated (``decoded``), the files read side by side in event-time order:
    replay has every file at hand, so a CDR export and a security log of the same days, or files of
    different periods given in any order, are judged as one feed (each file's own disorder is left to
    the canonical ordering after it)."""
    from streams.intake.mapped import load_mapping
    meaning = policy.tenant(args.tenant).settings.cdr if policy is not None else None
    mapping = load_mapping(args.map) if getattr(args, "map", None) else None
    summary = Summary()
    streams = [read_events([path], args.input, args.tz, args.tenant, meaning, mapping, summary) for path in args.files]
    return merged(streams, summary), summary


def merged(streams: list, summary: Summary | None = None) -> Iterator:
    """``decoded`` records of several files interleaved by event time (a reject keeps its file's place)."""
    if len(streams) == 1:
        return decoded(streams[0], summary)
    import heapq

    from streams.domain.events import event_time

    def timed(stream):
        last = float("-inf")
        for rec in decoded(stream, summary):
            if rec[3] is not None:
                last = event_time(rec[3])
            yield last, rec
    return (rec for _, rec in heapq.merge(*(timed(s) for s in streams), key=lambda pair: pair[0]))


def report(summary: Summary, command: str, out=sys.stderr) -> int:
    """Print one line per file; the exit status: 1 when files were given and nothing was accepted."""
    from streams.reference.text import safe
    for line in summary.lines():
        print(f"{command}: {safe(line, 400)}", file=out)
    if summary.files and not summary.accepted:
        print(f"{command}: no event was accepted from {len(summary.files)} file(s)", file=out)
        return 1
    return 0
