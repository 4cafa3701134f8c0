"""A throwaway network namespace for running nft for real, without touching the host's firewall."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import uuid

import pytest


@contextlib.contextmanager
def netns():
    """Yield the name of a fresh namespace; always delete it. Skip, saying exactly why, when impossible."""
    missing = [p for p in ("nft", "ip") if not shutil.which(p)]
    if missing:
        pytest.skip(f"NFTABLES TEST NOT RUN: {', '.join(missing)} not installed (scripts/setup-system.sh installs nftables)")
    if os.geteuid() != 0:
        pytest.skip("NFTABLES TEST NOT RUN: `ip netns add` needs root (CAP_SYS_ADMIN); run the tests as root")
    name = f"tg-{uuid.uuid4().hex[:8]}"
    p = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"NFTABLES TEST NOT RUN: `ip netns add` is not permitted here: {p.stderr.strip()}")
    try:
        probe = subprocess.run(["ip", "netns", "exec", name, "nft", "list", "ruleset"], capture_output=True, text=True)
        if probe.returncode != 0:
            pytest.skip(f"NFTABLES TEST NOT RUN: nft cannot run in a namespace here: {probe.stderr.strip()}")
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)


def nft(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", name, "nft", *args], capture_output=True, text=True)


def elements(name: str, set_name: str = "blocked4", table: str = "tollguard", family: str = "inet") -> dict:
    """The set's elements: address -> timeout in seconds (None: no timeout)."""
    p = nft(name, "-j", "list", "set", family, table, set_name)
    assert p.returncode == 0, p.stderr
    out = {}
    for item in json.loads(p.stdout)["nftables"]:
        for e in item.get("set", {}).get("elem", []):
            if isinstance(e, dict):
                out[e["elem"]["val"]] = e["elem"].get("timeout")
            else:
                out[e] = None
    return out


@contextlib.contextmanager
def maybe_netns():
    """Like :func:`netns`, but yield None (after saying why, loudly) instead of skipping the caller."""
    try:
        with netns() as name:
            yield name
    except pytest.skip.Exception as exc:
        print(f"\n*** {exc.msg}: continuing without the nftables backend ***")
        yield None
