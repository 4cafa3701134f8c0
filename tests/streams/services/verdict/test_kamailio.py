"""docs/kamailio/tollguard-verdict.cfg for real: Debian's Kamailio asks a real `tollguard verdict` at each INVITE.

SIP INVITEs are sent over UDP to Kamailio, which challenges them (digest, against db_text tables the
test writes) unless they come from the trusted trunk's address; the reply's status is what the
verdict suggested. Skipped, loudly, only when Kamailio or its http_client/json modules are not
installed (scripts/setup-system.sh installs them as root with apt-get).
"""

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
CFG = ROOT / "docs" / "kamailio" / "tollguard-verdict.cfg"
KAMAILIO = shutil.which("kamailio") or ("/usr/sbin/kamailio" if os.path.exists("/usr/sbin/kamailio") else None)
MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
NEEDED = ("http_client", "json", "auth_db", "db_text", "permissions")
MISSING = None if KAMAILIO and all((MODULES / f"{m}.so").exists() for m in NEEDED) else (
    "KAMAILIO NOT INSTALLED (kamailio, kamailio-utils-modules, kamailio-json-modules): "
    "run scripts/setup-system.sh as root")

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

USERS = {"1001": "pw-1001", "1002": "pw-1002"}  # the subscriber table: 1001 may not call abroad, 1002 may
POLICY = ("home_country: GB\nnational_prefix: '0'\ninternational_prefix: ['00', '+']\n"
          "blocked_numbers: ['0207946XXXX']\nextensions:\n  '1002': {international: true}\n")
TOKEN = "tg-" + uuid.uuid4().hex
ABROAD = "0033142868200"


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TRUNK = free_port(socket.SOCK_DGRAM)  # the trusted trunk's source port (in the `address` table)


def invite(port: int, src: str, dst: str, auth: tuple[str, str] | None = None, me: int = 0,
           timeout: float = 5.0) -> str:
    """One INVITE from ``src`` (the From user) to ``dst``, sent from port ``me``; a digest challenge is
    answered with ``auth`` (user, password) when given. The final reply's status line."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", me))
        s.settimeout(timeout)
        call, cseq, extra = uuid.uuid4().hex, 1, ""
        while True:
            reply = _send(s, port, _invite(port, s.getsockname()[1], src, dst, call, cseq, extra), timeout)
            challenge = _header(reply, "Proxy-Authenticate")
            if not reply.startswith("SIP/2.0 407") or auth is None or cseq > 1 or challenge is None:
                return reply.split("\r\n", 1)[0]
            uri = f"sip:{dst}@127.0.0.1:{port}"
            cseq, extra = 2, f"Proxy-Authorization: {_digest(challenge, *auth, uri)}\r\n"


def _invite(port, me, src, dst, call, cseq, extra) -> str:
    return (f"INVITE sip:{dst}@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{call[:12]}{cseq};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:{src}@127.0.0.1>;tag={call[:8]}\r\nTo: <sip:{dst}@127.0.0.1>\r\n"
            f"Call-ID: {call}@127.0.0.1\r\nCSeq: {cseq} INVITE\r\nContact: <sip:{src}@127.0.0.1:{me}>\r\n"
            f"{extra}Content-Length: 0\r\n\r\n")


def _send(s: socket.socket, port: int, msg: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    s.sendto(msg.encode(), ("127.0.0.1", port))
    while time.monotonic() < deadline:
        data = s.recv(65535).decode(errors="replace")
        if not data.startswith("SIP/2.0 1"):  # skip provisional replies
            return data
    raise AssertionError("no final reply")


def _header(reply: str, name: str) -> str | None:
    for line in reply.split("\r\n")[1:]:
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _digest(challenge: str, user: str, password: str, uri: str) -> str:
    """The RFC 2617 answer to a digest challenge (qop=auth when the challenge offers it)."""
    p = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    ha1, ha2, nonce = _md5(f"{user}:{p['realm']}:{password}"), _md5(f"INVITE:{uri}"), p["nonce"]
    fields = f'username="{user}", realm="{p["realm"]}", nonce="{nonce}", uri="{uri}", algorithm=MD5'
    if "auth" in p.get("qop", "").split(","):
        cnonce = uuid.uuid4().hex[:8]
        answer = _md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}")
        return f'Digest {fields}, response="{answer}", qop=auth, nc=00000001, cnonce="{cnonce}"'
    return f'Digest {fields}, response="{_md5(f"{ha1}:{nonce}:{ha2}")}"'


def serve_verdict(tmp_path, *args):
    """A real `tollguard verdict` (rules only) that wants the bearer token; (process, URL)."""
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "token").write_text(TOKEN + "\n")
    os.chmod(tmp_path / "token", 0o600)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "verdict", "--no-live", "--policy",
                             str(tmp_path / "policy.yaml"), "--port", str(port),
                             "--token-file", str(tmp_path / "token"), *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    return proc, f"http://127.0.0.1:{port}/v1/verdict"


@pytest.fixture
def verdict_url(tmp_path):
    proc, url = serve_verdict(tmp_path)
    yield url
    proc.terminate()
    proc.communicate(timeout=10)


def database(tmp_path) -> Path:
    """db_text tables: the subscribers Kamailio authenticates, and the trusted trunk's address."""
    db = tmp_path / "db"
    db.mkdir(exist_ok=True)
    (db / "version").write_text("id(int,auto) table_name(string) table_version(int) \n0:subscriber:7\n0:address:6\n")
    rows = "".join(f"{i}:{u}:127.0.0.1:{pw}\n" for i, (u, pw) in enumerate(USERS.items(), 1))
    (db / "subscriber").write_text("id(int,auto) username(string) domain(string) password(string) \n" + rows)
    (db / "address").write_text("id(int,auto) grp(int) ip_addr(string) mask(int) port(int) tag(string,null) \n"
                                f"1:1:127.0.0.1:32:{TRUNK}:trunk\n")
    return db


