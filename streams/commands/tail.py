"""``tollguard tail``: the shipper beside a PBX. It follows growing log and CDR files like ``tail -F``
and produces their events to Kafka as ``tollguard produce`` does (same topics, same keys).

Three parts, each with one job:

- :class:`Follower` reads one path: complete lines only (a partial last line waits for its
  newline), across rotation (the file renamed and a new one created: the old one is read to its
  end, then the new one from its start), truncation (the size fell below our offset: read again
  from 0) and a file that does not exist yet (waited for).
- :class:`FollowedPath` turns one path's lines into events with the intake :class:`Converter` (the
  format of each new file told from its first lines with ``--input auto``), and remembers the
  position up to which its lines have been handled.
- :class:`Shipper` is the loop: read, send, and at least every ``COMMIT_AFTER`` seconds wait for
  the broker to acknowledge everything sent (acks=all), then save the positions
  (:class:`Checkpoint`, atomically). A clean stop (SIGTERM, SIGINT) ships exactly once; a crash
  between an acknowledgement and the next save sends those lines again on restart (docs/tail.md).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from streams.domain.events import Cdr, event_key
from streams.intake import (CSV_FORMATS, FORMATS, MAX_LINE, SNIFF_LINES, TOO_LONG, Converter, Counts, Summary, decoded,
                            sniff, year_of)
from streams.commands.common import zone
from streams.commands.produce import OVERHEAD, Ledger, Sender, Stop, make_producer, topic_limit
from streams.reference.text import safe

DEFAULT_STATE = ".tollguard-tail.json"
POLL = 0.2           # seconds between looks at a quiet file
COMMIT_AFTER = 0.5   # seconds a handled line waits, at most, before the acks are awaited and the state saved
BUDGET = 5000        # lines read from one file per round: a backlog is shipped in bounded commits
CHUNK = 1 << 16
HEAD_BYTES = 1 << 18  # how much of a file's start is read to tell its format when reading begins mid-file
STATE_VERSION = 1


class Line(NamedTuple):
    no: int                  # its line number in its file, from 1
    end: int                 # the byte offset just after it: where the next unread line starts
    data: bytes              # the line with its newline; intake.TOO_LONG for a line over MAX_LINE
    ident: tuple[int, int]   # (st_dev, st_ino) of the file it was read from
    gen: int                 # the file generation at the path (a new one after rotation or truncation)
    cut: bool = False        # the start of a line that truncation cut off before its newline came


class Position(NamedTuple):
    ident: tuple[int, int]
    offset: int
    line: int


class StateError(Exception):
    """The state file cannot be used; the message says why and what to do."""


# ---------------------------------------------------------------------------------------------- follower

class Follower:
    """One path, followed like ``tail -F``. ``read()`` gives the complete lines written since the last
    call, in order, each exactly once. ``saved`` resumes the file with that (device, inode) at its
    offset, even when it was rotated to another name in the same directory while we were stopped."""

    def __init__(self, path: str, saved: Position | None = None, at_end: bool = False,
                 say: Callable[[str], None] | None = None):
        self.path, self.saved, self.at_end = path, saved, at_end
        self.say = say or (lambda message: None)
        self.fh = None
        self.ident: tuple[int, int] | None = None
        self.offset = 0      # the file offset of buf[0]: where the next line starts
        self.no = 0          # lines given from the current file
        self.buf = b""
        self.overlong = False
        self.gen = 0
        self.resumed: int | None = None   # the generation that continues ``saved``
        self.waiting = False

    def read(self, limit: int = BUDGET) -> list[Line]:
        out: list[Line] = []
        if self.fh is None and not self._open():
            return out
        if self._read_into(out, limit):
            self._check_path(out, limit)
        return out

    def head(self, n: int = SNIFF_LINES) -> list[bytes]:
        """The first complete lines of the current file (to tell its format, or its CSV header)."""
        if self.fh is None:
            return []
        data = os.pread(self.fh.fileno(), HEAD_BYTES, 0)
        return [line + b"\n" for line in data.split(b"\n")[:-1][:n]]

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    # -- opening

    def _open(self) -> bool:
        saved, self.saved = self.saved, None
        if saved is not None and self._reopen(saved):
            return True
        try:
            fh = open(self.path, "rb")
        except OSError as exc:
            if not self.waiting:
                self.say(f"{self.path}: {exc.strerror}: waiting for it")
                self.waiting = True
            self.at_end = False  # a file that appears later is new: read from its start
            return False
        if self.waiting:
            self.say(f"{self.path}: appeared: reading it from its start")
        self.waiting = False
        self._start(fh, None)
        return True

    def _reopen(self, saved: Position) -> bool:
        self.at_end = False  # --from-end is for files never seen
        found = _find(self.path, saved.ident)
        if found is None:
            self.say(f"{self.path}: the file read up to line {saved.line} is gone (replaced while stopped, and not "
                     "found under another name beside it): lines written to it after that were not read")
            return False
        try:
            fh = open(found, "rb")
        except OSError:
            return False
        st = os.fstat(fh.fileno())
        if (st.st_dev, st.st_ino) != saved.ident:
            fh.close()
            return False
        if found != self.path:
            self.say(f"{self.path}: rotated while stopped: finishing {found} from line {saved.line + 1}")
        self._start(fh, saved)
        return True

    def _start(self, fh, resume: Position | None) -> None:
        st = os.fstat(fh.fileno())
        self.close()
        self.gen += 1
        self.fh, self.ident, self.buf, self.overlong = fh, (st.st_dev, st.st_ino), b"", False
        self.offset, self.no = 0, 0
        if resume is not None and st.st_size >= resume.offset:
            self.offset, self.no, self.resumed = resume.offset, resume.line, self.gen
        elif resume is not None:
            self.say(f"{self.path}: truncated while stopped ({st.st_size:,} bytes, below offset {resume.offset:,}): "
                     "reading it again from the start")
        elif self.at_end:
            self.offset, self.no = _end_of_last_line(fh)
        self.at_end = False
        fh.seek(self.offset)

    # -- reading

    def _read_into(self, out: list[Line], limit: int) -> bool:
        """Lines into ``out`` until ``limit``; True when the file's end was reached."""
        while len(out) < limit:
            if self._take_line(out):
                continue
            data = self.fh.read(CHUNK)
            if not data:
                return True
            self.buf += data
        return False

    def _take_line(self, out: list[Line]) -> bool:
        i = self.buf.find(b"\n")
        if i < 0:
            if len(self.buf) > MAX_LINE:  # bounded memory: drop what we hold, give TOO_LONG at its newline
                self.offset += len(self.buf)
                self.buf, self.overlong = b"", True
            return False
        data, self.buf = self.buf[:i + 1], self.buf[i + 1:]
        self._give(out, TOO_LONG if self.overlong or len(data) > MAX_LINE + 1 else data, len(data))
        self.overlong = False
        return True

    def _give(self, out: list[Line], data: bytes, size: int, cut: bool = False) -> None:
        self.offset += size
        self.no += 1
        out.append(Line(self.no, self.offset, data, self.ident, self.gen, cut))

    # -- rotation and truncation

    def _check_path(self, out: list[Line], limit: int) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return  # renamed away and no new file yet: keep reading the old one
        if (st.st_dev, st.st_ino) != self.ident:
            self._rotated(out, limit)
        elif st.st_size < self.fh.tell():
            self._truncated(out, limit, st.st_size)

    def _rotated(self, out: list[Line], limit: int) -> None:
        if not self._read_into(out, limit):  # what was written to the old file after the rename
            return  # more to read from the old file: back here on the next call
        self._finish_partial(out, cut=False)  # the file is finished: an unterminated last line is a line
        self.say(f"{self.path}: rotated: the old file ended at line {self.no}; reading the new one")
        try:
            fh = open(self.path, "rb")
        except OSError:
            return  # gone again between stat and open: the next call looks again
        self._start(fh, None)
        self._read_into(out, limit)

    def _truncated(self, out: list[Line], limit: int, size: int) -> None:
        self._finish_partial(out, cut=True)
        self.say(f"{self.path}: truncated ({size:,} bytes, below offset {self.fh.tell():,}): "
                 "reading it again from the start")
        self.gen += 1
        self.fh.seek(0)
        self.offset, self.no, self.buf, self.overlong = 0, 0, b"", False
        self._read_into(out, limit)

    def _finish_partial(self, out: list[Line], cut: bool) -> None:
        if self.buf or self.overlong:
            data = TOO_LONG if self.overlong else self.buf
            self._give(out, data, len(self.buf), cut)
            self.buf, self.overlong = b"", False


