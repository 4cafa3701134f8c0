"""Real local servers the notify tests deliver to: HTTP webhook, SMTP (aiosmtpd), syslog UDP and TCP."""

from __future__ import annotations

import json
import socket
import threading
import time
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Hook:
    """An HTTP server on a thread. ``status`` (a code or a list consumed one per request) and ``delay``
    shape its answers; ``hold`` makes it wait (without answering) until ``release()``."""

    def __init__(self, status=200, delay: float = 0.0):
        self.status, self.delay = status, delay
        self.bodies: list[dict] = []
        self.attempts = 0
        self.held = threading.Event()
        self._gate: threading.Event | None = None
        self._hold_after = 0
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def hold_after(self, n: int) -> None:
        """Requests after the ``n``-th delivered one wait, unanswered, until :meth:`release`."""
        self._hold_after, self._gate = n, threading.Event()

    def release(self) -> None:
        """Let the held request go (unanswered) and hold no more."""
        gate, self._gate = self._gate, None
        if gate:
            gate.set()

    def _next_status(self) -> int:
        if isinstance(self.status, list):
            return self.status.pop(0) if self.status else 200
        return self.status

    def _handler(self):
        hook = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hook._lock:
                    hook.attempts += 1
                    status = hook._next_status()
                    gate = hook._gate if hook._gate and len(hook.bodies) >= hook._hold_after else None
                if gate is not None:
                    hook.held.set()
                    gate.wait(30)
                    return  # never answered: the sender's connection is gone by now
                time.sleep(hook.delay)
                if 200 <= status < 300:
                    with hook._lock:
                        hook.bodies.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass
        return H

    def close(self) -> None:
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()


class Mailbox:
    """aiosmtpd on 127.0.0.1 with a free port; ``messages`` holds the parsed emails."""

    def __init__(self):
        from aiosmtpd.controller import Controller
        self.messages = []
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                box.messages.append(message_from_bytes(envelope.content, policy=default_policy))
                return "250 OK"
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=_free_port())
        self.controller.start()
        self.address = f"127.0.0.1:{self.controller.port}"

    def close(self) -> None:
        self.controller.stop()


class UdpSyslog:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def recv(self) -> str:
        return self.sock.recv(65535).decode()

    def close(self) -> None:
        self.sock.close()


class TcpSyslog:
    """Accepts one connection at a time and keeps the raw bytes it received."""

    def __init__(self):
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.srv.getsockname()[1]}"
        self.data = bytearray()
        self.closed = threading.Event()  # set when a sender has closed its connection (all its bytes are in)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            with conn:
                while chunk := conn.recv(65536):
                    self.data += chunk
            self.closed.set()

    def wait_for(self, n: int, timeout: float = 5.0) -> bytes:
        end = time.monotonic() + timeout
        while len(self.data) < n and time.monotonic() < end:
            time.sleep(0.02)
        return bytes(self.data)

    def wait_closed(self, timeout: float = 5.0) -> bytes:
        """Everything one sender wrote, once it closed its connection (not a prefix that arrived first)."""
        self.closed.wait(timeout)
        return bytes(self.data)

    def close(self) -> None:
        self.srv.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout: float = 10.0, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()
