"""Three network namespaces for a real attack: the PBX's host, the internet (the scanner) and the LAN (a phone).

    scanner 203.0.113.66 --wan0-- 203.0.113.1 [pbx] 192.168.77.1 --lan0-- 192.168.77.10 phone

TEST-NET-3 (RFC 5737) for the internet side: a documentation range is no address enforce refuses
to block (docs/enforce.md, *Never blocked*), while the phone's RFC 1918 address is. Everything is
deleted on exit, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass

import pytest

SCANNER, PBX_WAN, PBX_LAN, PHONE = "203.0.113.66", "203.0.113.1", "192.168.77.1", "192.168.77.10"


def skip_unless_possible() -> None:
    """Skip, saying exactly why in capitals, when this machine cannot run the lab."""
    if os.geteuid() != 0:
        pytest.skip("REAL ATTACK TEST NOT RUN: needs root (ip netns add, nft); run the tests as root")
    missing = [p for p in ("ip", "nft", "svcrack") if not shutil.which(p)]
    if missing:
        pytest.skip(f"REAL ATTACK TEST NOT RUN: {', '.join(missing)} not installed "
                    "(scripts/setup-system.sh installs iproute2, nftables and sipvicious as root)")


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


@dataclass
class Lab:
    pbx: str
    wan: str
    lan: str

    def exec(self, ns: str, *args: str) -> list[str]:
        return ["ip", "netns", "exec", ns, *args]

    def nft(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(*self.exec(self.pbx, "nft", *args), check=check)

    def ruleset(self) -> dict:
        return json.loads(self.nft("-j", "list", "ruleset").stdout)


@contextlib.contextmanager
def lab():
    skip_unless_possible()
    tag = uuid.uuid4().hex[:6]
    names = Lab(f"tg-{tag}-pbx", f"tg-{tag}-wan", f"tg-{tag}-lan")
    made: list[str] = []
    try:
        for ns in (names.pbx, names.wan, names.lan):
            p = run("ip", "netns", "add", ns, check=False)
            if p.returncode != 0:
                pytest.skip(f"REAL ATTACK TEST NOT RUN: `ip netns add` is not permitted here: {p.stderr.strip()}")
            made.append(ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        _link(names.pbx, names.wan, "wan0", PBX_WAN, SCANNER)
        _link(names.pbx, names.lan, "lan0", PBX_LAN, PHONE)
        probe = names.nft("list", "ruleset", check=False)
        if probe.returncode != 0:
            pytest.skip(f"REAL ATTACK TEST NOT RUN: nft cannot run in a namespace here: {probe.stderr.strip()}")
        yield names
    finally:
        for ns in made:
            run("ip", "netns", "delete", ns, check=False)


def _link(a: str, b: str, dev: str, ip_a: str, ip_b: str) -> None:
    """A veth pair named ``dev`` on both sides, from namespace ``a`` to ``b``, with a /24 each."""
    run("ip", "link", "add", dev, "netns", a, "type", "veth", "peer", "name", dev, "netns", b)
    for ns, ip in ((a, ip_a), (b, ip_b)):
        run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
        run("ip", "-n", ns, "link", "set", dev, "up")