def _find(path: str, ident: tuple[int, int]) -> str | None:
    """``path`` if it is the file ``ident``, else the file beside it that is (a rotated copy), else None."""
    try:
        st = os.stat(path)
        if (st.st_dev, st.st_ino) == ident:
            return path
    except OSError:
        pass
    try:
        with os.scandir(os.path.dirname(path) or ".") as entries:
            for e in entries:
                try:
                    if e.inode() == ident[1] and e.is_file() and e.stat().st_dev == ident[0]:
                        return e.path
                except OSError:
                    continue
    except OSError:
        pass
    return None


def _end_of_last_line(fh) -> tuple[int, int]:
    """(offset just after the last newline, number of lines before it)."""
    fh.seek(0)
    end = lines = pos = 0
    while chunk := fh.read(1 << 20):
        n = chunk.count(b"\n")
        if n:
            lines += n
            end = pos + chunk.rindex(b"\n") + 1
        pos += len(chunk)
    return end, lines


# ---------------------------------------------------------------------------------------------- source

@dataclass
class Options:
    """How lines become events: the intake arguments shared by every followed file."""
    fmt: str = "auto"
    tz: str = "UTC"
    tenant: str = "default"
    meaning: object = None
    mapping: object = None

    def converter(self, fmt: str, path: str) -> Converter:
        return Converter(fmt, self.tz, self.tenant, self.meaning, self.mapping, year_of(path))


