"""The HTTP shell of the verdict, in-process (the Kafka half is tested against the broker in tests/kafka)."""

import asyncio
import json

from aiohttp.test_utils import TestClient, TestServer

from streams.services.verdict.judge import Judge
from streams.services.verdict.live import LiveBlocks
from streams.services.verdict.service import make_app
from tests.builders import policy

POL = policy()


class NotReady:
    """A live feed that has not caught up (its state, not a broker stand-in: nothing here is consumed)."""
    ready = False
    problem = "still reading"
    bad = 0
    blocks = LiveBlocks()

    async def run(self):
        await asyncio.sleep(3600)


def ask(app, path, **q):
    async def go():
        async with TestClient(TestServer(app)) as c:
            r = await c.get(path, params=q)
            return r.status, dict(r.headers), await r.json()
    return asyncio.run(go())


def test_answers_in_json_and_headers():
    status, headers, body = ask(make_app(Judge(POL), None), "/v1/verdict", src="1001", dst="09098790000")
    assert status == 200 and body["verdict"] == "deny" and body["sip_code"] == 603 and body["rule"] == "premium_rate"
    assert headers["X-Verdict"] == "deny" and headers["X-Sip-Code"] == "603"
    status, _, body = ask(make_app(Judge(POL), None), "/v1/verdict", src="1001", dst="02071838750")
    assert body["verdict"] == "allow" and body["sip_code"] == 200


def test_a_malformed_request_is_a_400_that_names_the_field():
    status, _, body = ask(make_app(Judge(POL), None), "/v1/verdict", dst="02071838750")
    assert status == 400 and "src" in body["error"]
    status, _, body = ask(make_app(Judge(POL), None), "/v1/verdict", src="1", dst="2", ip="999.1.1.1")
    assert status == 400 and "ip" in body["error"]


def test_fail_open_and_closed_while_the_live_blocks_are_unknown():
    _, _, body = ask(make_app(Judge(POL, LiveBlocks()), NotReady(), "open"), "/v1/verdict", src="1001", dst="02071838750")
    assert body["verdict"] == "allow" and body["source"] == "failure" and "failing open" in body["reason"]
    _, _, body = ask(make_app(Judge(POL, LiveBlocks()), NotReady(), "open"), "/v1/verdict", src="1001", dst="09098790000")
    assert body["verdict"] == "deny" and body["rule"] == "premium_rate"  # the rules still apply
    _, _, body = ask(make_app(Judge(POL, LiveBlocks()), NotReady(), "closed"), "/v1/verdict", src="1001", dst="02071838750")
    assert body["verdict"] == "deny" and body["sip_code"] == 503
    status, _, health = ask(make_app(Judge(POL, LiveBlocks()), NotReady(), "closed"), "/health")
    assert status == 503 and health["live"] == "unknown"


def test_metrics_count_verdicts():
    async def go():
        app = make_app(Judge(POL), None)
        async with TestClient(TestServer(app)) as c:
            for dst in ("09098790000", "02071838750", "02071838751"):
                await (await c.get("/v1/verdict", params={"src": "1001", "dst": dst})).read()
            return await (await c.get("/metrics")).text()
    text = asyncio.run(go())
    assert 'tollguard_verdicts_total{source="rules",verdict="allow"} 2.0' in text
    assert 'tollguard_verdicts_total{source="rules",verdict="deny"} 1.0' in text


TOKEN = "k3y-" + "x" * 40


def call(app, path, headers=None, **q):
    async def go():
        async with TestClient(TestServer(app)) as c:
            r = await c.get(path, params=q, headers=headers or {})
            text = await r.text()
            return r.status, dict(r.headers), text
    return asyncio.run(go())


def test_without_the_token_the_verdict_and_the_metrics_answer_401():
    app = lambda: make_app(Judge(POL), None, token=TOKEN)  # noqa: E731
    for headers in (None, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                    {"Authorization": f"Basic {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}x"}):
        for path in ("/v1/verdict", "/metrics"):
            status, _, text = call(app(), path, headers, src="1001", dst="09098790000")
            assert status == 401 and "premium" not in text and "tollguard_" not in text, (path, headers)
    good = {"Authorization": f"Bearer {TOKEN}"}
    status, headers, text = call(app(), "/v1/verdict", good, src="1001", dst="09098790000")
    assert status == 200 and headers["X-Verdict"] == "deny"
    status, _, text = call(app(), "/metrics", good)
    assert status == 200 and 'tollguard_verdict_unauthorized_total' in text


