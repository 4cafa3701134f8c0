"""The Rust port of the PBX security-log parser (engine/src/seclog/, ``streams._engine.LogReader``)
against its reference, ``streams/intake/seclog.py``: the same event dicts (keys, values, key order,
``ts`` text), the same skips, the same reject reasons and the same ``LogState`` after every line,
on every real and fixture log line, every line the seclog tests hold, and hypothesis's hostile
variants of them (newlines, quotes, percent escapes, long user parts, IPv6 scope ids, Unicode digits
and spaces, stamps without a year across a new year, DST edges)."""

from __future__ import annotations

import ast
import re
import sys
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.intake import seclog
from streams.intake.common import AdapterError

_engine = pytest.importorskip("streams._engine")

ROOT = Path(__file__).resolve().parents[3]
REAL = ROOT.parent / "shared" / "realdata" / "security"
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata")


def _log_files() -> list[Path]:
    files = sorted(REAL.glob("*")) if REAL.is_dir() else []
    return [f for f in files if f.is_file()] + sorted((ROOT / "fixtures").rglob("*.log"))


def _test_lines() -> list[str]:
    """Every string constant of the seclog tests that looks like a log line (their hostile cases)."""
    out = []
    for name in ("test_seclog.py", "test_kamailio_log.py", "test_forged_source.py"):
        tree = ast.parse((Path(__file__).parent / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) >= 16:
                out.extend(node.value.split("\n") if node.value.count("\n") < 40 else [])
    return [line for line in dict.fromkeys(out) if line.strip()]


FILES = _log_files()
TEST_LINES = _test_lines()


def _py(fmt: str, line: str, state: seclog.LogState):
    try:
        return seclog.parse_line(fmt, line, state)
    except AdapterError as exc:
        return str(exc)


def _pair(fmt: str, tz: str, year: int | None, tenant: str = "default"):
    return seclog.LogState(ZoneInfo(tz), tenant, year), _engine.LogReader(fmt, tz, tenant, year)


def _same(fmt: str, lines: list[str], tz: str = "UTC", year: int | None = 2024, restore_at: int | None = None,
          every_line: bool = False) -> int:
    """Both parsers over ``lines`` with one state each (restored from the reference's snapshot at
    ``restore_at``): identical results and, with ``every_line``, identical snapshots after each line."""
    state, reader = _pair(fmt, tz, year)
    compared = 0
    for i, line in enumerate(lines):
        if i == restore_at:
            snap = state.snapshot()
            assert reader.snapshot() == snap
            state = seclog.LogState.restore(ZoneInfo(tz), "default", snap)
            reader.restore(snap)
        want = _py(fmt, line, state)
        got = reader.parse([line])[0]
        assert got == want, (fmt, tz, i, line)
        if isinstance(want, dict):
            assert list(got) == list(want), (fmt, tz, i, line)
        if every_line:
            assert reader.snapshot() == state.snapshot(), (fmt, tz, i, line)
        compared += 1
    assert reader.snapshot() == state.snapshot()
    return compared


def _lines(path: Path) -> list[str]:
    return [raw.decode("utf-8", errors="replace").rstrip("\r\n") for raw in path.read_bytes().splitlines(keepends=True)]


@pytest.mark.skipif(not FILES, reason="no log files")
@pytest.mark.parametrize("fmt", seclog.FORMATS)
@pytest.mark.parametrize("tz", ("UTC", "Europe/Berlin", "America/New_York"))
def test_every_real_and_fixture_line_reads_alike(fmt, tz):
    compared = 0
    for path in FILES:
        lines = _lines(path)
        compared += _same(fmt, lines, tz, 2024, every_line=True)
        compared += _same(fmt, lines, tz, None, restore_at=len(lines) // 2)
    assert compared > 300


def test_the_real_files_are_there():
    assert REAL.is_dir() and len([f for f in FILES if f.parent == REAL]) >= 2


@pytest.mark.parametrize("fmt", seclog.FORMATS)
def test_every_line_of_the_seclog_tests_reads_alike(fmt):
    assert len(TEST_LINES) > 100
    for tz in ZONES[:3]:
        _same(fmt, TEST_LINES, tz, 2019, every_line=True)
        _same(fmt, TEST_LINES, tz, None, restore_at=len(TEST_LINES) // 3)


def test_a_batch_reads_as_lines_one_by_one():
    lines = [line for path in FILES for line in _lines(path)] + TEST_LINES
    state, reader = _pair("asterisk-log", "Europe/Berlin", 2024)
    assert reader.parse(lines) == [_py("asterisk-log", line, state) for line in lines]
    assert reader.snapshot() == state.snapshot()


def test_sniff_line_alike():
    for line in [line for path in FILES for line in _lines(path)] + TEST_LINES:
        assert _engine.sniff_line(line) == seclog.sniff_line(line), line


def test_unknown_format_and_zone_are_refused():
    with pytest.raises(ValueError, match="unknown log format"):
        _engine.LogReader("csv", "UTC")
    with pytest.raises(ValueError):
        _engine.LogReader("asterisk-log", "Not/AZone")


def test_a_megabyte_line_is_read_alike_and_in_linear_time():
    import time
    sip, sec = "[2012-02-13 17:21:54] NOTICE[1638] chan_sip.c: ", "[2012-02-13 17:21:54] SECURITY[1] res_security_log.c: "
    end = "' rejected because extension not found in context 'd'."
    separators = "".join(f"' (1.2.3.4:{i}x) to extension '" for i in range(25_000))  # each a new non-address
    for line in (sip + "Call from '" + "'" * (1 << 20), sip + "Registration from '" + "' failed for '1.2.3.4" * 40_000,
                 sip + "Call from '' (1.2.3.4:5060) to extension '" + "' (1.2.3.4:5060) to extension '" * 30_000 + end,
                 sip + "Call from '\u00e9" + separators + "' (1.2.3.4:5060) to extension '" + end,
                 sip + "Call from '" + separators + end,
                 sec + 'SecurityEvent="InvalidPassword",' + '\\",RemoteAddress="IPV4/UDP/1.2.3.4/5060"' * 25_000,
                 sec + 'SecurityEvent="InvalidPassword",' + '",RemoteAddress="IPV4/UDP/1.2.3.4/5060"' * 25_000,
                 sec + 'SecurityEvent="InvalidPassword",RemoteAddress="IPV4/UDP/1.2.3.4/5060",X="' + "\\\"" * 400_000):
        assert len(line) > 700_000
        t0 = time.monotonic()
        _same("asterisk-log", [line, end])
        assert time.monotonic() - t0 < 60
        t0 = time.monotonic()
        _engine.LogReader("asterisk-log", "UTC").parse([line])
        assert time.monotonic() - t0 < 2, line[:120]


# ------------------------------------------------------------------------------------ time edges

def _edges(tz: str) -> list[datetime]:
    """Wall times around each clock change of the zone in 2023, 2024 and 2150 (zoneinfo's rule past its table)."""
    zone, out = ZoneInfo(tz), []
    for year in (2023, 2024, 2150):
        t = datetime(year, 1, 1, tzinfo=ZoneInfo("UTC"))
        prev = t.astimezone(zone).utcoffset()
        while t.year == year:
            t += timedelta(minutes=30)
            off = t.astimezone(zone).utcoffset()
            if off != prev:
                wall = t.astimezone(zone).replace(tzinfo=None)
                out += [wall + timedelta(minutes=m) for m in range(-150, 151, 15)]
                prev = off
    return out


@pytest.mark.parametrize("tz", ZONES)
def test_stamps_at_clock_changes_read_alike(tz):
    walls = _edges(tz)
    assert tz == "UTC" or tz == "Asia/Kolkata" or walls
    ami = "NOTICE[1] manager.c: 1.2.3.4 failed to authenticate as 'admin'"
    lines = [f"[{w:%Y-%m-%d %H:%M:%S}] {ami}" for w in walls]
    lines += [f"[{w:%b %d %H:%M:%S}.250] {ami}" for w in walls]
    lines += [f"{w:%Y-%m-%dT%H:%M:%S}.5 host asterisk[1]: {ami}" for w in walls]
    _same("asterisk-log", lines, tz, 2023, every_line=True)
    _same("asterisk-log", lines[::-1], tz, 2023, every_line=True)
    _same("asterisk-log", lines, tz, None, restore_at=len(lines) // 2)


@pytest.mark.parametrize("tz", ZONES)
def test_event_times_read_alike(tz):
    base = ('[2024-03-31 01:59:59] SECURITY[1] res_security_log.c: SecurityEvent="InvalidPassword",EventTV="{}",'
            'Service="SIP",AccountID="100",SessionID="x",LocalAddress="IPV4/UDP/10.0.0.1/5060",'
            'RemoteAddress="IPV4/UDP/1.2.3.4/5060"')
    tvs = [f"{int(w.replace(tzinfo=ZoneInfo(tz)).timestamp())}-{us}" for w in _edges(tz) for us in (0, 999_999)]
    tvs += ["2013-05-13T12:10:53.500+0200", "2013-05-13T12:10:53.500+02:00", "2013-05-13 12:10:53", "2013-05-13",
            "2013-W20-1T10", "2013W201", "2013-05-13T12:10:53,5Z", "2013-05-13T12:10:53+02:00:30", "2013-05-13T24:00",
            "20130513T121053", "2013-05-13T12:10:53.1234567", "2013-05-13T12:10:53:12", "1368439853-500975",
            "99999999999-1", "2199-12-30T23:59:59-01:00", "1971-01-01T23:00:00-01:00", "2013-05-13T12",
            "2013-05-13T1210", "2013-05-13T12:10:5", "2013-05-13x12:10", "2013-05-13\u00e912:10", "2013-13-13"]
    _same("asterisk-log", [base.format(tv) for tv in tvs], tz, 2024, every_line=True)


# ----------------------------------------------------------------------------------- hypothesis

SEEDS = [line for path in FILES for line in _lines(path) if line.strip() and not line.startswith("#")] + TEST_LINES
PIECES = ["\n", "'", '"', "\\", "%", "%0a", "%25", "%eth0", "fe80::1%eth0", "[2001:db8::1]:5060", "2001:db8::1:5060",
          "::ffff:1.2.3.4", "[::1]", "1.2.3.4:5060", "(1.2.3.4:5060)", "' (UDP:5.6.7.8:5060) to extension '",
          "' failed for '9.9.9.9:5060' (callid: ", ") - No matching endpoint found", "' failed for '9.9.9.9' - x",
          "' rejected because extension not found in context 'x'.", "' (from 5.6.7.8)", "] from ip 5.6.7.8",
          '",RemoteAddress="IPV6/UDP/fe80::1%eth0/5060"', '",RemoteAddress="IPV4/TCP/5.6.7.8/1"', "\\\"",
          " domain: x", "<sip:", "SIP:", "@", ";", ">", "ſİp:", "\u0663", "\u00b2", "\x1c", "\u3000", "\u0085",
          "\u03a3", "K", "\u0130", "\t", "\r", " ", ":", "[", "]", "(", ")", "-", "0", "99", "65536",
          "[Dec 31 23:59:59] ", "[Jan  1 00:00:01] ", "Jan  1 00:00:01 host asterisk[1]: ", "[Feb 29 12:00:00] ",
          "2024-03-31T02:30:00+24:00 host asterisk: ", "Oct 27 02:30:00 ", "08-03 07:56:53.026292 ",
          "tollguard-sec/1 event=auth-failed reason=wrong-password src=1.2.3.4 port=5060 proto=udp time=1700000000 "
          "usec=1 method=%C3%9F%CE%A3 user=%ff%fe ua=x", "method=%CE%A3%CE%A3 ", "A" * 300, "B" * 5000]

_piece = st.one_of(st.sampled_from(PIECES), st.text(max_size=8))


SEEDS_OF = {fmt: [line for line in SEEDS if seclog.sniff_line(line) == fmt] for fmt in seclog.FORMATS}


@st.composite
def _hostile(draw, fmt: str | None = None) -> str:
    """A line of that format (or any) with up to four insertions, deletions, replacements or cuts."""
    line = draw(st.sampled_from(SEEDS_OF[fmt] if fmt and draw(st.integers(0, 4)) else SEEDS))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(line)))
        kind = draw(st.sampled_from(("insert", "delete", "replace", "cut")))
        if kind == "insert":
            line = line[:at] + draw(_piece) + line[at:]
        elif kind == "delete":
            line = line[:at] + line[at + draw(st.integers(1, 12)):]
        elif kind == "replace":
            line = line[:at] + draw(_piece) + line[at + draw(st.integers(1, 6)):]
        else:
            line = line[:at]
    return line


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data(), st.sampled_from(seclog.FORMATS), st.sampled_from(ZONES),
       st.sampled_from((None, 2019, 2024, 2199, 1971)), st.integers(0, 6))
def test_hostile_variants_read_alike(data, fmt, tz, year, restore_at):
    lines = data.draw(st.lists(_hostile(fmt), min_size=1, max_size=6))
    _same(fmt, lines, tz, year, restore_at=restore_at, every_line=True)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(ZONES), st.integers(1971, 2199), st.integers(1, 12), st.integers(1, 31),
       st.integers(0, 23), st.integers(0, 59), st.lists(st.integers(-3, 3), min_size=1, max_size=5))
