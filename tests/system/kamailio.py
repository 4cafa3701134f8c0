"""Start Debian's Kamailio on docs/kamailio/tollguard-security-log.cfg for a test (in a network namespace or not)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .sip import Client

ROOT = Path(__file__).resolve().parents[2]
CFG = ROOT / "docs" / "kamailio" / "tollguard-security-log.cfg"
KAMAILIO = shutil.which("kamailio") or ("/usr/sbin/kamailio" if os.path.exists("/usr/sbin/kamailio") else None)
MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
NEEDED = ("auth", "auth_db", "db_text", "pike", "permissions", "usrloc", "registrar", "xlog", "textops")
MISSING = None if KAMAILIO and all((MODULES / f"{m}.so").exists() for m in NEEDED) else (
    f"KAMAILIO NOT INSTALLED (kamailio with the modules {', '.join(NEEDED)}): run scripts/setup-system.sh as root")


def database(where: Path, users: dict[str, str], denied: list[str] = ()) -> Path:
    """db_text tables: the subscribers, and the ACL's refused sources (group 2 of `address`)."""
    db = where / "db"
    db.mkdir(parents=True, exist_ok=True)
    (db / "version").write_text("id(int,auto) table_name(string) table_version(int) \n0:subscriber:7\n0:address:6\n")
    rows = "".join(f"{i}:{u}:sip.test:{pw}\n" for i, (u, pw) in enumerate(users.items(), 1))
    (db / "subscriber").write_text("id(int,auto) username(string) domain(string) password(string) \n" + rows)
    acl = "".join(f"{i}:2:{ip}:32:0:denied\n" for i, ip in enumerate(denied, 1))
    (db / "address").write_text("id(int,auto) grp(int) ip_addr(string) mask(int) port(int) tag(string,null) \n" + acl)
    return db


class Kamailio:
    """The documented cfg with ``-E`` (its log to a file), listening on ``listen`` (UDP host:port). ``-DD``: in
    the foreground with its worker processes (``-D`` alone serves only the first listen address)."""

    def __init__(self, where: Path, users: dict[str, str], listen: list[str], denied: list[str] = (),
                 defines: tuple[str, ...] = (), netns: str | None = None):
        self.where, self.log = where, where / "kamailio.log"
        args = [KAMAILIO, "-f", str(CFG), "-DD", "-E", "-Y", str(where), "-P", str(where / "kamailio.pid"),
                "-A", f'DBURL="text://{database(where, users, denied)}"']
        for address in listen:
            args += ["-l", f"udp:{address}"]
        for d in defines:
            args += ["-A", d]
        if netns:
            args = ["ip", "netns", "exec", netns, *args]  # exec: the pid is Kamailio's
        self.logf = open(self.log, "wb")
        # its own process group: a worker process that outlives the main one is stopped with it
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, probe, timeout: float = 20.0) -> None:
        """Until ``probe()`` gets an answer (any SIP reply) or Kamailio exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"kamailio exited with {self.proc.returncode}:\n{self.text()[-3000:]}")
            try:
                probe()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"kamailio did not answer within {timeout} s:\n{self.text()[-3000:]}")

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM to the group; what is left of it after 5 s (seen: a worker process whose main one has
        exited, ignoring SIGTERM) gets SIGKILL."""
        _signal_group(self.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (self.proc.poll() is None or _group_alive(self.proc.pid)):
            time.sleep(0.05)
        _signal_group(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.logf.close()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process is still in the group."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def options_probe(host: str, port: int, bind: str):
    """A probe for :meth:`Kamailio.wait_ready`: one OPTIONS, challenged or answered, from ``bind``."""
    def probe() -> None:
        c = Client(host, port, bind, timeout=0.5)
        try:
            c.send(f"OPTIONS sip:{host}:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {bind}:{c.me[1]};branch=z9hG4bKprobe;rport"
                   f"\r\nFrom: <sip:probe@{host}>;tag=p\r\nTo: <sip:{host}>\r\nCall-ID: probe-{time.monotonic_ns()}\r\n"
                   "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n".encode())
            c.final(0.5)
        finally:
            c.close()
    return probe