def test_health_reveals_nothing_of_any_tenant_without_the_token():
    live = LiveBlocks()
    status, _, text = call(make_app(Judge(POL, live), NotReady(), "closed", token=TOKEN), "/health")
    assert status == 503 and json.loads(text) == {"service": "verdict", "live": "unknown"}
    status, _, text = call(make_app(Judge(POL, live), NotReady(), "closed", token=TOKEN), "/health",
                           {"Authorization": f"Bearer {TOKEN}"})
    assert json.loads(text)["problem"] == "still reading"


class Broken(Judge):
    """A judge with a bug: the fault is raised where a real one would be (inside the judging)."""

    def _rules(self, call):
        raise KeyError("a bug")


def test_an_exception_never_allows_silently_it_fails_as_configured_and_is_counted():
    async def go(app):
        async with TestClient(TestServer(app)) as c:
            body = await (await c.get("/v1/verdict", params={"src": "1001", "dst": "02071838750"})).json()
            return body, await (await c.get("/metrics")).text()
    body, text = asyncio.run(go(make_app(Broken(POL), None)))  # the default
    assert (body["verdict"], body["sip_code"], body["source"]) == ("deny", 503, "failure")
    assert 'tollguard_verdict_errors_total{kind="KeyError"} 1.0' in text
    body, text = asyncio.run(go(make_app(Broken(POL), None, "open")))
    assert body["verdict"] == "allow" and "failing open" in body["reason"] and body["fail"] == "open"
    assert 'tollguard_verdict_errors_total{kind="KeyError"} 1.0' in text


def test_junk_is_a_400_that_also_says_deny():
    """A proxy that reads only the verdict (or only X-Verdict) refuses the call; nothing in it says allow."""
    status, headers, text = call(make_app(Judge(POL), None), "/v1/verdict", src="1001", dst="%2530%2539098790000")
    body = json.loads(text)
    assert status == 400 and body["verdict"] == "deny" and body["sip_code"] == 400 and "twice" in body["error"]
    assert headers["X-Verdict"] == "deny"


def _serve(*args, timeout=30):
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "verdict", "--no-live", "--port", str(port), *args],
                            cwd=Path(__file__).resolve().parents[4], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    return proc, port


def test_without_a_token_file_it_will_not_listen_beyond_loopback():
    proc, _ = _serve("--host", "0.0.0.0")
    try:
        out, err = proc.communicate(timeout=20)
    except Exception:
        proc.kill()
        raise AssertionError("verdict listened on 0.0.0.0 with no token")
    assert proc.returncode == 2 and "--token-file" in err and len(err.strip().splitlines()) == 1


def test_the_running_service_refuses_a_request_without_the_token(tmp_path):
    import os
    import urllib.error
    import urllib.request
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    os.chmod(secret, 0o644)
    (tmp_path / "policy.yaml").write_text("home_country: GB\nnational_prefix: '0'\ninternational_prefix: ['00']\n")
    proc, port = _serve("--host", "0.0.0.0", "--token-file", str(secret), "--policy", str(tmp_path / "policy.yaml"))
    url = f"http://127.0.0.1:{port}/v1/verdict?src=1001&dst=09098790000"
    try:
        try:
            urllib.request.urlopen(url, timeout=5)
            raise AssertionError("answered without the token")
        except urllib.error.HTTPError as e:
            assert e.code == 401
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert json.loads(urllib.request.urlopen(req, timeout=5).read())["rule"] == "premium_rate"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "readable by every user" in err


def test_an_empty_token_file_is_refused_at_start(tmp_path):
    (tmp_path / "token").write_text("\n")
    proc, _ = _serve("--token-file", str(tmp_path / "token"))
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2 and f"{tmp_path / 'token'}:1: the token file is empty" in err