Ship = Callable[[str, bytes, object, "str | None"], None]  # (where, raw, event or None, reason or None)


class FollowedPath:
    """One followed path's lines to events. Each new file at the path gets its own converter (its
    format told from its first lines with ``--input auto``); ``entry()`` is what the state file keeps:
    the position after the last line handled and the converter's state at that point."""

    def __init__(self, name: str, follower: Follower, opts: Options, saved: dict | None = None):
        self.name, self.follower, self.opts, self.saved = name, follower, opts, saved
        self.counts = Counts(opts.fmt if opts.fmt != "auto" else "auto")
        self.summary = Summary({name: self.counts})
        self.conv: Converter | None = None
        self.gen = 0
        self.head: list[Line] = []
        self.pos: Position | None = None
        self.refusing: str | None = None

    def take(self, ship: Ship, limit: int = BUDGET) -> int:
        """Read what is new; hand every event and reject to ``ship``; the number of lines read."""
        lines = self.follower.read(limit)
        for line in lines:
            if line.gen != self.gen:
                self._new_file(line.gen, line.ident, line.no, ship)
            self._line(line, ship)
        f = self.follower
        if f.fh is not None and f.gen != self.gen and f.offset == f.no == 0:  # a new or truncated file, empty yet:
            self._new_file(f.gen, f.ident, 1, ship)  # saved as such at once, so a restart never seeks into it
            return len(lines) + 1
        return len(lines)

    def entry(self) -> dict | None:
        if self.pos is None:
            return self.saved
        conv = self.conv if self.conv is not None and not self.head else None
        return {"dev": self.pos.ident[0], "ino": self.pos.ident[1], "offset": self.pos.offset,
                "line": self.pos.line, "fmt": conv.fmt if conv else None,
                "snapshot": conv.snapshot() if conv else None}

    def _new_file(self, gen: int, ident: tuple[int, int], first: int, ship: Ship) -> None:
        """The follower began another file (or the same one again): ``first`` is the number of its first line."""
        if self.head:  # the last file ended before its format could be told: its held lines are refused
            self._refuse(ship)
        self.gen, self.conv, self.head, self.refusing = gen, None, [], None
        saved = self.saved or {}
        if gen == self.follower.resumed and saved.get("fmt") and self.opts.fmt in ("auto", saved["fmt"]):
            self._begin(saved["fmt"])
            self.conv.restore(saved.get("snapshot") or {})
        elif first > 1:  # reading begins mid-file: its first lines tell the format (and hold a CSV header)
            self._begin_mid_file()
        else:
            self.pos = Position(ident, 0, 0)

    def _begin_mid_file(self) -> None:
        head = self.follower.head()
        fmt = self.opts.fmt if self.opts.fmt != "auto" else sniff(head)
        if fmt is None:
            return  # told from the lines as they come
        self._begin(fmt)
        if fmt in CSV_FORMATS and head:
            self.conv.feed(head[0])  # the header row (or a row, read and dropped: CSV rows carry no state)

    def _begin(self, fmt: str) -> None:
        self.conv = self.opts.converter(fmt, self.follower.path)
        self.counts.fmt = fmt

    def _line(self, line: Line, ship: Ship) -> None:
        if self.conv is not None:
            self._convert(line, ship)
        elif not self.head and not line.cut and line.data is not TOO_LONG and not line.data.strip():
            self._count(line, [])  # blank before anything tells the format: skipped in every format
        else:
            self._hold(line, ship)

    def _hold(self, line: Line, ship: Ship) -> None:
        self.head.append(line)
        fmt = self.refusing is None and sniff([h.data for h in self.head if not h.cut and h.data is not TOO_LONG])
        if fmt:
            self._begin(fmt)
            self._release(ship)
        elif self.refusing is not None or len(self.head) >= SNIFF_LINES:
            self._refuse(ship)

    def _refuse(self, ship: Ship) -> None:
        self.refusing = ("cannot tell the file's format from its first lines; give --input "
                         f"(one of {', '.join(FORMATS[1:])})")
        self._release(ship)

    def _release(self, ship: Ship) -> None:
        held, self.head = self.head, []
        for h in held:
            self._convert(h, ship)

    def _convert(self, line: Line, ship: Ship) -> None:
        if line.cut:
            records = [(line.data, "partial line: the file was truncated before its newline was written")]
        elif line.data is TOO_LONG:
            records = [(b"", f"line longer than {MAX_LINE:,} bytes")]
        elif self.refusing:
            records = [(line.data, self.refusing)]
        else:
            records = self.conv.feed(line.data)
        self._count(line, records)
        for _, _, raw, event, error in decoded(((self.name, line.no, raw, err) for raw, err in records), self.summary):
            ship(f"{self.name}:{line.no}", raw, event, error)

    def _count(self, line: Line, records: list) -> None:
        self.counts.lines += 1
        if not records:
            self.counts.skipped += 1
        self.pos = Position(line.ident, line.end, line.no)