def kamailio(tmp_path, url: str, *defines: str, token: str = TOKEN, pbx: int | None = None):
    """Kamailio on the documented config, copied beside its tollguard-token.cfg as an operator installs it.
    Allowed calls are answered 200 by Kamailio itself, or relayed to ``pbx`` (a UDP port) when given."""
    conf = tmp_path / "kamailio"
    conf.mkdir(exist_ok=True)
    shutil.copy(CFG, conf / CFG.name)
    (conf / "tollguard-token.cfg").write_text(f'#!define TOLLGUARD_TOKEN "{token}"\n')
    port = free_port(socket.SOCK_DGRAM)
    args = [KAMAILIO, "-f", str(conf / CFG.name), "-D", "-E", "-l", f"udp:127.0.0.1:{port}", "-P",
            str(tmp_path / "k.pid"), "-Y", str(tmp_path), "-A", f'TOLLGUARD_URL="{url}"',
            "-A", f'DBURL="text://{database(tmp_path)}"']
    args += ["-A", "TOLLGUARD_TEST"] if pbx is None else ["-A", f'PBX="sip:127.0.0.1:{pbx}"']
    for d in defines:
        args += ["-A", d]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1.5)
    assert proc.poll() is None, proc.communicate()[0][-3000:]
    return proc, port