def test_year_less_stamps_across_new_years_read_alike(tz, year, month, day, hour, minute, steps):
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    lines = []
    for step in steps:
        m = (month - 1 + step * 4) % 12
        lines.append(f"[{months[m]} {day:2d} {hour:02d}:{minute:02d}:00] NOTICE[1] chan_sip.c: "
                     "Registration from '<sip:1@x>' failed for '1.2.3.4' - Wrong password")
        lines.append("NOTICE[566]: chan_sip.c: Registration from '<sip:1@x>' failed for '1.2.3.4' - Wrong password")
    _same("asterisk-log", lines, tz, year, every_line=True)


# ---------------------------------------------------------------------- Python's character tables

def generate_pyuni() -> str:
    """engine/src/seclog/pyuni.rs: Python's ``re`` ``\\w``, ``\\d`` (with values), ``\\s``, ``str.isprintable``,
    ``str.upper``/``lower`` and Cased/Case_Ignorable (the final sigma), so the port reads text as Python does."""
    def ranges(pred):
        out, start = [], None
        for c in range(0x110000):
            ok = pred(c)
            if ok and start is None:
                start = c
            if not ok and start is not None:
                out.append((start, c - 1))
                start = None
        if start is not None:
            out.append((start, 0x10FFFF))
        return out

    def table(name, rs):
        return f"pub(crate) static {name}: &[(u32, u32)] = &[{''.join(f'({a:#x}, {b:#x}), ' for a, b in rs)}];\n"

    def maps(name, fn):
        rows = []
        for c in range(0x110000):
            s = chr(c)
            if 0xD800 <= c <= 0xDFFF:
                continue
            t = fn(s)
            if t != s:
                esc = "".join("\\u{%x}" % ord(x) for x in t)
                rows.append(f'({c:#x}, "{esc}"), ')
        return f"pub(crate) static {name}: &[(u32, &str)] = &[{''.join(rows)}];\n"

    def cased(s):
        return s.islower() or s.isupper() or s.istitle()

    def ignorable(c):
        s = chr(c)
        if 0xD800 <= c <= 0xDFFF or ("A" + s + "\u03a3").lower()[-1] != "\u03c2":
            return False
        return ("1" + s + "\u03a3").lower()[-1] == "\u03c3" if cased(s) else True

    digit = ranges(lambda c: re.match(r"\d", chr(c)) is not None)
    dvals = []
    for a, b in digit:
        base = unicodedata.decimal(chr(a))
        assert all(unicodedata.decimal(chr(c)) == (base + c - a) % 10 for c in range(a, b + 1))
        dvals.append(f"({a:#x}, {b:#x}, {base}), ")
    return "".join([
        "// @generated by tests/streams/intake/test_seclog_engine.py (generate_pyuni) from Python "
        f"{sys.version_info[0]}.{sys.version_info[1]}, Unicode {unicodedata.unidata_version}: do not edit.\n",
        "#![allow(clippy::unreadable_literal)]\n",
        table("WORD", ranges(lambda c: re.match(r"\w", chr(c)) is not None)),
        table("SPACE", ranges(lambda c: re.match(r"\s", chr(c)) is not None)),
        table("PRINTABLE", ranges(lambda c: chr(c).isprintable())),
        table("CASED", ranges(lambda c: cased(chr(c)))),
        table("CASE_IGNORABLE", ranges(ignorable)),
        f"pub(crate) static DIGIT: &[(u32, u32, u32)] = &[{''.join(dvals)}];\n",
        maps("UPPER", str.upper), maps("LOWER", lambda s: s if s == "\u03a3" else s.lower())])


