"""The HTTP shell of the verdict, in-process (the Kafka half is tested against the broker in tests/kafka)."""

import asyncio

from aiohttp.test_utils import TestClient, TestServer

from streams.verdict.judge import Judge
from streams.verdict.live import LiveBlocks
from streams.verdict.service import make_app
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
