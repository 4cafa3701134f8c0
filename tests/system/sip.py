"""A minimal SIP UDP client for the system tests: REGISTER with digest authentication, and raw requests.

Runs in the test process, or inside a network namespace as
``ip netns exec NS python -m tests.system.sip register HOST PORT USER PASSWORD [--bind IP]``,
which prints the final status line and exits 0 on a 2xx.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import socket
import sys
import time
import uuid


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def header(reply: str, name: str) -> str | None:
    for line in reply.split("\r\n")[1:]:
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


def digest(challenge: str, method: str, uri: str, user: str, password: str) -> str:
    """The RFC 2617 answer to a digest challenge (qop=auth when offered)."""
    p = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    ha1, ha2, nonce = md5(f"{user}:{p['realm']}:{password}"), md5(f"{method}:{uri}"), p["nonce"]
    fields = f'username="{user}", realm="{p["realm"]}", nonce="{nonce}", uri="{uri}", algorithm=MD5'
    if "auth" in p.get("qop", "").split(","):
        cnonce = uuid.uuid4().hex[:8]
        answer = md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}")
        return f'Digest {fields}, response="{answer}", qop=auth, nc=00000001, cnonce="{cnonce}"'
    return f'Digest {fields}, response="{md5(f"{ha1}:{nonce}:{ha2}")}"'


class Client:
    """One UDP socket bound to ``bind`` (an address of this namespace), talking to ``host:port``."""

    def __init__(self, host: str, port: int, bind: str = "0.0.0.0", timeout: float = 2.0):
        self.host, self.port = host, port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((bind, 0))
        self.sock.settimeout(timeout)
        self.me = self.sock.getsockname()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, (self.host, self.port))

    def final(self, timeout: float) -> str:
        """The next final (non-1xx) reply's text."""
        deadline = time.monotonic() + timeout
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(65535).decode("utf-8", "replace")
            if not data.startswith("SIP/2.0 1"):
                return data

    def register(self, user: str, password: str | None, *, from_user: str | None = None, ua: str = "tollguard-test",
                 auth_user: str | None = None, extra: str = "", timeout: float = 2.0) -> str:
        """REGISTER ``user`` (To user; From user ``from_user`` or the same); a 401 is answered once with
        ``password`` for ``auth_user`` (or ``user``). The final reply's status line."""
        call, uri = uuid.uuid4().hex, f"sip:{self.host}:{self.port}"
        reply = self._register(call, 1, uri, user, from_user or user, ua, extra, timeout)
        challenge = header(reply, "WWW-Authenticate")
        if reply.startswith("SIP/2.0 401") and password is not None and challenge:
            auth = f"Authorization: {digest(challenge, 'REGISTER', uri, auth_user or user, password)}\r\n"
            reply = self._register(call, 2, uri, user, from_user or user, ua, auth + extra, timeout)
        return reply.split("\r\n", 1)[0]

    def _register(self, call, cseq, uri, user, from_user, ua, extra, timeout) -> str:
        ip, port = self.me
        if ip == "0.0.0.0":
            ip = "127.0.0.1"
        msg = (f"REGISTER {uri} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {ip}:{port};branch=z9hG4bK{call[:10]}{cseq};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:{from_user}@{self.host}>;tag={call[:8]}\r\n"
               f"To: <sip:{user}@{self.host}>\r\nCall-ID: {call}@{ip}\r\nCSeq: {cseq} REGISTER\r\n"
               f"Contact: <sip:{user}@{ip}:{port}>\r\nExpires: 60\r\nUser-Agent: {ua}\r\n{extra}"
               "Content-Length: 0\r\n\r\n")
        self.send(msg.encode("utf-8", "surrogateescape"))
        return self.final(timeout)


def register(host: str, port: int, user: str, password: str, bind: str = "0.0.0.0", timeout: float = 2.0) -> str:
    c = Client(host, port, bind, timeout)
    try:
        return c.register(user, password, timeout=timeout)
    finally:
        c.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.system.sip")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("register")
    r.add_argument("host")
    r.add_argument("port", type=int)
    r.add_argument("user")
    r.add_argument("password")
    r.add_argument("--bind", default="0.0.0.0")
    r.add_argument("--timeout", type=float, default=2.0)
    args = p.parse_args(argv)
    try:
        status = register(args.host, args.port, args.user, args.password, args.bind, args.timeout)
    except OSError as exc:  # no answer (a timeout is an OSError)
        print(f"no answer: {exc}")
        return 1
    print(status)
    return 0 if status.startswith("SIP/2.0 2") else 1


if __name__ == "__main__":
    sys.exit(main())
