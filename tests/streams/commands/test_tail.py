"""`tollguard tail` without a broker: the Follower across appends, partial lines, rotation, truncation
and a file that appears late; the Checkpoint; a FollowedPath's conversion; and a stop and restart that
ship every line exactly once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from streams.commands import tail
from streams.intake import TOO_LONG
from streams.commands.tail import Checkpoint, Follower, Options, Position, FollowedPath
from tests.builders import sec

CDR = Path(__file__).resolve().parents[3] / "fixtures" / "cdr"


def write(path: Path, text: str, mode: str = "a") -> None:
    with open(path, mode + "b") as fh:
        fh.write(text.encode())


def lines(f: Follower) -> list[tuple[int, bytes]]:
    return [(ln.no, ln.data) for ln in f.read()]


def test_appended_lines_come_once_and_a_partial_line_waits_for_its_newline(tmp_path):
    p = tmp_path / "a.log"
    write(p, "one\ntwo\nthr")
    f = Follower(str(p))
    assert lines(f) == [(1, b"one\n"), (2, b"two\n")]
    assert lines(f) == []
    write(p, "ee\nfour\n")
    got = f.read()
    assert [(ln.no, ln.data) for ln in got] == [(3, b"three\n"), (4, b"four\n")]
    assert got[-1].end == p.stat().st_size and got[0].end == len(b"one\ntwo\nthree\n")
    assert lines(f) == []


def test_rotation_finishes_the_old_file_then_reads_the_new_one(tmp_path):
    p = tmp_path / "a.log"
    write(p, "1\n2\n")
    said: list[str] = []
    f = Follower(str(p), say=said.append)
    assert lines(f) == [(1, b"1\n"), (2, b"2\n")]
    os.rename(p, tmp_path / "a.log.1")
    write(tmp_path / "a.log.1", "3\n4\n")           # the PBX still writes to the renamed file
    assert lines(f) == [(3, b"3\n"), (4, b"4\n")]    # no new file yet: the old one is still read
    write(tmp_path / "a.log.1", "5\n")
    write(p, "new1\nnew2\n")
    got = f.read()
    assert [(ln.no, ln.data) for ln in got] == [(5, b"5\n"), (1, b"new1\n"), (2, b"new2\n")]
    assert got[0].gen != got[1].gen and got[1].ident == (p.stat().st_dev, p.stat().st_ino)
    write(p, "new3\n")
    assert lines(f) == [(3, b"new3\n")]
    assert any("rotated" in s for s in said)


def test_an_unterminated_last_line_of_a_rotated_file_is_given_at_the_switch(tmp_path):
    p = tmp_path / "a.log"
    write(p, "1\n2")
    f = Follower(str(p))
    assert lines(f) == [(1, b"1\n")]
    os.rename(p, tmp_path / "old")
    write(p, "n1\n")
    assert lines(f) == [(2, b"2"), (1, b"n1\n")]


def test_truncation_reads_again_from_the_start_and_says_so(tmp_path):
    p = tmp_path / "a.log"
    write(p, "aaaa\nbbbb\ncc")
    said: list[str] = []
    f = Follower(str(p), say=said.append)
    assert lines(f) == [(1, b"aaaa\n"), (2, b"bbbb\n")]
    with open(p, "r+b") as fh:   # copytruncate: the content copied away, the file cut to 0
        fh.truncate(0)
    write(p, "x\n")
    got = f.read()
    assert [(ln.no, ln.data, ln.cut) for ln in got] == [(3, b"cc", True), (1, b"x\n", False)]
    assert got[1].end == 2 and got[1].gen != got[0].gen
    assert any("truncated" in s for s in said)
    write(p, "y\n")
    assert lines(f) == [(2, b"y\n")]


def test_a_missing_file_is_waited_for(tmp_path):
    p = tmp_path / "later.log"
    said: list[str] = []
    f = Follower(str(p), at_end=True, say=said.append)  # --from-end is for files there at start
    assert lines(f) == [] and lines(f) == []
    write(p, "first\nsecond\n")
    assert lines(f) == [(1, b"first\n"), (2, b"second\n")]
    assert len([s for s in said if "waiting" in s]) == 1 and any("appeared" in s for s in said)


def test_from_end_skips_what_is_there_but_not_a_partial_last_line(tmp_path):
    p = tmp_path / "a.log"
    write(p, "old1\nold2\npart")
    f = Follower(str(p), at_end=True)
    assert lines(f) == []
    write(p, "ial\nnew\n")
    assert lines(f) == [(3, b"partial\n"), (4, b"new\n")]


def test_a_line_over_the_limit_is_given_as_too_long_in_bounded_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(tail, "MAX_LINE", 100)
    monkeypatch.setattr(tail, "CHUNK", 64)
    p = tmp_path / "a.log"
    write(p, "ok\n" + "x" * 500)
    f = Follower(str(p))
    assert lines(f) == [(1, b"ok\n")] and len(f.buf) <= 100 + 64
    write(p, "x\nafter\n")
    got = f.read()
    assert [(ln.no, ln.data) for ln in got] == [(2, TOO_LONG), (3, b"after\n")]
    assert got[-1].end == p.stat().st_size


def test_a_budget_leaves_the_rest_for_the_next_read(tmp_path):
    p = tmp_path / "a.log"
    write(p, "".join(f"{i}\n" for i in range(10)))
    f = Follower(str(p))
    first = f.read(limit=4)
    rest = f.read(limit=100)
    assert [ln.no for ln in first + rest] == list(range(1, 11))


# ------------------------------------------------------------------------------------- checkpoint

def test_checkpoint_round_trip_and_resume(tmp_path):
    p = tmp_path / "a.log"
    write(p, "1\n2\n3\n")
    f = Follower(str(p))
    got = f.read(limit=2)
    st = p.stat()
    entry = {"dev": st.st_dev, "ino": st.st_ino, "offset": got[-1].end, "line": got[-1].no, "fmt": "jsonl",
             "snapshot": {"header": None, "log": None, "first": False}}
    cp = Checkpoint(str(tmp_path / "state.json"))
    cp.save({str(p): entry})
    assert not list(tmp_path.glob("*.tmp"))
    again = Checkpoint(str(tmp_path / "state.json")).load()
    assert again == {str(p): entry}
    f2 = Follower(str(p), Checkpoint.position(again[str(p)]))
    assert lines(f2) == [(3, b"3\n")]


def test_a_different_file_at_the_path_is_read_from_its_start(tmp_path):
    p = tmp_path / "a.log"
    write(p, "1\n2\n3\n")
    st = p.stat()
    gone = (st.st_dev, st.st_ino + 10**9)  # the inode saved is nowhere (an unlinked file's may be reused)
    p.unlink()
    write(p, "new1\nnew2\n")
    said: list[str] = []
    f = Follower(str(p), Position(gone, 4, 2), say=said.append)
    assert lines(f) == [(1, b"new1\n"), (2, b"new2\n")]
    assert any("gone" in s for s in said)


def test_a_file_rotated_while_stopped_is_finished_first(tmp_path):
    p = tmp_path / "a.log"
    write(p, "1\n2\n")
    st = p.stat()
    os.rename(p, tmp_path / "a.log.1")
    write(tmp_path / "a.log.1", "3\n")
    write(p, "new1\n")
    f = Follower(str(p), Position((st.st_dev, st.st_ino), 4, 2))
    assert lines(f) == [(3, b"3\n"), (1, b"new1\n")]


def test_a_file_truncated_while_stopped_is_read_from_its_start(tmp_path):
    p = tmp_path / "a.log"
    write(p, "1\n2\n3\n")
    st = p.stat()
    with open(p, "r+b") as fh:
        fh.truncate(0)
    write(p, "x\n")
    f = Follower(str(p), Position((st.st_dev, st.st_ino), 6, 3))
    assert lines(f) == [(1, b"x\n")]


def test_a_damaged_state_file_stops_with_its_reason(tmp_path):
    bad = tmp_path / "state.json"
    bad.write_text("{not json")
    with pytest.raises(tail.StateError, match="not a tollguard tail state file"):
        Checkpoint(str(bad)).load()
    assert Checkpoint(str(tmp_path / "none.json")).load() == {}


def test_one_shipper_per_state_file(tmp_path):
    a = Checkpoint(str(tmp_path / "s.json"))
    a.lock()
    with pytest.raises(tail.StateError, match="another"):
        Checkpoint(str(tmp_path / "s.json")).lock()


# ------------------------------------------------------------------------------------- source

class Collect:
    def __init__(self):
        self.events: list[tuple[str, bytes]] = []
        self.rejects: list[tuple[str, str]] = []

    def __call__(self, where, raw, event, error):
        if error is None:
            self.events.append((where, raw))
        else:
            self.rejects.append((where, error))


def source(p: Path, saved: dict | None = None, fmt: str = "auto") -> FollowedPath:
    follower = Follower(str(p), Checkpoint.position(saved))
    return FollowedPath(str(p), follower, Options(fmt, "Europe/London"), saved)


def test_jsonl_lines_become_events_and_rejects_carry_their_line(tmp_path):
    p = tmp_path / "ev.jsonl"
    write(p, json.dumps(sec(t=1, account="a1")) + "\n\n{broken\n" + json.dumps(sec(t=2, account="a2")) + "\n")
    got = Collect()
    src = source(p)
    assert src.take(got) == 4
    assert [w for w, _ in got.events] == [f"{p}:1", f"{p}:4"]
    assert [w for w, _ in got.rejects] == [f"{p}:3"] and "not valid JSON" in got.rejects[0][1]
    c = src.counts
    assert (c.fmt, c.lines, c.events, c.skipped, c.rejected) == ("jsonl", 4, 2, 1, 1)
    assert src.entry()["offset"] == p.stat().st_size and src.entry()["line"] == 4


def test_a_csv_header_survives_a_restart_through_the_snapshot(tmp_path):
    rows = (CDR / "yeastar-cdr.csv").read_text().splitlines(keepends=True)
    p = tmp_path / "cdr.csv"
    write(p, "".join(rows[:3]))
    first = Collect()
    src = source(p)
    src.take(first)
    entry = src.entry()
    assert entry["fmt"] == "yeastar-csv" and entry["snapshot"]["header"][:3] == ["Time", "Call From", "Call To"]
    write(p, "".join(rows[3:]))
    second = Collect()
    again = source(p, json.loads(json.dumps(entry)))
    again.take(second)
    assert len(first.events) == 2 and len(second.events) == 4
    assert [w for w, _ in second.rejects] == [f"{p}:8"]


def test_from_end_on_a_headed_csv_still_knows_its_columns(tmp_path):
    rows = (CDR / "yeastar-cdr.csv").read_text().splitlines(keepends=True)
    p = tmp_path / "cdr.csv"
    write(p, "".join(rows[:3]))
    src = FollowedPath(str(p), Follower(str(p), at_end=True), Options("auto", "Europe/London"))
    got = Collect()
    assert src.take(got) == 0
    write(p, rows[3])
    src.take(got)
    assert [w for w, _ in got.events] == [f"{p}:4"] and not got.rejects


def test_a_new_file_after_rotation_gets_a_fresh_converter(tmp_path):
    rows = (CDR / "yeastar-cdr.csv").read_text().splitlines(keepends=True)
    p = tmp_path / "cdr.csv"
    write(p, "".join(rows[:3]))
    src, got = source(p), Collect()
    src.take(got)
    os.rename(p, tmp_path / "cdr.csv.1")
    write(p, rows[0] + rows[3])   # the new file starts with its own header
    src.take(got)
    assert [w for w, _ in got.events] == [f"{p}:2", f"{p}:3", f"{p}:2"] and not got.rejects
    assert src.counts.skipped == 2


def test_a_truncated_file_is_saved_at_its_start_before_any_new_line(tmp_path):
    p = tmp_path / "ev.jsonl"
    write(p, json.dumps(sec(t=1)) + "\n" + json.dumps(sec(t=2)) + "\n")
    src, got = source(p), Collect()
    src.take(got)
    assert src.entry()["line"] == 2
    with open(p, "r+b") as fh:
        fh.truncate(0)
    assert src.take(got) == 1  # no line, but a change to save: a restart must not seek into the new content
    assert (src.entry()["offset"], src.entry()["line"]) == (0, 0)
    write(p, json.dumps(sec(t=3)) + "\n")
    src.take(got)
    assert [w for w, _ in got.events] == [f"{p}:1", f"{p}:2", f"{p}:1"]


def test_a_file_whose_format_cannot_be_told_is_rejected_line_by_line(tmp_path, monkeypatch):
    monkeypatch.setattr(tail, "SNIFF_LINES", 3)
    p = tmp_path / "what.txt"
    write(p, "hello\nworld\n")
    src, got = source(p), Collect()
    src.take(got)
    assert got.rejects == [] and src.entry() == {"dev": p.stat().st_dev, "ino": p.stat().st_ino, "offset": 0,
                                                 "line": 0, "fmt": None, "snapshot": None}
    write(p, "again\nmore\n")
    src.take(got)
    assert [w for w, _ in got.rejects] == [f"{p}:{i}" for i in range(1, 5)]
    assert "cannot tell" in got.rejects[0][1] and src.counts.rejected == 4


def test_lines_held_for_a_format_are_refused_when_their_file_is_rotated_away(tmp_path):
    p = tmp_path / "ev.log"
    write(p, "hello\n")
    src, got = source(p), Collect()
    src.take(got)
    assert got.rejects == []
    os.rename(p, tmp_path / "ev.log.1")
    write(p, json.dumps(sec(t=1)) + "\n")
    src.take(got)
    assert [w for w, _ in got.rejects] == [f"{p}:1"] and "cannot tell" in got.rejects[0][1]
    assert [w for w, _ in got.events] == [f"{p}:1"] and src.counts.lines == 2


@pytest.mark.parametrize("fixture", ["cdr/yeastar-cdr.csv", "cdr/asterisk-Master.csv", "logs/asterisk-bruteforce.log"])
def test_a_restart_anywhere_gives_what_replay_reads_from_the_whole_file(tmp_path, fixture):
    from streams.intake import read_events
    whole = CDR.parent / fixture
    want = [(n, raw, err) for _, n, raw, err in read_events([str(whole)], "auto", "Europe/London")]
    rows = whole.read_bytes().splitlines(keepends=True)
    for cut in (1, len(rows) // 2, len(rows) - 1):
        p = tmp_path / f"{cut}-{whole.name}"
        p.write_bytes(b"".join(rows[:cut]))
        os.utime(p, (whole.stat().st_atime, whole.stat().st_mtime))  # the year a log's stamps lack
        got: list = []
        ship = lambda where, raw, event, err: got.append((int(where.rsplit(":", 1)[1]), raw, err))  # noqa: E731
        first = source(p)
        first.take(ship)
        entry = json.loads(json.dumps(first.entry()))
        with open(p, "ab") as fh:
            fh.write(b"".join(rows[cut:]))
        source(p, entry).take(ship)
        assert [(n, err is None and raw) for n, raw, err in got] == [(n, err is None and raw) for n, raw, err in want]


# ------------------------------------------------------------------------------------- shipper

class FakeLedger:
    failed = unconfirmed = acked = 0
    failures: list = []


class FakeProducer:
    def __init__(self):
        self.flushed = 0

    def flush(self, timeout=None):
        self.flushed += 1


class FakeSender:
    def __init__(self):
        self.sent: list[tuple[str, bytes, bytes, str]] = []

    def add(self, topic, key, raw, where):
        self.sent.append((topic, key, raw, where))


class Config:
    cdr, security = "t.cdr", "t.security"


def shipper(tmp_path, p: Path, ledger=None) -> tail.Shipper:
    cp = Checkpoint(str(tmp_path / "state.json"))
    saved = cp.load()
    src = source(p, saved.get(os.path.abspath(p)))
    return tail.Shipper([src], FakeSender(), FakeProducer(), ledger or FakeLedger(), cp, Config(), 1_000_000)


def test_a_stop_and_restart_ship_every_line_exactly_once(tmp_path):
    p = tmp_path / "ev.jsonl"
    write(p, "".join(json.dumps(sec(t=i, account=f"a{i}", ip="198.51.100.7")) + "\n" for i in range(5)) + '{"partial')
    s1 = shipper(tmp_path, p)
    s1.round()
    assert s1.commit() and s1.producer.flushed == 1
    write(p, "".join(json.dumps(sec(t=i, account=f"a{i}")) + "\n" for i in range(5, 8)))  # completes nothing valid
    s2 = shipper(tmp_path, p)
    s2.round()
    assert s2.commit()
    sent = [json.loads(raw)["account"] for _, _, raw, _ in s1.sender.sent + s2.sender.sent]
    assert sent == [f"a{i}" for i in range(5)] + [f"a{i}" for i in range(6, 8)]
    assert s1.sender.sent[0][:2] == ("t.security", b"198.51.100.7")
    assert s2.sources[0].counts.rejected == 1  # '{"partial' + the line that completed it


def test_nothing_is_saved_when_an_event_was_not_acknowledged(tmp_path):
    p = tmp_path / "ev.jsonl"
    write(p, json.dumps(sec(t=1)) + "\n")
    ledger = FakeLedger()
    ledger.failed = 1
    s = shipper(tmp_path, p, ledger)
    s.round()
    assert not s.commit()
    assert not (tmp_path / "state.json").exists()


def test_the_summary_line_counts_every_file(tmp_path):
    p = tmp_path / "ev.jsonl"
    write(p, json.dumps(sec(t=1)) + "\nnope\n\n")
    s = shipper(tmp_path, p)
    s.round()
    line = tail.summary_line(s.sources, 1)
    assert line.startswith("tail: 3 lines, 1 events (1 acknowledged), 1 skipped, 1 rejected; ")
    assert f"{p} (jsonl): 3 lines, 1 events, 1 skipped, 1 rejected" in line and "\n" not in line


def test_a_file_with_no_saved_position_is_read_from_its_start_by_default():
    """docs/tail.md: --from-start is the default. argparse gave --from-start's store_false default (True)
    to the shared dest, so tail skipped every line written before it started."""
    from streams.cli import build_parser
    parse = build_parser().parse_args
    assert parse(["tail", "x.log"]).from_end is False
    assert parse(["tail", "--from-end", "x.log"]).from_end is True
    assert parse(["tail", "--from-start", "x.log"]).from_end is False