class FakePBX:
    """A UDP "PBX" that answers every INVITE Kamailio relays with 200 and keeps what it got."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port, self.got = self.sock.getsockname()[1], []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(65535)
            except OSError:
                return
            msg = data.decode(errors="replace")
            if not msg.startswith("INVITE "):
                continue
            self.got.append(msg)
            keep = [line for line in msg.split("\r\n")[1:] if line.split(":", 1)[0].lower() in
                    ("via", "from", "call-id", "cseq")]
            to = _header(msg, "To") + ";tag=pbx"
            self.sock.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + f"\r\nTo: {to}\r\n"
                              "Content-Length: 0\r\n\r\n").encode(), peer)

    def close(self):
        self.sock.close()


class FakeVerdict:
    """An HTTP "verdict service" that records each request and gives the next of ``answers`` (status, body)."""

    def __init__(self, *answers: tuple[int, str]):
        self.answers, self.asked = list(answers), []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake.asked.append((self.path, self.headers.get("Authorization")))
                status, body = fake.answers[min(len(fake.asked), len(fake.answers)) - 1]
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/verdict"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def query(self, i: int) -> dict:
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.asked[i][0]).query)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


ALLOW = (200, '{"verdict": "allow", "allow": true, "sip_code": 200, "fail": "closed"}')


def stop(proc) -> str:
    proc.terminate()
    return proc.communicate(timeout=10)[0]


def test_kamailio_refuses_what_the_verdict_refuses(tmp_path, verdict_url):
    proc, port = kamailio(tmp_path, verdict_url)
    me = ("1001", USERS["1001"])
    try:
        assert invite(port, "1001", "02071838750", me).startswith("SIP/2.0 200")   # an ordinary national call
        assert invite(port, "1001", "09098790000", me).startswith("SIP/2.0 603")   # premium rate
        assert invite(port, "1001", "%30%39098790000", me).startswith("SIP/2.0 603")  # the same, percent-encoded
        assert invite(port, "1001", "02079460000", me).startswith("SIP/2.0 603")   # a blocked number
        assert invite(port, "1001", ABROAD, me).startswith("SIP/2.0 403")          # international, not granted
        assert invite(port, "1001", "+33142868200", me).startswith("SIP/2.0 403")  # the same with + (not a space)
        assert invite(port, "1001", "999&09098790000", me).startswith("SIP/2.0 400")  # not judged as 999 alone
        assert invite(port, "1001", "premium", me).startswith("SIP/2.0 400")       # not a dial string
        assert invite(port, "1001", "999", me).startswith("SIP/2.0 200")           # emergency: always
    finally:
        log = stop(proc)
    assert "tollguard: refused 1001 -> 09098790000 (603)" in log


def test_a_barred_extension_spoofing_from_is_still_refused(tmp_path, verdict_url):
    """1001 may not call abroad; it authenticates as itself and writes 1002 (who may) in From."""
    proc, port = kamailio(tmp_path, verdict_url)
    try:
        assert invite(port, "1002", ABROAD, ("1001", USERS["1001"])).startswith("SIP/2.0 403")
        assert invite(port, "1002", ABROAD, ("1002", USERS["1002"])).startswith("SIP/2.0 200")  # 1002 itself may
        assert invite(port, "1002", ABROAD).startswith("SIP/2.0 407")                  # no credentials: challenged
        assert invite(port, "1002", ABROAD, ("1002", "wrong")).startswith("SIP/2.0 407")
    finally:
        log = stop(proc)
    assert "tollguard: refused 1001 -> 0033142868200 (403)" in log


def test_only_a_trusted_trunk_is_judged_on_its_from_user(tmp_path, verdict_url):
    proc, port = kamailio(tmp_path, verdict_url)
    try:
        assert invite(port, "1002", ABROAD, me=TRUNK).startswith("SIP/2.0 200")  # the trunk vouches for its callers
        assert invite(port, "1001", ABROAD, me=TRUNK).startswith("SIP/2.0 403")
        assert invite(port, "1002", ABROAD).startswith("SIP/2.0 407")            # the same From, elsewhere: challenged
    finally:
        stop(proc)


@pytest.mark.parametrize("defines,want", [((), "SIP/2.0 503"), (("TOLLGUARD_FAIL_OPEN",), "SIP/2.0 200")])
def test_no_verdict_fails_as_configured_closed_by_default(tmp_path, defines, want):
    dead = f"http://127.0.0.1:{free_port()}/v1/verdict"  # nothing listens there
    proc, port = kamailio(tmp_path, dead, *defines)
    try:
        assert invite(port, "1001", "02071838750", ("1001", USERS["1001"])).startswith(want)
    finally:
        stop(proc)


def test_a_wrong_token_gets_no_verdict_and_fails_closed(tmp_path, verdict_url):
    proc, port = kamailio(tmp_path, verdict_url, token="not-the-token")
    try:
        assert invite(port, "1001", "02071838750", ("1001", USERS["1001"])).startswith("SIP/2.0 503")
    finally:
        log = stop(proc)
    assert "no verdict (HTTP 401)" in log


@pytest.mark.parametrize("service,own,want", [("open", (), "SIP/2.0 200"),
                                              ("closed", ("TOLLGUARD_FAIL_OPEN",), "SIP/2.0 503")])
def test_once_the_service_answered_kamailio_fails_as_it_when_it_is_gone(tmp_path, service, own, want):
    """Each answer carries the service's --fail; Kamailio keeps it, over its own start-up default, for when
    the service cannot be reached."""
    verdict, url = serve_verdict(tmp_path, "--fail", service)
    proc, port = kamailio(tmp_path, url, *own)
    me = ("1001", USERS["1001"])
    try:
        assert invite(port, "1001", "02071838750", me).startswith("SIP/2.0 200")
        stop(verdict)
        assert invite(port, "1001", "02071838750", me).startswith(want)
        assert invite(port, "1001", "09098790000", me).startswith(want)  # premium: nobody can say so now
    finally:
        verdict.poll() is None and stop(verdict)
        log = stop(proc)
    assert f"(fail {service})" in log


def test_an_unauthenticated_or_refused_call_never_reaches_the_pbx(tmp_path, verdict_url):
    pbx = FakePBX()
    proc, port = kamailio(tmp_path, verdict_url, pbx=pbx.port)
    try:
        assert invite(port, "1002", ABROAD).startswith("SIP/2.0 407")                        # no credentials
        assert invite(port, "1002", ABROAD, ("1002", "wrong")).startswith("SIP/2.0 407")     # wrong password
        assert invite(port, "1002", ABROAD, ("1001", USERS["1001"])).startswith("SIP/2.0 403")  # barred, spoofing
        time.sleep(0.3)
        assert pbx.got == []
        assert invite(port, "1002", ABROAD, ("1002", USERS["1002"])).startswith("SIP/2.0 200 OK")  # the PBX's
    finally:
        stop(proc)
        pbx.close()
    assert len(pbx.got) == 1 and pbx.got[0].startswith(f"INVITE sip:{ABROAD}@")
    assert _header(pbx.got[0], "Proxy-Authorization") is None  # the caller's credentials stay with Kamailio


def test_the_verdict_request_carries_the_token_and_judges_who_authenticated(tmp_path):
    verdict = FakeVerdict(ALLOW)
    proc, port = kamailio(tmp_path, verdict.url, 'TOLLGUARD_TENANT="acme"')
    try:
        assert invite(port, "1002", "02071838750").startswith("SIP/2.0 407")  # not asked about: not authenticated
        assert invite(port, "1002", "02071838750", ("1001", USERS["1001"])).startswith("SIP/2.0 200")
        assert invite(port, "1002", "0207&src=1002", ("1001", USERS["1001"])).startswith("SIP/2.0 200")
        assert invite(port, "1003", "02071838750", me=TRUNK).startswith("SIP/2.0 200")
    finally:
        stop(proc)
        verdict.close()
    assert [auth for _, auth in verdict.asked] == [f"Bearer {TOKEN}"] * 3
    assert verdict.query(0) == {"tenant": ["acme"], "src": ["1001"], "dst": ["02071838750"], "ip": ["127.0.0.1"]}
    assert verdict.query(1)["src"] == ["1001"] and verdict.query(1)["dst"] == ["0207&src=1002"]  # escaped
    assert verdict.query(2)["src"] == ["1003"]  # the trusted trunk: its From user


@pytest.mark.parametrize("garbled", [(200, "{}"), (200, "not json"), (200, '{"verdict": "maybe"}'),
                                     (302, '{"verdict": "allow"}')])
def test_an_answer_that_is_not_a_verdict_fails_as_the_service_said(tmp_path, garbled):
    """A first answer allows (and says fail closed); the next is no verdict, and must not reuse the first."""
    verdict = FakeVerdict(ALLOW, garbled)
    proc, port = kamailio(tmp_path, verdict.url, "TOLLGUARD_FAIL_OPEN")
    me = ("1001", USERS["1001"])
    try:
        assert invite(port, "1001", "02071838750", me).startswith("SIP/2.0 200")
        assert invite(port, "1001", "02071838750", me).startswith("SIP/2.0 503")
    finally:
        stop(proc)
        verdict.close()
    assert len(verdict.asked) == 2


def test_a_flooding_source_is_dropped_by_pike_but_a_trusted_trunk_is_not(tmp_path, verdict_url):
    """The guide's auto defense at the SIP edge (tollguard audit's kamailio-no-antiflood found it missing):
    a source sending more than PIKE_DENSITY requests per PIKE_UNIT seconds gets no reply while it keeps
    on; the trusted trunk, whose calls are many by nature, is not counted."""
    proc, port = kamailio(tmp_path, verdict_url)
    try:
        answered = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(0.5)
            me = s.getsockname()[1]
            for i in range(200):
                try:
                    _send(s, port, _invite(port, me, "1001", "02071838750", uuid.uuid4().hex, 1, ""), 0.5)
                except (socket.timeout, AssertionError):
                    break  # dropped: no reply at all
                answered += 1
        assert 20 <= answered < 200, answered
        assert invite(port, "1002", ABROAD, me=TRUNK).startswith("SIP/2.0 200")
    finally:
        stop(proc)
