"""enforce.yaml: what is accepted, and each mistake named."""

from pathlib import Path

import pytest

from streams.kafka.config import ConfigError
from streams.services.enforce.settings import Settings

ROOT = Path(__file__).resolve().parents[4]


def parse(*backends, **top):
    return Settings.parse({"backends": list(backends), **top})


def test_example_file_parses():
    s = Settings.load(str(ROOT / "fixtures" / "enforce.example.yaml"))
    assert [b.TYPE for b in s.backends] == ["nftables", "fail2ban", "command", "webhook"]


def test_defaults_for_nftables_and_fail2ban_kinds():
    s = parse({"name": "fw", "type": "nftables"}, {"name": "f2b", "type": "fail2ban", "jail": "asterisk"})
    assert [b.kinds for b in s.backends] == [("block_ip", "unblock"), ("block_ip", "unblock")]
    fw = s.backends[0]
    assert (fw.family, fw.table, fw.sets, fw.create) == ("inet", "tollguard", {4: "blocked4", 6: "blocked6"}, False)


def test_retry_inherited_and_overridden():
    s = parse({"name": "a", "type": "nftables"}, {"name": "b", "type": "nftables", "retry": {"attempts": 2}},
              retry={"attempts": 5, "backoff_s": 0.5})
    assert (s.backends[0].retry.attempts, s.backends[0].retry.backoff_s) == (5, 0.5)
    assert (s.backends[1].retry.attempts, s.backends[1].retry.backoff_s) == (2, 0.5)


@pytest.mark.parametrize("backend, says", [
    ({"name": "x", "type": "iptables"}, "`type` must be one of"),
    ({"name": "x y", "type": "nftables"}, "`name` must be"),
    ({"type": "nftables"}, "`name` is required"),
    ({"name": "x", "type": "nftables", "tabel": "t"}, "unknown option(s) tabel"),
    ({"name": "x", "type": "nftables", "table": "t; flush ruleset"}, "nft identifier"),
    ({"name": "x", "type": "nftables", "family": "arp"}, "`family` must be one of"),
    ({"name": "x", "type": "nftables", "kinds": ["block_ip", "nuke"]}, "unknown kind(s) 'nuke'"),
    ({"name": "x", "type": "nftables", "never_block": ["10.0.0.0/33"]}, "not an address or network"),
    ({"name": "x", "type": "fail2ban"}, "`jail` is required"),
    ({"name": "x", "type": "command", "argv": ["/bin/true"]}, "needs `kinds`"),
    ({"name": "x", "type": "command", "kinds": ["hangup_call"], "argv": []}, "non-empty list"),
    ({"name": "x", "type": "command", "kinds": ["hangup_call"], "argv": ["/bin/x", "{target.__class__}"]},
     "placeholders are"),
    ({"name": "x", "type": "command", "kinds": ["hangup_call"], "argv": ["/bin/x", "{nope}"]}, "placeholders are"),
    ({"name": "x", "type": "webhook", "kinds": ["block_number"], "url": "ftp://h/"}, "http:// or https://"),
    ({"name": "x", "type": "webhook", "kinds": ["block_number"], "url": "http://h/", "timeout": "5"}, "`timeout` must be float"),
    ({"name": "x", "type": "nftables", "retry": {"attempts": 0}}, "attempts must be ≥ 1"),
])
def test_mistakes_are_named(backend, says):
    with pytest.raises(ConfigError) as e:
        parse(backend)
    assert says in str(e.value)


def test_top_level_mistakes(tmp_path):
    with pytest.raises(ConfigError, match="non-empty list"):
        Settings.parse({"backends": []})
    with pytest.raises(ConfigError, match="unknown key"):
        Settings.parse({"backends": [{"name": "a", "type": "nftables"}], "backend": []})
    with pytest.raises(ConfigError, match="unique: a"):
        parse({"name": "a", "type": "nftables"}, {"name": "a", "type": "fail2ban", "jail": "j"})
    bad = tmp_path / "e.yaml"
    bad.write_text("backends: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        Settings.load(str(bad))
    with pytest.raises(ConfigError, match="cannot read"):
        Settings.load(str(tmp_path / "missing.yaml"))


def test_token_file_read_and_hidden(tmp_path):
    tok = tmp_path / "tok"
    tok.write_text("s3cret\n")
    s = parse({"name": "w", "type": "webhook", "kinds": ["block_number"], "url": "http://h/", "token_file": str(tok)})
    assert s.backends[0].headers["Authorization"] == "Bearer s3cret"


ALIAS_BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
backends:
  - {name: fw, type: nftables, kinds: *d}
"""


def test_aliases_are_refused_with_file_and_line(tmp_path):
    """Issue 25.6: an alias bomb is refused before it expands, naming the line of the first alias."""
    f = tmp_path / "enforce.yaml"
    f.write_text(ALIAS_BOMB)
    with pytest.raises(ConfigError, match=rf"{f}:2: .*aliases"):
        Settings.load(str(f))


def test_a_key_given_twice_is_refused_with_file_and_line(tmp_path):
    """Issue 25.6: YAML would keep the second `never_block` silently, dropping the operator's LAN."""
    f = tmp_path / "enforce.yaml"
    f.write_text("never_block: [192.0.2.0/24]\nbackends:\n  - {name: fw, type: nftables}\n"
                 "never_block: [198.51.100.0/24]\n")
    with pytest.raises(ConfigError, match=rf"{f}:4: never_block: given twice \(first on line 1\)"):
        Settings.load(str(f))
    f.write_text("backends:\n  - name: fw\n    type: nftables\n    name: fw2\n")
    with pytest.raises(ConfigError, match=rf"{f}:4: backends.0.name: given twice"):
        Settings.load(str(f))


def test_a_backend_mistake_names_its_line(tmp_path):
    f = tmp_path / "enforce.yaml"
    f.write_text("retry: {attempts: 2}\nbackends:\n  - {name: ok, type: nftables}\n  - name: fw\n"
                 "    type: nftables\n    tabel: t\n")
    with pytest.raises(ConfigError, match=rf"{f}:4: backend 'fw': unknown option\(s\) tabel"):
        Settings.load(str(f))


@pytest.mark.parametrize("top, says", [
    ({"never_block": ["10.0.0.0/33"]}, "`never_block` holds '10.0.0.0/33'"),
    ({"never_block": "10.0.0.0/8"}, "`never_block` must be a list"),
    ({"unsafe_allow_block": ["203.0.113.0/24"]}, "not inside a default never-block network"),
])
def test_never_block_mistakes_are_named(top, says):
    with pytest.raises(ConfigError) as e:
        parse({"name": "fw", "type": "nftables"}, **top)
    assert says in str(e.value)
