"""The verdict over HTTP, for an SBC or SIP proxy at call setup (docs/verdict.md).

    GET /v1/verdict?tenant=T&src=EXT&dst=NUMBER&ip=ADDR[&trunk=&route=]   Authorization: Bearer <token>
    -> 200 {"verdict": "allow"|"deny", "sip_code": 200|403|603|503, "reason": ..., "rule": ..., "fail": ...}
       400 {"error": ..., "verdict": "deny", "sip_code": 400} when a field is missing or malformed, or the
           number is not a dial string: junk is refused, never allowed
       401 without the token (``--token-file``); without one the service listens on loopback only

The answer is also in the headers ``X-Verdict`` and ``X-Sip-Code``, for a proxy that does not read JSON.
``GET /health`` says whether the live blocks are current (the details only with the token);
``GET /metrics`` (token) counts verdicts, failures by exception, refused tokens, and the time taken.

With Kafka (the default), a background task reads ``<prefix>.actions`` from its start and keeps
reading, so a block the worker or the SOC publishes is honoured within a poll. Until the topic has
been read to where it ended at start-up (the broker unreachable, the topic missing), the live half is
unknown, and ``--fail`` decides: ``closed`` (default) refuses with SIP 503, ``open`` allows what the
rules allow. An exception while judging answers the same way, logged and counted.
A broker lost after that leaves the blocks known so far in force while the client reconnects.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import stat
import sys
import time
from pathlib import Path

from aiohttp import web

from streams.services.enforce.action import BadAction, parse
from streams.kafka.observe import Metrics
from streams.services.verdict.judge import BadRequest, Judge, Verdict
from streams.services.verdict.live import LiveBlocks

log = logging.getLogger("tollguard.verdict")


class LiveFeed:
    """Reads the actions topic into :class:`LiveBlocks` (``ready`` once caught up with start-up's end)."""

    def __init__(self, config, blocks: LiveBlocks):
        self.config, self.blocks = config, blocks
        self.ready = False
        self.problem: str | None = "not started"
        self.bad = 0

    async def run(self) -> None:
        from aiokafka import AIOKafkaConsumer
        from streams.kafka.connect import aiokafka_kwargs
        topic = self.config.actions
        from streams.kafka.connect import KafkaProblem
        from streams.kafka.topics import ensure_read
        try:  # created with its settings before the subscription (a broker would make it with one partition)
            await asyncio.get_running_loop().run_in_executor(None, ensure_read, self.config, [topic])
        except KafkaProblem as exc:
            log.warning("verdict: %s", exc)  # the loop below retries and reports
        while True:
            # subscribed without a group: every partition of the topic, from its start, found as soon as it exists
            consumer = AIOKafkaConsumer(topic, **aiokafka_kwargs(self.config), enable_auto_commit=False,
                                        group_id=None, auto_offset_reset="earliest", metadata_max_age_ms=5000)
            try:
                await consumer.start()
                ends: dict | None = None
                while True:
                    tps = consumer.assignment()
                    if not tps:
                        self.problem = f"{topic} does not exist yet (no worker has run)"
                    elif ends is None:
                        ends = await consumer.end_offsets(list(tps))  # where it ended at start-up
                    if tps and ends is not None and not self.ready:
                        if all([await consumer.position(tp) >= ends.get(tp, 0) for tp in tps]):
                            self.ready, self.problem = True, None
                            log.info("verdict: live blocks current (%d actions read from %s)",
                                        self.blocks.applied, topic)
                    batch = await consumer.getmany(timeout_ms=200)
                    for records in batch.values():
                        for rec in records:
                            try:
                                self.blocks.apply(parse(rec.value))
                            except BadAction:
                                self.bad += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker went away: the live half is unknown until it is back
                self.ready, self.problem = False, f"cannot read {topic}: {exc!r}"[:300]
                log.warning("verdict: %s; retrying in 5 s", self.problem)
                await asyncio.sleep(5)
            finally:
                await consumer.stop()


def make_app(judge: Judge, feed: LiveFeed | None, fail: str = "closed", metrics: Metrics | None = None,
             token: str | None = None) -> web.Application:
    """The HTTP shell; with ``token``, /v1/verdict and /metrics answer 401 without ``Authorization: Bearer <token>``."""
    metrics = metrics or Metrics("verdict")
    served = metrics.counter("tollguard_verdicts_total", "Verdicts given.", ("verdict", "source"))
    bad = metrics.counter("tollguard_verdict_bad_requests_total", "Requests refused as malformed (answered deny).")
    errors = metrics.counter("tollguard_verdict_errors_total", "Verdicts that failed, by exception; answered per --fail.",
                             ("kind",))
    denied = metrics.counter("tollguard_verdict_unauthorized_total", "Requests without the bearer token (401).")
    took = metrics.histogram("tollguard_verdict_seconds", "Time to decide, in the handler.",
                             buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25))
    authorized = _bearer(token)

    def answer(body: dict, status: int = 200) -> web.Response:
        body["fail"] = fail  # a proxy that keeps it fails as this service does when it cannot reach it
        return web.Response(text=json.dumps(body), status=status, content_type="application/json",
                            headers={"X-Verdict": body["verdict"], "X-Sip-Code": str(body["sip_code"])})

    async def verdict(request: web.Request) -> web.Response:
        if not authorized(request):
            denied.inc()
            return _unauthorized()
        t0 = time.perf_counter()
        try:
            v = _decide(judge, feed, fail, request.query)
        except BadRequest as exc:
            bad.inc()
            return answer({"error": str(exc), "verdict": "deny", "allow": False, "sip_code": 400, "source": "request"},
                          400)
        except Exception as exc:  # a verdict must come back either way, as --fail says, and be seen
            errors.labels(type(exc).__name__).inc()
            log.exception("verdict: failed (%s); failing %s", type(exc).__name__, fail)
            ok = fail == "open"
            v = Verdict(ok, 200 if ok else 503, f"no verdict ({type(exc).__name__}); failing {fail}", None, "failure")
        served.labels("allow" if v.allow else "deny", v.source).inc()
        took.observe(time.perf_counter() - t0)
        return answer(v.as_dict())

    async def health(request: web.Request) -> web.Response:
        live = "off" if feed is None else ("current" if feed.ready else "unknown")
        detail = {"service": "verdict", "live": live}
        if authorized(request):  # counts and the broker's trouble only for those holding the token
            detail.update(fail=fail, blocks=len(judge.live.until) if judge.live is not None else 0)
            if feed is not None:
                detail.update(actions_read=feed.blocks.applied, unreadable=feed.bad, problem=feed.problem)
        return web.json_response(detail, status=200 if live != "unknown" else 503)

    async def prometheus(request: web.Request) -> web.Response:
        if not authorized(request):
            denied.inc()
            return _unauthorized()
        return web.Response(body=metrics.render(), headers={"Content-Type": "text/plain; version=0.0.4"})

    app = web.Application()
    app.router.add_get("/v1/verdict", verdict)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", prometheus)
    if feed is not None:
        _follow(app, feed)
    return app