def test_the_character_tables_are_this_python_s():
    """The port's tables are those of the Python that runs the reference (regenerate: python -c
    'from tests.streams.intake.test_seclog_engine import generate_pyuni as g; print(g(), end="")' > engine/src/seclog/pyuni.rs)."""
    assert (ROOT / "engine" / "src" / "seclog" / "pyuni.rs").read_text() == generate_pyuni()


# ------------------------------------------------------------------------------------------ wiring

def _read_all(monkeypatch, engine: str, paths: list[str], fmt: str):
    from streams.intake import Summary, read_events
    monkeypatch.setenv("TOLLGUARD_ENGINE", engine)
    summary = Summary()
    records = list(read_events(paths, fmt, "Europe/Berlin", "acme", summary=summary))
    return records, summary.lines()


def test_the_converter_reads_logs_with_the_engine_unless_told_python(monkeypatch):
    from streams.intake import Converter
    monkeypatch.delenv("TOLLGUARD_ENGINE", raising=False)
    assert isinstance(Converter("asterisk-log", "UTC").log, _engine.LogReader)
    monkeypatch.setenv("TOLLGUARD_ENGINE", "python")
    assert isinstance(Converter("asterisk-log", "UTC").log, seclog.LogState)
    monkeypatch.setenv("TOLLGUARD_ENGINE", "cobol")
    with pytest.raises(ValueError, match="TOLLGUARD_ENGINE"):
        Converter("kamailio-log", "UTC")


