"""The engine's country lookup (engine/src/country.rs: ``streams._engine.country_of``, ``countries_of``)
against the Python it stands in for, ``streams.reference.countries.country_of`` (the iptocc wheel).

The engine links the ``iptocc`` crate at the version whose RIR tables the wheel of ``constraints.txt``
embeds, so the two must name the same country for every text. An upgrade of either side alone breaks
these tests: (1) the pins name the same build; (2) every address in the fixtures and the real data, a
few hundred thousand addresses spread over the whole IPv4 space and the IPv6 registries' blocks, and
texts that are almost addresses (spaces, zones, brackets, leading zeros, other digits, surrogates)
get the same answer from both."""

from __future__ import annotations

import ipaddress
import random
import re
from pathlib import Path

import pytest

from streams.reference import countries
from streams.reference.countries import country_of

_engine = pytest.importorskip("streams._engine")

ROOT = Path(__file__).resolve().parents[2]
SEED = 29


def reference(ips: list[str]) -> list[str | None]:
    """The reference's answers, each asked afresh (its cache is cleared: it would hide nothing, but a stale
    entry from another test must not answer here)."""
    countries._cache.clear()
    try:
        return [country_of(ip) for ip in ips]
    finally:
        countries._cache.clear()


def same(ips: list[str]) -> int:
    """Both sides agree on every text; how many of them have a country (so a test can say it found some)."""
    want = reference(ips)
    got = _engine.countries_of(ips)
    assert len(got) == len(ips)
    bad = [(ip, w, g) for ip, w, g in zip(ips, want, got) if w != g]
    assert not bad, bad[:20]
    assert [_engine.country_of(ip) for ip in ips[:2000]] == want[:2000]
    return sum(w is not None for w in want)


# ------------------------------------------------------------------------------------- (1) the pins

def test_the_crate_is_the_build_the_wheel_embeds():
    """iptocc's Python wheel 3.3.N is its crate 1.4.N with bindings (the same RIR tables, byte for byte:
    checked on 2026-12-07 by finding the crate's ``v4.bin`` and ``v6.bin`` inside the wheel's extension)."""
    wheel = re.search(r"^iptocc==3\.3\.(\d+)$", (ROOT / "constraints.txt").read_text(), re.M)
    crate = re.search(r'name = "iptocc"\nversion = "1\.4\.(\d+)"', (ROOT / "engine" / "Cargo.lock").read_text())
    pinned = re.search(r'^iptocc = \{ version = "=1\.4\.(\d+)"', (ROOT / "engine" / "Cargo.toml").read_text(), re.M)
    assert wheel and crate and pinned, "iptocc is pinned in constraints.txt, engine/Cargo.toml and Cargo.lock"
    assert wheel.group(1) == crate.group(1) == pinned.group(1)
    from importlib.metadata import version

    assert version("iptocc") == f"3.3.{wheel.group(1)}", "the installed wheel is the one constraints.txt pins"


# ---------------------------------------------------------------------------- (2) the addresses

ADDRESS = re.compile(rb"(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?![\w.:])")


@pytest.mark.parametrize("root", [ROOT / "fixtures", ROOT.parent / "shared" / "realdata"], ids=["fixtures", "realdata"])
def test_every_address_in_the_files(root):
    if not root.is_dir():
        pytest.skip(f"{root} is absent: this test reads it in place (never copied into the checkout)")
    found = {m.decode() for f in sorted(root.rglob("*")) if f.is_file() for m in ADDRESS.findall(f.read_bytes())}
    found = sorted(found)
    assert len(found) > 20, f"{root}: only {len(found)} addresses found"
    assert same(found) > 5


def test_the_whole_ipv4_space():
    """Every /16's first and last address and four random ones inside it (393,216 addresses): the RIRs
    delegate /24s and larger, so a table that differs in any /16 shows up here."""
    rnd = random.Random(SEED)
    ips = []
    for hi in range(65536):
        base = hi << 16
        for low in (0, 0xFFFF, *(rnd.randrange(65536) for _ in range(4))):
            ips.append(str(ipaddress.IPv4Address(base | low)))
    assert same(ips) > 200_000


def test_the_ipv6_registries():
    """Random addresses under the prefixes the RIRs hand out (2001::/16, 2400::/12 … 2c00::/12), and some
    under every /16 of 2000::/3 and outside it."""
    rnd = random.Random(SEED)
    prefixes = [(0x2001, 16), (0x240, 12), (0x260, 12), (0x280, 12), (0x2A0, 12), (0x2C0, 12)]
    ips = []
    for top, bits in prefixes:
        for _ in range(40_000):  # a random /32 under the prefix, then a random address in it
            head = (top << (128 - bits)) | (rnd.getrandbits(32 - bits) << 96)
            ips.append(str(ipaddress.IPv6Address(head | rnd.getrandbits(96))))
    for top in range(0x0000, 0x10000, 0x0100):
        ips.append(str(ipaddress.IPv6Address((top << 112) | rnd.getrandbits(112))))
    assert same(ips) > 15_000


def test_texts_that_are_almost_addresses():
    """The parse: both sides use Rust's ``IpAddr::from_str`` (the wheel's rustc and this one's), and the
    reference's ``country_of`` turns anything iptocc raises on into None."""
    texts = ["8.8.8.8", "8.8.8.8 ", " 8.8.8.8", "08.8.8.8", "8.8.8.08", "8.8.8", "8.8.8.8.8", "8.8.8.256",
             "0x8.8.8.8", "8.8.8.8/32", "8.8.8.8:5060", "[2001:638::1]", "2001:638::1%eth0", "2001:0638::1",
             "2001:638:0:0:0:0:0:1", "2001:638::1.2.3.4", "::ffff:8.8.8.8", "::8.8.8.8", "2001:638::1::",
             "2001:638:::1", "20011:638::1", "2001:638::g", "\u0668.\u0668.\u0668.\u0668", "８.８.８.８", "8.8.8.8\n",
             "8.8.8.8\x00", "", " ", ":", "::", "1.0.0.1", "1.0.0.0", "255.255.255.255", "0.0.0.0", "224.0.0.1",
             "100.64.0.1", "192.0.2.1", "2001:db8::1", "fe80::1", "fc00::1", "ff02::1", "\ud800", "8.8.8.8\udfff",
             "2001:638::" + ":".join(["1"] * 6), "1" * 1000, ":" * 1000]
    assert same(texts) >= 4
    with pytest.raises(TypeError):
        _engine.country_of(b"8.8.8.8")


def test_the_cache_answers_as_the_table_does():
    """The reference answers from a cache once it has asked; a flood of new addresses clears it. The
    engine has no cache (a lookup is a search of a table in memory); the answers stay the same either way."""
    ips = [f"{a}.{b}.7.9" for a in (1, 8, 41, 77, 200) for b in range(0, 256, 7)]
    countries._cache.clear()
    first = [country_of(ip) for ip in ips]
    again = [country_of(ip) for ip in ips]  # from the cache
    countries._cache.clear()
    assert first == again == _engine.countries_of(ips)