# ---------------------------------------------------------------------------------------------- checkpoint

class Checkpoint:
    """The state file: per absolute path, the file's device and inode, the offset of its next unread
    line, that line's number less one, the format and the converter's snapshot. Saved atomically
    (a temporary file beside it, fsync, rename), so a crash leaves the old state or the new, never half."""

    def __init__(self, path: str):
        self.path = path
        self.files: dict[str, dict] = {}
        self._lock = None

    def load(self) -> dict[str, dict]:
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
            files = data["files"]
            if data.get("version") != STATE_VERSION or not all(_valid(e) for e in files.values()):
                raise ValueError
        except FileNotFoundError:
            files = {}
        except OSError as exc:
            raise StateError(f"cannot read the state file {self.path}: {exc.strerror}") from None
        except (ValueError, KeyError, TypeError, AttributeError):
            raise StateError(f"{self.path} is not a tollguard tail state file (version {STATE_VERSION}); move it "
                             "away to start over (every file is then read again from its start)") from None
        self.files = dict(files)
        return self.files

    def lock(self) -> None:
        """Only one shipper per state file: two would send every line twice."""
        import fcntl
        self._lock = open(self.path + ".lock", "a")
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise StateError(f"another tollguard tail is using the state file {self.path}") from None

    def save(self, entries: dict[str, dict]) -> None:
        self.files.update(entries)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"version": STATE_VERSION, "files": self.files}, fh, indent=1, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(os.path.dirname(os.path.abspath(self.path)))

    @staticmethod
    def position(entry: dict | None) -> Position | None:
        return Position((entry["dev"], entry["ino"]), entry["offset"], entry["line"]) if entry else None


def _valid(e) -> bool:
    return isinstance(e, dict) and all(isinstance(e.get(k), int) for k in ("dev", "ino", "offset", "line"))


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------- shipper