@pytest.mark.skipif(not FILES, reason="no log files")
def test_files_read_alike_through_either_engine(monkeypatch, tmp_path):
    """read_events in batches (the engine) and a line at a time (the reference): the same records, line
    numbers and counts, across batch edges, a too-long line, a byte-order mark, blank and comment lines."""
    from streams.intake import BATCH, MAX_LINE
    body = b"".join(path.read_bytes().rstrip(b"\n") + b"\n" for path in FILES)
    big = tmp_path / "big.log"
    big.write_bytes(b"\xef\xbb\xbf" + body * 3 + b"#x\n\n  \n" + b"A" * (MAX_LINE + 5) + b"\n" + body * 3)
    assert big.read_bytes().count(b"\n") > 2 * BATCH
    for fmt in ("auto", *seclog.FORMATS):
        paths = [str(big)] + ([str(p) for p in FILES] if fmt == "auto" else [])
        assert _read_all(monkeypatch, "rust", paths, fmt) == _read_all(monkeypatch, "python", paths, fmt)
    records, lines = _read_all(monkeypatch, "rust", [str(big)], "asterisk-log")
    assert any(e is None for *_, e in records) and any(e for *_, e in records), lines


def test_a_zone_the_engine_cannot_open_is_read_by_the_reference(monkeypatch, tmp_path):
    from streams.intake import Converter
    monkeypatch.delenv("TOLLGUARD_ENGINE", raising=False)
    with open("/usr/share/zoneinfo/Europe/Berlin", "rb") as fh:
        unnamed = ZoneInfo.from_file(fh)
    assert isinstance(Converter("asterisk-log", unnamed).log, seclog.LogState)
    monkeypatch.setattr(_engine, "LogReader", lambda *a: (_ for _ in ()).throw(ValueError("no such time zone")))
    assert isinstance(Converter("asterisk-log", "UTC").log, seclog.LogState)


