"""What may be committed: the lowest offset a channel still holds, and what is finished above it."""

from __future__ import annotations

import json

from streams.services.notify import ledger as L

TP = ("t.incidents", 0)


def ref(o):
    return (*TP, o)


def test_commit_point_is_the_lowest_held_offset_and_metadata_lists_what_each_channel_finished():
    led = L.Ledger(["chat", "mail"])
    led.start(TP, 10, None)
    for o in range(10, 16):
        led.read(TP, o, ["chat", "mail"])
    for o in (10, 11, 13, 14, 15):
        led.release("chat", ref(o))       # 12 waits in chat's digest
    for o in range(10, 16):
        if o != 14:
            led.release("mail", ref(o))   # 14 is in mail's retry
    (offset, meta), = led.commits().values()
    assert offset == 12
    done = json.loads(meta)["done"]
    assert done == {"chat": [[13, 16]], "mail": [[12, 14], [15, 16]]}
    assert led.commits() == {}            # nothing changed since
    led.release("chat", ref(12))
    led.release("mail", ref(14))
    assert led.commits() == {TP: (16, json.dumps({"v": 1, "done": {}}, separators=(",", ":")))}


def test_a_restart_replays_what_an_earlier_run_finished_and_keeps_it_until_read_again():
    led = L.Ledger(["chat", "mail"])
    led.start(TP, 12, json.dumps({"v": 1, "done": {"chat": [[13, 16]], "mail": [[12, 14], [15, 16]]}}))
    assert led.read(TP, 12, ["chat", "mail"]) == {"chat": False, "mail": True}
    (offset, meta), = led.commits().values()
    assert offset == 12
    # the ranges not read again yet are carried into the new commit (a second crash loses nothing)
    assert json.loads(meta)["done"] == {"chat": [[13, 16]], "mail": [[13, 14], [15, 16]]}
    assert led.read(TP, 14, ["chat", "mail"]) == {"chat": True, "mail": False}


def test_foreign_or_broken_metadata_means_nothing_is_known_finished():
    assert L.parse("not json") == {} and L.parse('{"v": 9}') == {} and L.parse(None) == {}


def test_metadata_stays_under_the_broker_limit():
    done = {"chat": [[i * 3, i * 3 + 1] for i in range(2000)]}
    text = L.encode(done)
    assert len(text.encode()) <= L.MAX_METADATA
    assert json.loads(text)["done"]["chat"][0] == [0, 1]     # the lowest ranges are kept
