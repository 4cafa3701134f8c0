#!/usr/bin/env python3
"""make demo: a local webhook that prints what `tollguard notify` posts to it (one line per message).

    demo_webhook.py PORTFILE     # writes the port it listens on to PORTFILE, then serves until killed
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.path.insert(0, __import__("os").path.dirname(__file__) + "/..")
from streams.reference.text import safe  # noqa: E402


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            msg = json.loads(body)
            line = f"{msg.get('notification', '?'):<8} {msg.get('title') or msg.get('text', '')}"
            if msg.get("notification") == "digest":
                line += f" (now {msg.get('status', '?')})"
        except ValueError:
            line = f"(not JSON) {body[:200]!r}"
        print(f"webhook <- {safe(line, 300)}", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = HTTPServer(("127.0.0.1", 0), Hook)
    with open(sys.argv[1], "w") as fh:
        fh.write(str(server.server_address[1]))
    server.serve_forever()
