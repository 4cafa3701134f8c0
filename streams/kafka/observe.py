"""What every long-running command shows an operator: ``/metrics``, ``/health`` and its logs.

``worker``, ``notify`` and ``enforce`` each serve, on ``--web-port`` or ``TOLLGUARD_WEB_PORT``
(none when unset), a small HTTP endpoint on its own thread, on loopback unless
``TOLLGUARD_WEB_HOST`` names another address:

- ``GET /metrics``  Prometheus text format (``prometheus_client``), from the command's own registry;
- ``GET /health``   ``200`` and a JSON body while the command's health check passes, ``503`` otherwise.

Logs: ``--log-format text`` (default) writes one escaped line per record (``streams.reference.text.safe``:
no terminal control codes, whatever a user agent or account name held); ``json`` writes one
JSON object per line (``ts``, ``level``, ``logger``, ``message`` and any ``extra`` fields), for
log shippers.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from streams.reference.text import safe

Health = Callable[[], "tuple[bool, dict]"]
HOST = "127.0.0.1"


def web_port(value: int | None = None, env: dict | None = None) -> int | None:
    """The port to serve on: the command-line value, else ``TOLLGUARD_WEB_PORT``, else none (0 = any free port)."""
    if value is not None:
        return value
    raw = (os.environ if env is None else env).get("TOLLGUARD_WEB_PORT", "").strip()
    if not raw:
        return None
    try:
        port = int(raw)
    except ValueError:
        from streams.kafka.config import ConfigError
        raise ConfigError(f"TOLLGUARD_WEB_PORT must be a port number, not {raw!r}") from None
    return port


class Metrics:
    """A command's own metric registry (so two commands in one test process do not collide)."""

    def __init__(self, service: str):
        self.service = service
        self.registry = CollectorRegistry()
        self.started = time.time()
        Gauge("tollguard_start_time_seconds", "When this process started (epoch seconds).",
              registry=self.registry).set(self.started)

    def counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(name, doc, labels, registry=self.registry)

    def gauge(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, doc, labels, registry=self.registry)

    def histogram(self, name: str, doc: str, labels: tuple[str, ...] = (), buckets=None) -> Histogram:
        kw = {"buckets": buckets} if buckets else {}
        return Histogram(name, doc, labels, registry=self.registry, **kw)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class WebServer:
    """``/metrics`` and ``/health`` on a daemon thread. ``port`` 0 picks a free port (``.port`` tells)."""

    def __init__(self, metrics: Metrics, health: Health, port: int, host: str = HOST):
        self.metrics, self.health = metrics, health
        handler = _handler(self)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.host = host
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="tollguard-web", daemon=True)

    def start(self) -> "WebServer":
        self._thread.start()
        logging.getLogger("tollguard.web").info("%s serves /metrics and /health on http://%s:%d",
                                                    self.metrics.service, self.host, self.port)
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _handler(server: WebServer):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                body, ctype, code = server.metrics.render(), CONTENT_TYPE_LATEST, 200
            elif path == "/health":
                try:
                    ok, detail = server.health()
                except Exception as exc:  # a failing check is unhealthy, not a crashed endpoint
                    ok, detail = False, {"error": safe(repr(exc), 200)}
                body = json.dumps({"service": server.metrics.service, "ok": ok,
                                   "uptime_s": round(time.time() - server.metrics.started, 1), **detail}).encode()
                ctype, code = "application/json", 200 if ok else 503
            else:
                body, ctype, code = b"not found: try /metrics or /health\n", "text/plain", 404
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # scrapes every few seconds are not news
            pass
    return Handler


def serve(metrics: Metrics, health: Health, port: int | None) -> WebServer | None:
    """Start the endpoint when a port is configured; None otherwise. It listens on loopback unless
    ``TOLLGUARD_WEB_HOST`` says otherwise (``0.0.0.0`` in a container that Prometheus scrapes)."""
    if port is None:
        return None
    return WebServer(metrics, health, port, os.environ.get("TOLLGUARD_WEB_HOST") or HOST).start()


class JsonFormatter(logging.Formatter):
    """One JSON object per record; controls in messages are escaped by the JSON encoder."""

    SKIP = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
               "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for k, v in vars(record).items():
            if k not in self.SKIP and not k.startswith("_"):
                out[k] = v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=True)


class SafeFormatter(logging.Formatter):
    """Plain text with every control character made visible: a log file never carries cursor codes."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return "\n".join(safe(line, 4000) for line in text.split("\n"))


LOG_FORMATS = ("text", "json")


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    return SafeFormatter("[%(asctime)s] %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")


def setup_logging(fmt: str = "text", level: str | int = "WARNING", stream=None) -> None:
    """Route the root logger to ``stream`` (stderr) in the chosen format, replacing any handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
