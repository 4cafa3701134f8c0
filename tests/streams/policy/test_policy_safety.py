"""Policies that cannot hurt: aliases, duplicate keys, backtracking patterns, and settings that disarm detection."""

import time

import pytest

from streams.reference.patterns import compile_patterns
from streams.policy import Policy, PolicyError
from tests.builders import GB, alerts, cdr, policy, run

BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_the_alias_bomb_is_refused_at_the_first_alias():
    with pytest.raises(PolicyError) as err:
        Policy.from_yaml(BOMB, "bomb.yaml")
    assert err.value.problems == ["bomb.yaml:2: not valid YAML: aliases (*name) are not accepted in a policy; "
                                  "write the value out"]


def test_a_merge_key_needs_an_alias_and_is_refused_too():
    with pytest.raises(PolicyError, match="aliases"):
        Policy.from_yaml("base: &b {daily_calls: 5}\ntenants:\n  a:\n    <<: *b\n")


def test_duplicate_keys_are_refused_with_both_lines():
    with pytest.raises(PolicyError) as err:
        Policy.from_yaml(GB + "daily_calls: 10\nextensions:\n  '1001': {international: true}\n  '1001': {daily_calls: 3}\n",
                         "dup.yaml")
    assert err.value.problems == ["dup.yaml:9: extensions.1001: given twice (first on line 8); YAML would keep only the last"]


def test_unquoted_off_means_off():
    pol = policy("rules:\n  call_frequency: {mode: off}")
    assert pol.tenant("default").rule("call_frequency").mode == "off"


def test_backtracking_patterns_are_matched_in_linear_time():
    rx = compile_patterns(["X.X.X.X.X.X.X.X.1", "00!"])
    assert rx.engine == "re2"
    t0 = time.perf_counter()
    assert not rx.match("9" * 256)
    assert rx.match("12345678123456781") and rx.match("0044") and not rx.match("1234567812345678")
    assert time.perf_counter() - t0 < 0.5  # the backtracking engine took ~19 s on one such number
    assert compile_patterns(["00!", "+44NXXXXXXXXX"]).engine == "re"  # one wildcard each: no blow-up possible


def test_a_blocked_pattern_with_many_wildcards_still_blocks():
    pol = policy("blocked_numbers: ['0044X.X.X!']\nextensions: {defaults: {international: true}}")
    assert pol.tenant("default").blocked.engine == "re2"
    out = run([cdr(dst="00442079460000", billsec=5), cdr(t=9, dst="9" * 200, billsec=5)], pol)
    assert [a.evidence["dst"] for a in alerts(out, "blocked_number")] == ["00442079460000"]


@pytest.mark.parametrize("extra, words", [
    ("rules: {" + ", ".join(f"{r}: {{mode: 'off'}}" for r in __import__("streams.domain.ruleids").domain.ruleids.RULE_IDS) + "}",
     "every rule is off"),
    ("lan: [0.0.0.0/0]", "4,294,967,296 public addresses"),
    ("static_defense: [{name: all, source: '::/0', action: accept}]", "public addresses"),
    ("call_frequency: {calls: 100000, seconds: 1}", "never fire"),
    ("login_lockout: {failures: 100000, seconds: 60}", "failed logins"),
    ("block_on_unverified_udp: true", "innocent address"),
])
def test_policies_that_disarm_detection_are_warned_about(extra, words):
    pol = Policy.from_yaml(GB + extra + "\n", "p.yaml")
    assert any(words in w for w in pol.warnings), pol.warnings
    assert all(w.startswith("p.yaml:") for w in pol.warnings)


def test_sane_policies_have_no_warnings():
    from pathlib import Path
    root = Path(__file__).resolve().parents[3]
    assert Policy.load(root / "fixtures" / "policy.example.yaml").warnings == []
    assert Policy.default().warnings == []


def test_a_tenant_is_warned_only_about_what_it_sets():
    pol = Policy.from_yaml(GB + "daily_calls: 900000\ntenants:\n  a: {timezone: UTC}\n  b: {daily_calls: 800000}\n")
    assert len(pol.warnings) == 2 and any("tenants.b.daily_calls" in w for w in pol.warnings)