CRAFTED = [  # where Python's reading of text is not the regex crate's, std's or chrono's
    "[\u0662\u0660\u0661\u0662-02-13 17:21:54] NOTICE[1638] chan_sip.c: Registration from '<sip:1@x>' failed for "
    "'1.2.3.4' - Wrong password",                                                   # Unicode digits in a stamp
    "2024-02-13T17:21:54+\u0660\u0661:30 host asterisk[1]: NOTICE[1] chan_sip.c: Registration from '<ſİp:7@x>' "
    "failed for '1.2.3.4' - Wrong password",                                        # ſ and İ match re.I's s and i
    "Feb 13 17:21:54 host \u212aamailio[1]: x",                                     # Kelvin sign lowers to k
    "Feb 13 17:21:54 host /usr/sbin/ASTERISK: NOTICE[1] manager.c: 1.2.3.4 failed to authenticate as 'a'",
    "\x1c[2024-02-13 17:21:54] NOTICE[1] manager.c: 1.2.3.4 failed to authenticate as 'a'\u3000",  # Python spaces
    "[2024-02-13 17:21:54] NOTICE[1] manager.c: \u00b2.2.3.4 failed to authenticate as 'a'",       # \w has ²
    "[2024-02-13 17:21:54] NOTICE[1] manager.c: 1.2.3.4\u0085 failed to authenticate as 'a'",
    "[2024-02-13 17:21:54] NOTICE[1] manager.c: ::ffff:1.2.3.4 failed to authenticate as 'a'",
    "[2024-02-13 17:21:54] NOTICE[1] manager.c: [2001:DB8:0:0:0:0:0:1]:5038 failed to authenticate as 'a'",
    "[2024-02-13 17:21:54] NOTICE[1] manager.c: 2001:db8::1%eth0 failed to authenticate as 'a'",
    "[2024-02-13 17:21:54] NOTICE[1] manager.c: 01.2.3.4 failed to authenticate as 'a'",
    "[2024-02-13 17:21:54] NOTICE[1] manager.c: 1.2.3.4:99999 failed to authenticate as 'a'",
    "[2024-02-13 17:21:54] NOTICE[1] manager.c: 1.2.3.4:\u0665060 failed to authenticate as 'a'",
    "[2024-02-30 17:21:54] NOTICE[1] manager.c: 1.2.3.4 failed to authenticate as 'a'",
    "[2024-02-13 24:21:54] NOTICE[1] manager.c: 1.2.3.4 failed to authenticate as 'a'",
    "2024-02-13T17:21:54+24:00 host asterisk: NOTICE[1] manager.c: 1.2.3.4 failed to authenticate as 'a'",
    "2024-02-13T17:21:54-23:99 host asterisk: NOTICE[1] manager.c: 1.2.3.4 failed to authenticate as 'a'",
    "[Feb 29 17:21:54] NOTICE[1] manager.c: 1.2.3.4 failed to authenticate as 'a'",
    "Feb 13 17:21:54 host kamailio[1]: NOTICE: <script>: tollguard-sec/1 event=auth-failed reason=wrong-password "
    "src=1.2.3.4 port=5060 proto=tcp time=1700000000 usec=5 method=%CE%A3%CE%A3%20x%CE%A3 user=%C4%B0%E2%84%AA%ff "
    "ua=%F0%9F%98%80%e2%82",                                                          # final sigma, bad UTF-8
    "Feb 13 17:21:54 host kamailio[1]: NOTICE: <script>: tollguard-sec/1 event=auth-ok reason=ok src=::FFFF:1.2.3.4 "
    "port=\u0665060 proto=sctp time=1700000000 usec=5 method=%C3%9F user= ua=",
    "Feb 13 17:21:54 host kamailio[1]: NOTICE: <script>: tollguard-sec/1 event=auth-ok reason=ok src=::FFFF:1.2.3.4 "
    "port=5060 proto=sctp time=1700000000 usec=5 method=%C3%9F user= ua=",          # ß upper-cased is SS
    "Feb 13 17:21:54 host kamailio[1]: NOTICE: <script>: tollguard-sec/1 event=pike reason=flood src=1.2.3.4 "
    "port=5060 proto=udp time=\u0661700000000 usec=5 method=%C5%BFip user= ua=",
]


