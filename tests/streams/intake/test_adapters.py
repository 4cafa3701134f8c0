"""Each PBX export adapter on a realistic sample file in fixtures/cdr/."""

from pathlib import Path

import pytest

from streams.intake import read_events
from streams.intake.mapped import MapError, load_mapping
from streams.domain.events import Cdr, decode_event
from streams.policy import Policy
from streams.shells.replay import replay_file

CDR = Path(__file__).resolve().parents[3] / "fixtures" / "cdr"
POLICY = Path(__file__).resolve().parents[3] / "fixtures" / "policy.example.yaml"


def load(name, fmt, tz="Europe/London"):
    good, bad = [], []
    for src, n, raw, err in read_events([str(CDR / name)], fmt, tz):
        if err:
            bad.append((n, err))
        else:
            good.append(decode_event(raw))
    return good, bad


def test_asterisk_master_csv():
    good, bad = load("asterisk-Master.csv", "asterisk-csv")
    assert all(isinstance(e, Cdr) for e in good) and len(good) == 6
    first = good[0]
    assert (first.src, first.dst, first.direction, first.trunk, first.billsec, first.disposition) == \
        ("1001", "02079460000", "outbound", "sip-local", 202, "answered")
    assert first.call_id == "1796378462.18" and first.start.isoformat() == "2026-12-04T10:01:02+00:00"
    assert [e.direction for e in good] == ["outbound", "internal", "inbound", "outbound", "outbound", "outbound"]
    assert good[5].disposition == "busy"
    assert bad == [(7, "start: not a date-time: 'yesterday'"),
                   (8, "Asterisk Master.csv rows have at least 16 columns, this one has 5")]


def test_freeswitch_default_template():
    good, bad = load("freeswitch-Master.csv", "freeswitch-csv")
    assert len(good) == 5
    assert good[0].call_id == "4b2f6c1e-9a7d-4d1e-8c1a-5f0e2f3a1001" and good[0].direction == "outbound"
    assert good[2].direction == "inbound" and good[2].disposition == "no_answer"
    assert good[4].disposition == "busy"
    assert bad == [(6, "billsec: not a number: 'three hundred'")]


def test_yeastar_export():
    good, bad = load("yeastar-cdr.csv", "yeastar-csv")
    assert [(e.src, e.dst, e.direction) for e in good[:3]] == [
        ("1000", "02079460000", "outbound"), ("1001", "1002", "internal"), ("02079460123", "1000", "inbound")]
    assert good[0].billsec == 202 and good[0].duration == 209 and good[0].trunk == "sip-local"
    assert good[3].pin == "bad" and good[5].src_ip == "102.129.143.9" and good[5].billsec == 7200
    assert len(bad) == 1 and bad[0][0] == 8 and "Time: not a date-time" in bad[0][1]


def test_times_are_local_to_the_given_zone():
    good, _ = load("yeastar-cdr.csv", "yeastar-csv", tz="America/New_York")
    assert good[0].start.utcoffset().total_seconds() == -5 * 3600


def test_replay_detects_on_exports():
    out, stats, rejects = replay_file([str(CDR / "asterisk-Master.csv")], Policy.load(POLICY), "asterisk-csv",
                                      "Europe/London")
    rules = {r.rule for r in out if r.__class__.__name__ == "Alert"}
    assert {"premium_rate", "time_condition", "international_disallowed"} <= rules
    assert [r.line for r in rejects] == [7, 8]


def test_yeastar_header_required(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("a,b,c\n1,2,3\n")
    rows = list(read_events([str(f)], "yeastar-csv"))
    assert rows[0][3].startswith("first row must be the Yeastar header")


def test_a_jsonl_line_holding_an_array_is_a_batch_of_events(tmp_path):
    """replay reads batch records the way the worker does: each element judged alone."""
    from streams.intake import decoded
    good = '{"type":"security","ts":"2026-12-01T10:00:00Z","service":"sip","src_ip":"1.2.3.4","outcome":"failure"}'
    f = tmp_path / "b.jsonl"
    f.write_text(f'[{good}, {{"type":"cdr"}}, {good}]\n[{{"type":\n{good}\n')
    rows = list(decoded(read_events([str(f)])))
    assert [(n, ev is not None) for _, n, _, ev, _ in rows] == [(1, True), (1, False), (1, True), (2, False), (3, True)]
    assert rows[1][4].startswith("event [1] of the batch:") and "not a JSON array" in rows[3][4]


# --- csv --map files are read like every operator file (streams.policy.yamlfile): no aliases, no key twice ---

LAUGHS = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9))


def test_a_map_with_aliases_is_refused_at_the_alias_line(tmp_path):
    """A small "billion laughs": 9**8 strings if expanded. Refused before any expansion, naming the line."""
    m = tmp_path / "map.yaml"
    m.write_text("header: true\nl0: &l0 x\n" + LAUGHS + "columns: {start: a, src: b, dst: c}\n")
    with pytest.raises(MapError) as exc:
        load_mapping(str(m))
    assert f"{m}:3:" in str(exc.value) and "aliases" in str(exc.value)


def test_a_map_alias_that_reuses_a_column_is_refused(tmp_path):
    """Today's YAML loader accepts this and reads the start time's column as the caller."""
    m = tmp_path / "map.yaml"
    m.write_text("columns:\n  start: &when calldate\n  src: *when\n  dst: dst\n")
    with pytest.raises(MapError, match=rf"{m}:3: .*aliases"):
        load_mapping(str(m))


def test_a_map_column_given_twice_is_refused_with_both_lines(tmp_path):
    """YAML keeps the last ``src:`` silently: the caller column would quietly become the wrong one."""
    m = tmp_path / "map.yaml"
    m.write_text("columns:\n  start: calldate\n  src: src\n  dst: dst\n  src: clid\n")
    with pytest.raises(MapError) as exc:
        load_mapping(str(m))
    assert f"{m}:5: columns.src: given twice (first on line 3)" in str(exc.value)


def test_a_map_error_names_the_line_of_the_bad_key(tmp_path):
    m = tmp_path / "map.yaml"
    m.write_text("header: true\ncolumns:\n  start: a\n  src: b\n  dst: c\ndate_order: ydm\n")
    with pytest.raises(MapError, match=rf"{m}:6: date_order"):
        load_mapping(str(m))
