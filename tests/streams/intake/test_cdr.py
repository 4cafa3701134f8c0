"""CDR exports as they really are: direction from the context, pseudo-destinations, extensions of 2-8
digits, call legs, trunks in channel names, the 3CX layout, real third-party exports."""
import json
from pathlib import Path

import pytest

from streams.domain.events import decode_event
from streams.intake import Summary, decoded, read_events
from streams.policy.meaning import CdrMeaning, trunk_of
from streams.policy import Policy
from streams.shells.replay import replay_file

ROOT = Path(__file__).resolve().parents[3]
CDR = ROOT / "fixtures" / "cdr"
REAL = ROOT.parent / "shared" / "realdata" / "cdr"


def events(path, fmt="auto", tz="UTC", meaning=None):
    summary = Summary()
    good, bad = [], []
    for src, n, raw, ev, err in decoded(read_events([str(path)], fmt, tz, meaning=meaning, summary=summary), summary):
        (bad.append((n, err)) if err else good.append((n, ev)))
    return good, bad, summary.files[str(path)]


def test_context_says_the_direction_and_pseudo_destinations_are_no_calls():
    good, bad, counts = events(CDR / "asterisk-contexts.csv", "asterisk-csv")
    by_line = {n: e for n, e in good}
    assert not bad
    assert by_line[1].direction == "inbound" and by_line[2].direction == "inbound"  # stadion-pstn, long src
    assert 3 not in by_line and 4 not in by_line and 5 not in by_line  # t, s, a SIP user name
    assert counts.skipped == 3 and counts.events == 7
    assert by_line[6].direction == "internal"  # 7-digit extensions
    assert by_line[7].direction == "outbound" and by_line[7].trunk == "voipgw"
    assert by_line[9].trunk == "voice.google.com" and by_line[10].trunk == "DAHDI/1"
    assert by_line[1].trunk == "kpn"


def test_call_legs_sharing_a_linkedid_count_once():
    out, stats, _ = replay_file([str(CDR / "asterisk-contexts.csv")], Policy.default(), "asterisk-csv")
    good, _, _ = events(CDR / "asterisk-contexts.csv", "asterisk-csv")
    ids = [e.call_id for _, e in good]
    assert ids.count("1772444400.7") == 2  # both legs carry the linkedid ...
    no_group, _, _ = events(CDR / "asterisk-contexts.csv", "asterisk-csv", meaning=CdrMeaning(group_legs=False))
    assert len({e.call_id for _, e in no_group}) == len(no_group)  # ... which the policy can switch off


def test_no_alert_names_a_pseudo_destination_or_an_inbound_call():
    out, _, _ = replay_file([str(CDR / "asterisk-contexts.csv")], Policy.default(), "asterisk-csv")
    for a in (r for r in out if r.__class__.__name__ == "Alert"):
        assert a.evidence.get("dst") not in ("s", "t", "vbee_1001"), a
        assert "0612345678" not in a.summary and "0687654321" not in a.summary, a


@pytest.mark.parametrize("channel,trunk", [
    ("PJSIP/trunk-000001", "trunk"), ("SIP/provider-0a", "provider"), ("IAX2/peer-1", "peer"),
    ("Motif/12489398620@voice.google.com-753b", "voice.google.com"), ("Local/1001@from-internal-0001;1", None),
    ("SIP/1001-00000001", None), ("DAHDI/i1/0207946000-5", "DAHDI/i1"), ("", None), ("garbage", None)])
def test_trunk_from_channel_names(channel, trunk):
    assert trunk_of(channel, CdrMeaning()) == trunk


def test_policy_cdr_section_is_validated():
    pol = Policy.from_yaml("cdr:\n  inbound_contexts: ['carrier-*']\n  extension_pattern: '[0-9]{3}'\n")
    m = pol.tenant("default").settings.cdr
    assert m.context_direction("carrier-kpn") == "inbound" and m.context_direction("stadion-pstn") is None
    from streams.policy import PolicyError
    with pytest.raises(PolicyError):
        Policy.from_yaml("cdr:\n  extension_pattern: '[0-9'\n")