@pytest.mark.parametrize("tz", ZONES)
def test_crafted_lines_read_alike(tz):
    for fmt in seclog.FORMATS:
        for year in (None, 2024):
            _same(fmt, CRAFTED, tz, year, every_line=True)
            _same(fmt, CRAFTED[::-1], tz, year, every_line=True)


@pytest.mark.parametrize("opening", [
    "[2024-02-13 17:21:54] NOTICE[1] chan_sip.c: Call from '' (1.2.3.4:5060) to extension '00",
    "[2024-02-13 17:21:54] NOTICE[1] res_pjsip_session.c: Call from 'ep' (UDP:1.2.3.4:5060) to extension '00",
    "[2024-02-13 17:21:54] NOTICE[1] chan_iax2.c: Host 1.2.3.4 failed MD5 authentication for 'x' (a != b",
    "[2024-02-13 17:21:54] NOTICE[1] manager.c: 1.2.3.4 failed to authenticate as 'adm",
    "2024-02-13 17:21:54.767815 [WARNING] mod_verto.c:1 Login incorrect for user: x",
])
def test_a_cut_message_is_followed_to_its_end_or_its_8_kib_alike(opening):
    """The lines after a cut message are refused up to its end, or until 8 KiB of them passed (then the
    state forgets it): blank lines, long lines and lines ending as another message does count alike."""
    filler = "[2024-02-13 17:21:55] NOTICE[1] chan_sip.c: Registration from '<sip:1@x>' failed for '9.9.9.9' - Wrong password"
    ends = ["x' rejected because extension not found in context 'd'.", "x) - No matching endpoint", "x'", "x)",
            "x' (from 5.6.7.8)", "x domain: y"]
    for fmt in seclog.FORMATS:
        for n in (1, 20, 70, 80):
            lines = [opening] + [filler] * n + ["", "   ", "Y" * 3000] + ends + [filler] * 3
            _same(fmt, lines, "Europe/Berlin", 2024, every_line=True)
            _same(fmt, lines, "UTC", None, restore_at=n // 2 + 1)


def test_bench_s_generated_asterisk_log_reads_alike(tmp_path):
    """bench/gen_asterisk_log.py's attack log (the peer comparison's input), in Berlin's zone."""
    import subprocess
    path = tmp_path / "asterisk.log"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_asterisk_log.py"), "6000", str(path)], check=True)
    lines = _lines(path)
    state, reader = _pair("asterisk-log", "Europe/Berlin", None)
    want = [_py("asterisk-log", line, state) for line in lines]
    assert reader.parse(lines) == want and reader.snapshot() == state.snapshot()
    assert sum(isinstance(w, dict) for w in want) > 3000
