"""tollguard blocks: the fold of the actions topic (block, expire, unblock, duplicates) and its output."""

import io
import json
from types import SimpleNamespace

from streams.services.enforce.blocks import active, fold, show

from .helpers import NOW, rec


def args(**kw):
    return SimpleNamespace(**{"tenant": None, "all": False, "format": "table", **kw})


def test_block_expire_unblock():
    records = [rec(target="198.51.100.1", duration_s=600),                # active
               rec(target="198.51.100.2", duration_s=600, ago=3600),      # expired by the wall clock
               rec(target="198.51.100.3", duration_s=None),               # lifted below
               rec(kind="unblock", target="198.51.100.3", duration_s=None, reason="SOC: our own SBC"),
               rec(target="198.51.100.4", duration_s=None, tenant="other"),  # other tenant's unblock does not lift
               rec(kind="unblock", target="198.51.100.4", duration_s=None),
               rec(kind="hangup_call", target="call-1", duration_s=None),  # not a block
               b"not json", json.dumps({"type": "action", "kind": "nuke"}).encode()]
    blocks, bad = fold([json.dumps(r).encode() if isinstance(r, dict) else r for r in records], NOW)
    assert bad == 2
    assert {b.target: b.status for b in blocks} == {"198.51.100.1": "active", "198.51.100.2": "expired",
                                                    "198.51.100.3": "lifted", "198.51.100.4": "active"}
    assert [b.lifted_by for b in blocks if b.status == "lifted"] == ["SOC: our own SBC"]
    assert [b.target for b in active(blocks)] == ["198.51.100.1", "198.51.100.4"]


def test_block_after_unblock_stands_and_duplicates_count_once():
    first = rec(duration_s=60)
    blocks, _ = fold([first, first, rec(kind="unblock", duration_s=None), rec(duration_s=120)], NOW)
    assert [b.status for b in blocks] == ["lifted", "active"]
    assert active(blocks)[0].until == NOW + 120


def test_longest_block_per_target_is_shown():
    blocks, _ = fold([rec(duration_s=86400), rec(duration_s=60), rec(duration_s=3600)], NOW)
    assert [b.until for b in active(blocks)] == [NOW + 86400]
    blocks, _ = fold([rec(duration_s=60), rec(duration_s=None)], NOW)
    assert [b.until for b in active(blocks)] == [None]


def test_table_escapes_and_jsonl_and_filters():
    hostile = rec(kind="lock_account", target="1001$(id)", duration_s=None,
                  reason="ua \u202e\x1b[2J\nforged row")
    blocks, _ = fold([hostile, rec(tenant="beta", duration_s=600)], NOW)
    out = io.StringIO()
    assert show(blocks, args(), NOW, out) == 2
    text = out.getvalue()
    assert "\x1b" not in text and "\u202e" not in text and len(text.splitlines()) == 3
    assert "ua \\u202e\\x1b[2J\\nforged row" in text and "1001$(id)" in text and "until lifted" in text and "0h10m00s" in text
    out = io.StringIO()
    assert show(blocks, args(tenant=["beta"], format="jsonl"), NOW, out) == 1
    row = json.loads(out.getvalue())
    assert row["tenant"] == "beta" and row["expires"] and row["until"] == NOW + 600 and row["status"] == "active"


def test_all_shows_expired_and_lifted_with_status():
    blocks, _ = fold([rec(duration_s=60, ago=120), rec(target="198.51.100.9", duration_s=None),
                      rec(kind="unblock", target="198.51.100.9", duration_s=None, reason="false positive")], NOW)
    out = io.StringIO()
    show(blocks, args(all=True), NOW, out)
    text = out.getvalue()
    assert "STATUS" in text and "expired" in text and "lifted" in text and "[lifted: false positive]" in text
