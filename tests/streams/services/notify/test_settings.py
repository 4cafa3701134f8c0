"""notify.yaml: errors name file and field and exit 2; secrets come from the environment and never reach a log."""

from __future__ import annotations

import io
import logging

import pytest

from streams.cli import main as cli
from streams.kafka.config import ConfigError
from streams.services.notify import secrets
from streams.services.notify.settings import load


def write(tmp_path, text: str):
    p = tmp_path / "notify.yaml"
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("text,says", [
    ("channels: []\n", "notify.yaml:1: channels: List should have at least 1 item"),
    ("channels:\n  - {name: mail, type: email, smtp: '127.0.0.1:25', to: [a@b]}\n", "channels[0] (mail).from: Field required"),
    ("channels:\n  - {name: x, type: syslog, address: '127.0.0.1:1', min_severity: loud}\n",
     "channels[0] (x).min_severity: Input should be"),
    ("channels:\n  - {name: x, type: syslog, address: 'nowhere'}\n", "channels[0] (x): Value error, must be host:port"),
    ("channels:\n  - {name: x, type: pager}\n", "channels[0] (x): Input tag 'pager'"),
    ("channels:\n  - {name: x, type: webhook, url: 'http://a/', colour: red}\n", "channels[0] (x).colour: Extra inputs"),
    ("channels:\n  - {name: x, type: webhook, url: 'http://a/'}\n  - {name: x, type: webhook, url: 'http://b/'}\n",
     "channel names must be unique: x"),
    ("channels:\n  - {name: x, type: webhook, url_env: NOT_SET_ANYWHERE}\n",
     "channels[0] (x).url_env: environment variable NOT_SET_ANYWHERE is not set"),
    ("channels:\n  - {name: x, type: webhook, url: 'http://h/${NOPE_VAR}'}\n", "channels[0].url: environment variable NOPE_VAR"),
    ("channels: [\n", "notify.yaml:2: not valid YAML"),
    ("- a\n", "must be a mapping"),
])
def test_bad_config_exits_2_naming_file_and_field(tmp_path, capsys, monkeypatch, text, says):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    path = write(tmp_path, text)
    assert cli(["notify", "--config", path]) == 2
    err = capsys.readouterr().err
    assert says in err, err
    assert path in err


def test_missing_file_exits_2(tmp_path, capsys):
    assert cli(["notify", "--config", str(tmp_path / "nope.yaml")]) == 2


def test_secrets_from_env_and_expansion(tmp_path):
    path = write(tmp_path, """
channels:
  - {name: chat, type: webhook, url_env: HOOK, headers: {Authorization: "Bearer ${TOKEN}"}}
  - {name: mail, type: email, smtp: "127.0.0.1:25", from: a@b, to: [c@d], username: bob, password_env: PW}
  - {name: ap, type: apprise, urls_env: AP_URLS}
""")
    env = {"HOOK": "https://hooks.example/T0/B0/sekrit", "TOKEN": "tok-123456", "PW": "hunter22",
           "AP_URLS": "json://127.0.0.1:9/a?k=zzzz9999, json://127.0.0.1:9/b"}
    loaded = load(path, env)
    assert loaded.secrets["chat"] == {"url": env["HOOK"], "headers": {"Authorization": "Bearer tok-123456"}}
    assert loaded.secrets["mail"]["password"] == "hunter22"
    assert loaded.secrets["ap"]["urls"] == ["json://127.0.0.1:9/a?k=zzzz9999", "json://127.0.0.1:9/b"]
    said = loaded.redactor(f"POST {env['HOOK']} failed; auth Bearer tok-123456, pw hunter22, "
                           "json://127.0.0.1:9/a?k=zzzz9999 and smtp://bob:pw@mail.example")
    for secret in ("sekrit", "tok-123456", "hunter22", "zzzz9999", "bob:pw"):
        assert secret not in said
    assert "***" in said


def test_password_env_needs_username(tmp_path):
    path = write(tmp_path, "channels:\n  - {name: m, type: email, smtp: 'h:25', from: a@b, to: [c@d], password_env: PW}\n")
    with pytest.raises(ConfigError, match=r"channels\[0\] \(m\): Value error, password_env needs username"):
        load(path, {"PW": "x"})


def test_every_log_line_is_redacted_even_tracebacks_and_json(tmp_path):
    r = secrets.Redactor()
    r.add("hunter22")
    for fmt in ("text", "json"):
        buf = io.StringIO()
        from streams.kafka.observe import setup_logging
        setup_logging(fmt, "INFO", stream=buf)
        secrets.install(r)
        log = logging.getLogger("tollguard.notify.test")
        log.warning("login as %s failed", "hunter22")
        try:
            raise RuntimeError("password hunter22 refused")
        except RuntimeError:
            log.exception("boom")
        out = buf.getvalue()
        assert "hunter22" not in out and out.count("***") >= 2, out
        assert "RuntimeError" in out
    setup_logging("text", "WARNING")


def test_the_example_file_is_valid():
    from pathlib import Path
    path = Path(__file__).resolve().parents[4] / "fixtures" / "notify.example.yaml"
    loaded = load(str(path), {"SOC_HOOK_URL": "https://h/x", "SMTP_PASSWORD": "pw12", "PAGER_URLS": "ntfy://topic"})
    assert [c.type for c in loaded.channels] == ["webhook", "email", "syslog", "apprise"]


# --- notify.yaml is read like every operator file (streams.policy.yamlfile): no aliases, no key twice ---

LAUGHS = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9))


def test_aliases_are_refused_with_file_and_line(tmp_path, capsys):
    """A small "billion laughs" (9**8 strings if expanded): refused at its first alias, before any expansion."""
    path = write(tmp_path, "channels:\n  - {name: x, type: webhook, url: 'http://a/'}\nl0: &l0 x\n" + LAUGHS)
    with pytest.raises(ConfigError) as exc:
        load(path, {})
    assert f"{path}:4:" in str(exc.value) and "aliases" in str(exc.value)
    assert cli(["notify", "--config", path]) == 2
    assert f"{path}:4:" in capsys.readouterr().err


def test_an_alias_reusing_a_channel_is_refused(tmp_path):
    path = write(tmp_path, "x: &hook {name: a, type: webhook, url: 'http://a/'}\nchannels:\n  - *hook\n")
    with pytest.raises(ConfigError, match=rf"{path}:3: .*aliases"):
        load(path, {})


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path):
    """YAML keeps the last ``min_severity`` silently: the operator's ``critical`` filter would vanish."""
    path = write(tmp_path, "channels:\n  - name: chat\n    type: webhook\n    url: 'http://a/'\n"
                           "    min_severity: critical\n    min_severity: information\n")
    with pytest.raises(ConfigError) as exc:
        load(path, {})
    assert f"{path}:6: channels.0.min_severity: given twice (first on line 5)" in str(exc.value)


def test_a_field_error_names_its_line(tmp_path):
    path = write(tmp_path, "channels:\n  - name: chat\n    type: webhook\n    url: 'http://a/'\n    colour: red\n")
    with pytest.raises(ConfigError, match=rf"{path}:5: channels\[0\] \(chat\)\.colour: Extra inputs"):
        load(path, {})
