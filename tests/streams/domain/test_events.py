import json
import re
from pathlib import Path

import jsonschema
import pytest

from streams.domain.events import Cdr, EventError, SecurityEvent, decode_event, schemas

ROOT = Path(__file__).resolve().parents[3]


def readme_examples() -> list[dict]:
    """Every ```json block of the README that holds an event or an output record."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    out = []
    for b in blocks:
        for line in b.strip().splitlines():
            out.append(json.loads(line))
    return out


def test_committed_schemas_match_the_structs():
    for name, schema in schemas().items():
        committed = json.loads((ROOT / "streams" / "schemas" / f"{name}.schema.json").read_text())
        assert committed == json.loads(json.dumps(schema)), f"run `make schema`: {name} schema is stale"


def test_readme_examples_validate_against_the_schemas_and_decode():
    docs = schemas()
    examples = readme_examples()
    kinds = {e["type"] for e in examples}
    assert {"cdr", "security", "alert", "action"} <= kinds
    for ex in examples:
        jsonschema.validate(ex, docs[ex["type"]])
        if ex["type"] in ("cdr", "security"):
            decode_event(json.dumps(ex))


def test_unknown_fields_are_accepted():
    ev = decode_event(b'{"type":"cdr","call_id":"1","start":"2026-01-01T10:00:00+01:00","src":"1001","dst":"112","x-carrier":"acme"}')
    assert isinstance(ev, Cdr) and ev.start.utcoffset().total_seconds() == 3600


@pytest.mark.parametrize("raw,reason", [
    (b"{", "not valid JSON"),
    (b"[]", "Expected `object`"),
    (b'{"type":"fax"}', "expected \"type\": \"cdr\" or \"security\""),
    (b'{"call_id":"1"}', "required field `type`"),
    (b'{"type":"cdr","start":"2026-01-01T10:00:00Z","src":"1","dst":"2"}', "required field `call_id`"),
    (b'{"type":"cdr","call_id":"1","start":"2026-01-01T10:00:00","src":"1","dst":"2"}', "timezone"),
    (b'{"type":"cdr","call_id":"1","start":"yesterday","src":"1","dst":"2"}', "$.start"),
    (b'{"type":"cdr","call_id":1,"start":"2026-01-01T10:00:00Z","src":"1","dst":"2"}', "$.call_id"),
    (b'{"type":"cdr","call_id":"1","start":"2026-01-01T10:00:00Z","src":"1","dst":"2","duration":-3}', "$.duration"),
    (b'{"type":"cdr","call_id":"1","start":"2026-01-01T10:00:00Z","end":"2026-01-01T09:00:00Z","src":"1","dst":"2"}', "before"),
    (b'{"type":"security","ts":"2026-01-01T10:00:00Z","service":"sip","src_ip":"999.1.1.1","outcome":"failure"}', "not an IP"),
    (b'{"type":"security","ts":"2026-01-01T10:00:00Z","service":"sip","src_ip":"1.1.1.1","outcome":"maybe"}', "$.outcome"),
    (b'{"type":"security","ts":"2026-01-01T10:00:00Z","service":"sip","src_ip":"1.1.1.1","outcome":"failure","port":70000}', "$.port"),
])
def test_malformed_events_have_precise_reasons(raw, reason):
    with pytest.raises(EventError) as exc:
        decode_event(raw)
    assert reason in exc.value.reason


def test_huge_values_are_refused():
    raw = json.dumps({"type": "cdr", "call_id": "x" * 10_000, "start": "2026-01-01T10:00:00Z", "src": "1", "dst": "2"})
    with pytest.raises(EventError, match="length"):
        decode_event(raw)


def test_security_event_defaults():
    ev = decode_event(b'{"type":"security","ts":"2026-01-01T10:00:00Z","service":"web","src_ip":"2001:db8::1","outcome":"request"}')
    assert isinstance(ev, SecurityEvent) and ev.tenant == "default" and ev.account is None


def test_batch_records_split_into_events_and_refuse_what_is_not_an_array():
    from streams.domain.events import EventError, is_batch, split_batch
    raw = b' [{"type":"cdr","a":[1,2]}, {"x":1}]'
    assert is_batch(raw) and not is_batch(b'{"type":"cdr"}')
    assert split_batch(raw) == [b'{"type":"cdr","a":[1,2]}', b'{"x":1}']
    assert split_batch(b"[]") == []
    with pytest.raises(EventError, match="not a JSON array"):
        split_batch(b'[{"type":')
    with pytest.raises(EventError, match="not a JSON array"):
        split_batch(b'["a", ')


def test_an_oversized_event_is_refused_with_its_size():
    from streams.domain.events import MAX_EVENT_BYTES, EventError, decode_event
    big = b'{"type":"security","ts":"2026-12-01T10:00:00Z","service":"sip","src_ip":"1.2.3.4","outcome":"failure",' \
          b'"note":"' + b"x" * MAX_EVENT_BYTES + b'"}'
    with pytest.raises(EventError, match=f"at most {MAX_EVENT_BYTES}"):
        decode_event(big)


def test_deeply_nested_input_is_refused_not_a_crash():
    from streams.domain.events import EventError, decode_event, split_batch
    deep = b"[" * 5000 + b"]" * 5000
    with pytest.raises(EventError, match="not a JSON array"):
        split_batch(deep)
    with pytest.raises(EventError):
        decode_event(b'{"type":"cdr","x":' + deep + b"}")


def test_timestamps_out_of_range_are_refused_with_the_field():
    far = {"type": "cdr", "call_id": "x", "start": "9999-12-31T23:00:00Z", "src": "1", "dst": "2", "duration": 7200}
    with pytest.raises(EventError, match="`start` is out of range"):
        decode_event(json.dumps(far))
    old = {"type": "security", "ts": "1900-01-01T00:00:00Z", "service": "sip", "src_ip": "1.2.3.4", "outcome": "failure"}
    with pytest.raises(EventError, match="`ts` is out of range"):
        decode_event(json.dumps(old))


def test_event_time_and_identity():
    from streams.domain.events import event_ident, event_time
    c = decode_event(json.dumps({"type": "cdr", "call_id": "k", "start": "2026-03-04T10:00:00Z", "src": "1",
                                 "dst": "2", "duration": 60}))
    assert event_time(c) == c.start.timestamp() + 60
    again = decode_event(json.dumps({"type": "cdr", "call_id": "k", "start": "2026-03-04T10:00:00Z", "src": "1",
                                     "dst": "2", "phase": "start"}))
    assert event_ident(c) == event_ident(again)  # one call, one identity, whichever event reports it
    s1 = decode_event(b'{"type":"security","ts":"2026-03-04T10:00:00Z","service":"sip","src_ip":"1.2.3.4","outcome":"failure"}')
    s2 = decode_event(b'{"type":"security","ts":"2026-03-04T10:00:01Z","service":"sip","src_ip":"1.2.3.4","outcome":"failure"}')
    assert event_ident(s1) != event_ident(s2)


def test_ipv4_mapped_ipv6_is_the_ipv4_address_everywhere():
    import json

    from streams.domain.events import decode_checked, decode_event, decode_event_bytes, parse_ip
    from tests.builders import alerts, policy, run, sec
    assert str(parse_ip("::ffff:10.0.0.1")) == "10.0.0.1"
    raw = json.dumps(sec(ip="::FFFF:10.0.0.1")).encode()
    assert decode_event(raw).src_ip == "10.0.0.1" == decode_checked(decode_event_bytes(raw)[1]).src_ip
    assert decode_event(json.dumps(sec(ip="2001:DB8:0:0::1")).encode()).src_ip == "2001:db8::1"
    # a LAN phone seen through a dual-stack socket is not a remote brute force to block for a week
    evs = [sec(t=i, ip="::ffff:10.0.0.1", action="register", account="1001", user_agent="friendly-scanner")
           for i in range(12)]
    out = run(evs, policy())
    assert not [a for a in out if a.__class__.__name__ == "Action" and a.kind == "block_ip"]
    # and two spellings of one remote address are one source
    mixed = [sec(t=i, ip="::ffff:203.0.113.9" if i % 2 else "203.0.113.9", action="register", account="1001")
             for i in range(10)]
    assert len(alerts(run(mixed), "registration_lockout")) == 1