@dataclass
class Shipper:
    """The loop. Events are sent as their lines are read; a commit waits for every acknowledgement,
    then saves the positions, so the state never runs ahead of what the broker holds."""
    sources: list[FollowedPath]
    sender: object
    producer: object
    ledger: object
    checkpoint: Checkpoint
    config: object
    limit: int
    timeout: float = 30.0
    poll: float = POLL
    rejected: int = 0
    last: dict = field(default_factory=dict)

    def run(self, stop: threading.Event) -> int:
        since = None
        while not stop.is_set():
            read = self.round()
            now = time.monotonic()
            if read and since is None:
                since = now
            if since is not None and now - since >= COMMIT_AFTER:
                if not self.commit():
                    return 1
                since = None
            if not read:
                time.sleep(self.poll)
        return 0 if self.commit() else 1

    def round(self) -> int:
        return sum(src.take(self.ship) for src in self.sources)

    def ship(self, where: str, raw: bytes, event, error: str | None) -> None:
        if error is None and len(raw) + OVERHEAD > self.limit:
            error = f"event of {len(raw):,} bytes is larger than the topic accepts ({self.limit:,})"
        if error is not None:
            self.rejected += 1
            print(f"{safe(where, 400)}: rejected: {safe(error, 400)}", file=sys.stderr)
            return
        topic = self.config.cdr if isinstance(event, Cdr) else self.config.security
        self.sender.add(topic, event_key(event).encode(), raw, where)

    def commit(self) -> bool:
        """Wait for the broker to acknowledge everything sent; then save the positions. False (and
        nothing saved) when any event was not acknowledged."""
        from kafka.errors import KafkaError
        try:
            self.producer.flush(timeout=self.timeout + 5)
        except KafkaError:
            pass  # what is unconfirmed is counted below
        if self.ledger.failed or self.ledger.unconfirmed:
            return False
        entries = {os.path.abspath(s.name): e for s in self.sources if (e := s.entry()) is not None}
        if entries != self.last:
            self.checkpoint.save(entries)
            self.last = entries
        return True


# ---------------------------------------------------------------------------------------------- command

HELP = "follow growing log and CDR files and ship their events to Kafka"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", choices=FORMATS, default="auto",
                   help="input format (default auto: told from each file's first lines)")
    p.add_argument("--map", metavar="MAP.yaml", help="with --input csv: which column is which (docs/intake.md)")
    p.add_argument("--tz", default="UTC", metavar="ZONE", type=zone, help="IANA zone of local times in CSV exports and logs")
    p.add_argument("--tenant", default="default", help="tenant of the records of CSV exports and logs")
    p.add_argument("--policy", metavar="FILE", help="policy YAML whose cdr: section says what export columns mean")
    p.add_argument("--state", default=DEFAULT_STATE, metavar="FILE",
                   help=f"where the read positions are kept (default {DEFAULT_STATE} in the current directory)")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--from-start", dest="from_end", action="store_false",
                       help="a file with no saved position is read from its start (the default)")
    start.add_argument("--from-end", dest="from_end", action="store_true",
                       help="a file with no saved position is read from its end: only lines written from now on")
    p.set_defaults(from_end=False)  # --from-start's store_false would make its own default True
    p.add_argument("--poll", type=float, default=POLL, metavar="SECONDS",
                   help=f"how often quiet files are looked at (default {POLL:g})")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="how long an event may wait for the broker's acknowledgement (default 30)")
    p.add_argument("files", nargs="+", metavar="FILE", help="log or CDR files to follow (they may not exist yet)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tollguard tail", description="Follow PBX log and CDR files; ship their events.")
    add_arguments(p)
    return p


def main(args) -> int:
    names = list(dict.fromkeys(args.files))
    if "-" in names:
        print("tail: follows files, not standard input (use `tollguard produce -` for a stream)", file=sys.stderr)
        return 2
    stop = _stop_on_signals()
    try:
        opts = _options(args)
        checkpoint = Checkpoint(args.state)
        checkpoint.lock()
        saved = checkpoint.load()
    except StateError as exc:
        print(f"tail: {safe(str(exc), 400)}", file=sys.stderr)
        return 2
    return _ship(args, opts, checkpoint, saved, names, stop)