def _decide(judge: Judge, feed: LiveFeed | None, fail: str, q) -> Verdict:
    if feed is not None and not feed.ready and fail == "closed":
        return Verdict(False, 503, f"live blocks unknown ({feed.problem}); failing closed", None, "failure")
    v = judge.verdict(q.get("tenant", "default"), q.get("src", ""), q.get("dst", ""), q.get("ip") or None,
                      q.get("trunk") or None, q.get("route") or None)
    if feed is not None and not feed.ready and v.allow:
        v.reason += f" (live blocks unknown: {feed.problem}; failing open)"
        v.source = "failure"
    return v


def _bearer(token: str | None):
    """A check of ``Authorization: Bearer <token>`` in constant time; everything passes without a token."""
    if token is None:
        return lambda request: True
    want = f"Bearer {token}".encode()

    def check(request: web.Request) -> bool:
        return hmac.compare_digest(request.headers.get("Authorization", "").encode(), want)
    return check


def _unauthorized() -> web.Response:
    return web.json_response({"error": "a bearer token is required (Authorization: Bearer <token>)"}, status=401,
                             headers={"WWW-Authenticate": 'Bearer realm="tollguard-verdict"'})


def _follow(app: web.Application, feed: LiveFeed) -> None:
    task: list[asyncio.Task] = []

    async def start_feed(app):
        task.append(asyncio.create_task(feed.run()))

    async def stop_feed(app):
        task[0].cancel()
        try:
            await task[0]
        except (asyncio.CancelledError, Exception):
            pass
    app.on_startup.append(start_feed)
    app.on_cleanup.append(stop_feed)


class StartError(ValueError):
    """Why the service will not start (one line)."""


def read_token(path: str) -> str:
    """The bearer token, read once: the file's only line; refused empty, warned about when others may read it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        mode = os.stat(path).st_mode
    except (OSError, UnicodeDecodeError) as exc:
        raise StartError(f"{path}: cannot read the token file: {exc}") from None
    token = text.strip()
    if not token:
        raise StartError(f"{path}:1: the token file is empty")
    if any(c.isspace() for c in token) or not token.isprintable():
        raise StartError(f"{path}:1: the token must be one line of printable characters without spaces")
    if mode & stat.S_IROTH:
        log.warning("verdict: %s is readable by every user of this host (chmod 600 it)", path)
    return token


def check_host(host: str, token: str | None) -> None:
    """Without a token the service answers anyone who reaches it: so only on this host."""
    if token is not None:
        return
    if host != "localhost":
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            pass
        raise StartError(f"--host {host} without --token-file: anyone who reaches the port would read every "
                         "tenant's verdicts; give --token-file (or TOLLGUARD_VERDICT_TOKEN_FILE) or bind to 127.0.0.1")


def main(args) -> int:
    from streams.kafka.observe import setup_logging
    from streams.policy import Policy, PolicyError
    setup_logging(args.log_format, "INFO" if args.verbose else "WARNING")
    try:
        token = read_token(args.token_file) if args.token_file else None
        check_host(args.host, token)
        policy = Policy.load(args.policy) if args.policy else Policy.default()
    except (StartError, PolicyError, OSError) as exc:
        print(f"verdict: {exc}", file=sys.stderr)
        return 2
    blocks = None if args.no_live else LiveBlocks()
    feed = None
    if blocks is not None:
        from streams.kafka.config import Config
        from streams.reference.ranges import RangeTable
        from streams.kafka.ranges import start_following
        config = Config.from_env()
        feed = LiveFeed(config, blocks)
        ranges = RangeTable()  # `tollguard ranges load` reaches the verdict as it reaches the worker
        policy.add_ranges(ranges)
        start_following(config, ranges)
    app = make_app(Judge(policy, blocks), feed, args.fail, token=token)
    # start-up objects (phone metadata, the policy, libraries) never die: keep them out of full collections,
    # which would otherwise stall a verdict for milliseconds now and then
    from streams.shells.gcpolicy import settle_after_startup
    settle_after_startup()
    log.warning("verdict: http://%s:%d/v1/verdict (live blocks and ranges %s, failing %s, %s)", args.host, args.port,
                "off" if feed is None else "from Kafka", args.fail,
                "bearer token required" if token else "NO TOKEN: loopback only, anyone on this host may ask")
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0