def test_freeswitch_scanner_probes_raise_inbound_probe():
    pol = Policy.from_yaml("home_country: GB\ninternational_prefix: ['00']\nnational_prefix: '0'\n")
    out, stats, rejects = replay_file([str(CDR / "freeswitch-probes.csv")], pol, "freeswitch-csv")
    alerts = [r for r in out if r.__class__.__name__ == "Alert"]
    assert [a.rule for a in alerts] == ["inbound_probe"] and alerts[0].subject == "1000"
    assert alerts[0].evidence["probes"] == 3 and not rejects  # the third probe trips it (more than 2)


def test_a_call_over_the_autumn_clock_change_keeps_its_duration(tmp_path):
    f = tmp_path / "dst.csv"  # 01:30 BST, 40 min, ends 01:10 GMT (the repeated hour)
    f.write_text('"","1001","0207946000","from-internal","","PJSIP/1001-01","PJSIP/trunk-02","Dial","",'
                 '2026-10-25 01:30:00,2026-10-25 01:30:05,2026-10-25 01:10:00,2400,2395,ANSWERED,DOCUMENTATION,1.1,""\n')
    good, bad, _ = events(f, "asterisk-csv", tz="Europe/London")
    assert not bad
    e = good[0][1]
    assert (e.end - e.start).total_seconds() == 2400


def test_hostile_rows_are_rejected_one_by_one_and_the_rest_is_read(tmp_path):
    row = ('"","1001","0207946000","from-internal","","PJSIP/1001-01","PJSIP/trunk-02","Dial","",'
           '2026-03-02 10:00:00,2026-03-02 10:00:05,2026-03-02 10:01:00,60,55,ANSWERED,DOCUMENTATION,{id},""\n')
    f = tmp_path / "x.csv"
    with open(f, "w", encoding="utf-8") as fh:
        fh.write("\ufeff" + row.format(id="a"))  # a byte-order mark
        fh.write("accountcode,src,dst,dcontext,clid,channel,dstchannel,lastapp,lastdata,start,answer,end,"
                 "duration,billsec,disposition,amaflags,uniqueid,userfield\n")  # a header: skipped
        fh.write('"","1001","' + "9" * 200_000 + '",x\n')  # one field over 131,072 characters
        fh.write(row.format(id="b"))
        fh.write('"","test","100","context","unterminated\n')  # an unterminated quote
        fh.write(row.format(id="c"))
    good, bad, counts = events(f, "asterisk-csv")
    assert [e.call_id for _, e in good] == ["a", "b", "c"]
    assert [n for n, _ in bad] == [3, 5]
    assert counts.skipped == 1 and counts.lines == 6
    assert "accountcode" not in json.dumps([e.accountcode for _, e in good if hasattr(e, "accountcode")])


def test_a_line_over_a_megabyte_is_rejected_in_bounded_memory(tmp_path):
    f = tmp_path / "big.jsonl"
    ok = '{"type":"security","ts":"2026-12-01T10:00:00Z","service":"sip","src_ip":"1.2.3.4","outcome":"failure"}'
    f.write_text(ok + "\n" + "x" * (3 << 20) + "\n" + ok + "\n")
    good, bad, _ = events(f)
    assert [n for n, _ in good] == [1, 3] and bad[0][0] == 2 and "longer than" in bad[0][1]


def test_csv_map_reads_a_spreadsheet_resave(tmp_path):
    m = tmp_path / "map.yaml"
    m.write_text("header: true\ndate_order: dmy\ncolumns: {start: Date, src: From, dst: To, billsec: Talk, "
                 "direction: Dir}\n")
    f = tmp_path / "s.csv"
    f.write_text("\ufeffDate,From,To,Talk,Dir\n13/01/2019 11:09:02 PM,1001,00441134900292,61,out\n"
                 "10/2/2020 22:41,1002,1001,5,internal\nnot a date,1003,1001,5,internal\n")
    from streams.intake.mapped import load_mapping
    summary = Summary()
    rows = list(decoded(read_events([str(f)], "csv", "UTC", mapping=load_mapping(str(m)), summary=summary), summary))
    good = [r[3] for r in rows if r[3] is not None]
    assert good[0].start.isoformat() == "2019-01-13T23:09:02+00:00" and good[0].direction == "outbound"
    assert good[1].start.isoformat() == "2020-02-10T22:41:00+00:00"
    assert [r[1] for r in rows if r[4]] == [4]