def _options(args) -> Options:
    from streams.intake.mapped import load_mapping
    meaning = None
    if getattr(args, "policy", None):
        from streams.policy import Policy
        meaning = Policy.load(args.policy).tenant(args.tenant).settings.cdr
    mapping = load_mapping(args.map) if getattr(args, "map", None) else None
    opts = Options(args.input, args.tz, args.tenant, meaning, mapping)
    if args.input != "auto":
        opts.converter(args.input, "")  # an impossible combination (csv without --map) stops here
    return opts


def _ship(args, opts: Options, checkpoint: Checkpoint, saved: dict, names: list[str], stop) -> int:
    from kafka.errors import KafkaError

    from streams.kafka.config import Config
    from streams.kafka.topics import ensure_topics
    config = Config.from_env()
    topics = [config.cdr, config.security]
    ensure_topics(config, names=topics)
    limit = topic_limit(config, topics)
    try:
        producer = make_producer(config, limit, args.timeout)
    except KafkaError as exc:
        print(config.redact(f"tail: cannot reach Kafka at {config.where}: {exc}"), file=sys.stderr)
        return 1
    ledger = Ledger()
    sources = [_source(name, opts, saved.get(os.path.abspath(name)), args.from_end) for name in names]
    shipper = Shipper(sources, Sender(producer, ledger, 1, limit), producer, ledger, checkpoint, config, limit,
                      args.timeout, max(0.01, args.poll))
    status = _run(shipper, stop)
    for src in sources:
        src.follower.close()
    _close(producer)
    _report(shipper, status)
    return status


def _source(name: str, opts: Options, entry: dict | None, from_end: bool) -> FollowedPath:
    follower = Follower(name, Checkpoint.position(entry), from_end, _say)
    return FollowedPath(name, follower, opts, entry)


def _run(shipper: Shipper, stop) -> int:
    try:
        return shipper.run(stop)
    except Stop as where:
        print(f"tail: stopped at {safe(str(where), 400)}: the broker took no more records", file=sys.stderr)
        return 1


def _close(producer) -> None:
    from kafka.errors import KafkaError
    try:
        producer.close(timeout=5)
    except KafkaError:
        producer.close = lambda *a, **k: None  # given up on: no second wait at interpreter exit


def _report(shipper: Shipper, status: int) -> None:
    ledger, config = shipper.ledger, shipper.config
    for where, reason in ledger.failures:
        print(f"{where}: not delivered: {config.redact(safe(reason, 400))}", file=sys.stderr)
    if status:
        print(f"tail: {ledger.failed + ledger.unconfirmed} events not acknowledged; the state file keeps the "
              "position of the last acknowledged commit: a restart sends the rest again from there", file=sys.stderr)
    print(summary_line(shipper.sources, ledger.acked), file=sys.stderr)


def summary_line(sources: list[FollowedPath], acked: int) -> str:
    total = Counts()
    for s in sources:
        total.lines, total.events = total.lines + s.counts.lines, total.events + s.counts.events
        total.skipped, total.rejected = total.skipped + s.counts.skipped, total.rejected + s.counts.rejected
    files = "; ".join(safe(s.counts.line(s.name), 400) for s in sources)
    return (f"tail: {total.lines:,} lines, {total.events:,} events ({acked:,} acknowledged), "
            f"{total.skipped:,} skipped, {total.rejected:,} rejected; {files}")


def _stop_on_signals() -> threading.Event:
    """SIGTERM and SIGINT ask for a clean stop (finish the round, wait for acks, save); a second one
    stops at once (the state file then holds the last commit: those lines are sent again on restart)."""
    stop = threading.Event()

    def handler(signum, _frame):
        stop.set()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _say(message: str) -> None:
    print(f"tail: {safe(message, 400)}", file=sys.stderr)



def run(argv: list[str] | None = None) -> int:
    """``python -m streams.commands.tail``: the command without streams/cli.py, with its error messages."""
    from streams.kafka.config import ConfigError
    from streams.kafka.connect import KafkaProblem
    from streams.intake import FormatError
    from streams.intake.mapped import MapError
    from streams.policy import PolicyError
    args = parser().parse_args(argv)
    try:
        return main(args)
    except (ConfigError, KafkaProblem, FormatError, MapError) as exc:
        print(f"tollguard tail: {safe(str(exc), 400)}", file=sys.stderr)
        return 1 if isinstance(exc, KafkaProblem) else 2
    except PolicyError as exc:
        for line in exc.problems:
            print(f"policy error: {safe(line, 400)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run())
