"""docs/kamailio/tollguard-verdict.cfg for real: Debian's Kamailio asks a real `tollguard verdict` at each INVITE.

SIP INVITEs are sent over UDP to Kamailio; the reply's status is what the verdict suggested. Skipped,
loudly, only when Kamailio or its http_client/json modules are not installed (scripts/setup-system.sh
installs them as root with apt-get).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CFG = ROOT / "docs" / "kamailio" / "tollguard-verdict.cfg"
KAMAILIO = shutil.which("kamailio") or ("/usr/sbin/kamailio" if os.path.exists("/usr/sbin/kamailio") else None)
MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
MISSING = None if KAMAILIO and (MODULES / "http_client.so").exists() and (MODULES / "json.so").exists() else (
    "KAMAILIO NOT INSTALLED (kamailio, kamailio-utils-modules, kamailio-json-modules): run scripts/setup-system.sh as root")

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def invite(port: int, src: str, dst: str, timeout: float = 5.0) -> str:
    """One INVITE from ``src`` to ``dst``; the final reply's status line."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        me = s.getsockname()[1]
        call = uuid.uuid4().hex
        msg = (f"INVITE sip:{dst}@127.0.0.1:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{call[:12]};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:{src}@127.0.0.1>;tag={call[:8]}\r\nTo: <sip:{dst}@127.0.0.1>\r\n"
               f"Call-ID: {call}@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:{src}@127.0.0.1:{me}>\r\n"
               "Content-Length: 0\r\n\r\n")
        s.settimeout(timeout)
        deadline = time.monotonic() + timeout
        s.sendto(msg.encode(), ("127.0.0.1", port))
        while time.monotonic() < deadline:
            data = s.recv(65535).decode(errors="replace")
            status = data.split("\r\n", 1)[0]
            if not status.startswith("SIP/2.0 1"):  # skip provisional replies
                return status
    raise AssertionError("no final reply")


@pytest.fixture
def verdict_url(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("home_country: GB\nnational_prefix: '0'\ninternational_prefix: ['00', '+']\n"
                      "blocked_numbers: ['0207946XXXX']\n")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "verdict", "--no-live", "--policy", str(policy),
                             "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/v1/verdict"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.communicate(timeout=10)


def kamailio(tmp_path, url: str, *defines: str):
    port = free_port(socket.SOCK_DGRAM)
    args = [KAMAILIO, "-f", str(CFG), "-D", "-E", "-l", f"udp:127.0.0.1:{port}", "-P", str(tmp_path / "k.pid"),
            "-Y", str(tmp_path), "-A", "TOLLGUARD_TEST", "-A", f'TOLLGUARD_URL="{url}"']
    for d in defines:
        args += ["-A", d]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1.5)
    assert proc.poll() is None, proc.communicate()[0][-3000:]
    return proc, port


def test_kamailio_refuses_what_the_verdict_refuses(tmp_path, verdict_url):
    proc, port = kamailio(tmp_path, verdict_url)
    try:
        assert invite(port, "1001", "02071838750").startswith("SIP/2.0 200")   # an ordinary national call
        assert invite(port, "1001", "09098790000").startswith("SIP/2.0 603")   # premium rate
        assert invite(port, "1001", "02079460000").startswith("SIP/2.0 603")   # a blocked number
        assert invite(port, "1001", "0033142868200").startswith("SIP/2.0 403")  # international, not granted
        assert invite(port, "1001", "999").startswith("SIP/2.0 200")           # emergency: always
    finally:
        proc.terminate()
        log = proc.communicate(timeout=10)[0]
    assert "tollguard: refused 1001 -> 09098790000 (603)" in log


def test_no_verdict_fails_open_or_closed_as_configured(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/v1/verdict"  # nothing listens there
    for defines, want in (((), "SIP/2.0 200"), (("TOLLGUARD_FAIL_CLOSED",), "SIP/2.0 503")):
        proc, port = kamailio(tmp_path, dead, *defines)
        try:
            assert invite(port, "1001", "02071838750").startswith(want)
        finally:
            proc.terminate()
            proc.communicate(timeout=10)