def test_a_bad_map_is_refused_with_the_reason(tmp_path):
    from streams.intake.mapped import MapError, load_mapping
    m = tmp_path / "map.yaml"
    m.write_text("columns: {start: a, src: b, destination: c}\n")
    with pytest.raises(MapError, match="unknown column key"):
        load_mapping(str(m))


@pytest.mark.skipif(not REAL.is_dir(), reason=f"LOUD SKIP: the real third-party exports are not at {REAL}")
class TestRealExports:
    def test_3cx_export(self):
        good, bad, counts = events(REAL / "3cx_dorel14-3CX-Cdr-Server_ClasseurPrepaCDR.csv")
        assert counts.fmt == "3cx-csv" and counts.lines == 1404 and len(bad) <= 14  # 99 % read
        dirs = {e.direction for _, e in good}
        assert dirs == {"inbound", "outbound", "internal"}
        out = [e for _, e in good if e.direction == "outbound"]
        assert all(not e.dst.startswith("Ext.") for e in out) and all(e.trunk for e in out)

    def test_asterisk_good_and_buggy(self):
        good, bad, counts = events(REAL / "ast_asterisk-testsuite_asttest_self-tests_cdrlib_good.csv")
        assert len(good) == 5 and not bad and counts.fmt == "asterisk-csv"
        good, bad, counts = events(REAL / "ast_asterisk-testsuite_asttest_self-tests_cdrlib_buggy.csv",
                                   "asterisk-csv")
        assert not good and bad and bad[0][0] == 1  # the unterminated quote, with its line


CX_ROW = ("Call 1,00000171DEE41BB3_{n},00:12:00,2026/05/04 10:53:43,2026/05/04 10:53:50,2026/05/04 11:05:50,"
          "TerminatedByDst,0611360468,Ext.610,10000,610,610,{change},{final},{final_dn},,,,,"
          "\"Chain: 0611360468,Ext.610,{final},\",External,Internal,{final_type},from disp,to disp,fin disp,\n")


@pytest.mark.parametrize("change, final, final_dn, final_type, want", [
    ("Fwd_Always", "0037120000000", "10000", "External", ("forwarded_from", "610", "0037120000000")),
    ("Fwd_NoAnswer", "0037120000000", "10000", "Line", ("forwarded_from", "610", "0037120000000")),
    ("BXferOfDst", "0037120000000", "10000", "External", ("transferred_by", "610", "0037120000000")),
    ("ReplacedDst", "Ext.185", "185", "Internal", None),                 # handed to a colleague: no call out
    ("FailedBXferOfDst", "0037120000000", "0037120000000", "Internal", None),   # the transfer failed
    ("", "610", "610", "Internal", None),                               # nothing changed
])
def test_3cx_calls_forwarded_or_transferred_out_are_outbound_legs_of_the_extension(tmp_path, change, final, final_dn,
                                                                                  final_type, want):
    path = tmp_path / "cdr.log"
    path.write_text(CX_ROW.format(n=1, change=change, final=final, final_dn=final_dn, final_type=final_type))
    [(_, e)], bad, counts = events(path, "3cx-csv")
    assert not bad
    if want is None:
        assert e.direction == "inbound" and not e.forwarded_from and not e.transferred_by
        return
    field, ext, number = want
    assert (e.direction, e.src, e.dst, e.trunk, getattr(e, field)) == ("outbound", ext, number, "10000", ext)


def test_a_3cx_forwarding_abroad_raises_forwarding_abuse(tmp_path):
    path = tmp_path / "cdr.log"
    path.write_text(CX_ROW.format(n=1, change="Fwd_Always", final="0037120000000", final_dn="10000",
                                  final_type="External"))
    out, _, rejects = replay_file([str(path)], Policy.from_yaml("home_country: FR\ninternational_prefix: ['00']\n"),
                                  fmt="3cx-csv")
    assert not rejects
    assert [a.subject for a in out if getattr(a, "rule", None) == "forwarding_abuse"] == ["610"]
