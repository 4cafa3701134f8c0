"""Backends plan argv lists (no shell) and requests; the command and webhook backends against real ones."""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from streams.services.enforce.backends.base import Refused
from streams.services.enforce.settings import Settings
from streams.services.enforce.steps import StepFailed

from .helpers import NOW, action


def backend(**raw):
    return Settings.parse({"backends": [raw]}).backends[0]


def test_nft_argv_with_and_without_timeout():
    fw = backend(name="fw", type="nftables", netns="tg-x")
    step, = fw.plan(action(duration_s=3600, ago=600), NOW + 3000.4, NOW)
    assert step.argv == ("ip", "netns", "exec", "tg-x", "nft", "add", "element", "inet", "tollguard", "blocked4",
                         "{", "203.0.113.9", "timeout", "3001s", "}")
    step, = fw.plan(action(target="2001:db8::1", duration_s=None), None, NOW)
    assert step.argv[-4:] == ("blocked6", "{", "2001:db8::1", "}") and "timeout" not in step.argv
    step, = fw.plan(action(kind="unblock", target="::ffff:203.0.113.9", duration_s=None), None, NOW)
    assert step.argv[4:] == ("nft", "delete", "element", "inet", "tollguard", "blocked4", "{", "203.0.113.9", "}")


@pytest.mark.parametrize("target", ["1.2.3.4; rm -rf /", "$(id)", "1.2.3.4 } ; flush ruleset", "example.com",
                                    "192.0.2.5"])
def test_nft_refuses_what_is_not_one_blockable_address(target):
    fw = backend(name="fw", type="nftables", never_block=["192.0.2.0/24"])
    with pytest.raises(Refused):
        fw.plan(action(target=target), None, NOW)


def test_ip_family_has_no_v6_set():
    fw = backend(name="fw", type="nftables", family="ip")
    with pytest.raises(Refused, match="IPv6"):
        fw.plan(action(target="2001:db8::1"), None, NOW)


def test_fail2ban_argv():
    f = backend(name="f", type="fail2ban", jail="asterisk", socket="/run/f.sock")
    assert f.plan(action(), None, NOW)[0].argv == ("fail2ban-client", "-s", "/run/f.sock", "set", "asterisk",
                                                   "banip", "203.0.113.9")
    assert f.plan(action(kind="unblock", duration_s=None), None, NOW)[0].argv[-2] == "unbanip"


RECORDER = "import json, sys; open(sys.argv[1], 'a').write(json.dumps(sys.argv[2:]) + '\\n')"


def test_command_backend_runs_a_real_process_with_hostile_values_as_single_arguments(tmp_path):
    out = tmp_path / "argv.jsonl"
    cmd = backend(name="pbx", type="command", kinds=["lock_account"],
                  argv=[sys.executable, "-c", RECORDER, str(out), "{kind}", "--", "{target}", "{remaining_s}",
                        "{tenant}", "{alert_id}", "{action_id}", "{duration_s}", "{{literal}}", "x{target}y"])
    hostile = "1001; rm -rf / $(id) `id` {kind} \"'"
    a = action(kind="lock_account", target=hostile, duration_s=600, action_id="a-1")
    for step in cmd.plan(a, a.until, NOW + 100):
        step.run()
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert got == [["lock_account", "--", hostile, "500", "acme", "alert-1", "a-1", "600", "{literal}",
                    f"x{hostile}y"]]


def test_command_failure_and_timeout_reported(tmp_path):
    fails = backend(name="c", type="command", kinds=["hangup_call"],
                    argv=[sys.executable, "-c", "import sys; print('no such call', file=sys.stderr); sys.exit(3)"])
    with pytest.raises(StepFailed, match="exited 3: no such call"):
        fails.plan(action(kind="hangup_call"), None, NOW)[0].run()
    slow = backend(name="c", type="command", kinds=["hangup_call"], timeout=0.3,
                   argv=[sys.executable, "-c", "import time; time.sleep(5)"])
    with pytest.raises(StepFailed, match="did not finish within 0.3 s"):
        slow.plan(action(kind="hangup_call"), None, NOW)[0].run()
    missing = backend(name="c", type="command", kinds=["hangup_call"], argv=["/nonexistent/prog"])
    with pytest.raises(StepFailed, match="no such program"):
        missing.plan(action(kind="hangup_call"), None, NOW)[0].run()


def test_command_does_not_pass_the_kafka_password(tmp_path, monkeypatch):
    monkeypatch.setenv("TOLLGUARD_SASL_PASSWORD", "hunter2")
    out = tmp_path / "env"
    cmd = backend(name="c", type="command", kinds=["hangup_call"],
                  argv=[sys.executable, "-c", "import os, sys; open(sys.argv[1], 'w').write(repr(dict(os.environ)))",
                        str(out)])
    cmd.plan(action(kind="hangup_call"), None, NOW)[0].run()
    assert "hunter2" not in out.read_text()


@pytest.fixture
def http_server():
    got, codes = [], []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.path, dict(self.headers), json.loads(body)))
            self.send_response(codes.pop(0) if codes else 204)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", got, codes
    srv.shutdown()
    srv.server_close()


def test_webhook_posts_json_to_a_real_server(http_server, tmp_path):
    url, got, codes = http_server
    tok = tmp_path / "tok"
    tok.write_text("s3cret")
    hook = backend(name="sbc", type="webhook", kinds=["block_number"], url=url + "/block",
                   headers={"X-Source": "tollguard"}, token_file=str(tok))
    a = action(kind="block_number", target="+882123456", duration_s=60, action_id="a-7")
    step, = hook.plan(a, a.until, NOW)
    assert "s3cret" not in step.describe() and '"Authorization": "***"' in step.describe()
    step.run()
    path, headers, body = got[0]
    assert path == "/block" and headers["Authorization"] == "Bearer s3cret" and headers["Idempotency-Key"] == "a-7"
    assert body["target"] == "+882123456" and body["remaining_s"] == 60 and body["kind"] == "block_number"
    codes.append(503)
    with pytest.raises(StepFailed, match="answered 503"):
        step.run()


def test_webhook_unreachable_is_a_failure():
    hook = backend(name="sbc", type="webhook", kinds=["block_number"], url="http://127.0.0.1:9/", timeout=1)
    with pytest.raises(StepFailed):
        hook.plan(action(kind="block_number", target="+1"), None, NOW)[0].run()
