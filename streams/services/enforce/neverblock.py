"""The one place that decides whether an address may be blocked (``never_block`` in enforce.yaml).

Every backend asks :class:`NeverBlock` before it hands an address onward: the target of a
``block_ip`` (nftables, fail2ban, command, webhook alike) and the ``from_ip`` of any action (a
lock of an account *for* a source is a block of that source for that account). An address is
refused, with the reason logged, when it

- is not one plain IP address, or carries an IPv6 scope id (``fe80::1%eth0``: which interface
  it names is the sender's word, and ``::ffff:10.0.0.1%x`` would otherwise slip the check);
- lies in :data:`ALWAYS` (unspecified, loopback, multicast, broadcast) or is one of this host's
  own addresses: these cut the host off from itself, and no option unlocks them;
- lies in the operator's ``never_block`` networks (enforce.yaml, top level or per backend);
- lies in :data:`DEFAULTS` (RFC 1918, link-local, CGNAT, unique-local), unless the operator
  named a network inside them in ``unsafe_allow_block`` (logged as a warning at every start).

The host's own addresses are read at start (``ip -j addr``, else the resolver and the source
address of the default routes) and read again at most once a minute, so a new DHCP lease is
covered without restarting.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import subprocess
import time
from typing import Callable, Iterable

from streams.kafka.config import ConfigError

log = logging.getLogger("tollguard.enforce")

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Net = ipaddress.IPv4Network | ipaddress.IPv6Network

# never blocked, whatever the configuration says: these would cut the host off from itself
ALWAYS = {"0.0.0.0/8": "'this network'", "127.0.0.0/8": "loopback", "::/128": "the unspecified address",
          "::1/128": "loopback", "224.0.0.0/4": "multicast", "ff00::/8": "multicast",
          "255.255.255.255/32": "broadcast"}
# never blocked unless `unsafe_allow_block` names a network inside them: the LAN, the carrier's NAT
DEFAULTS = {"10.0.0.0/8": "RFC 1918 private", "172.16.0.0/12": "RFC 1918 private",
            "192.168.0.0/16": "RFC 1918 private", "169.254.0.0/16": "link-local", "fe80::/10": "link-local",
            "100.64.0.0/10": "CGNAT (RFC 6598) shared", "fc00::/7": "unique-local (RFC 4193)"}
HOST_TTL = 60.0  # seconds between readings of the host's own addresses


class Refused(ValueError):
    """This backend will not act on this target (e.g. not an IP address); ``str()`` is the reason."""


class NotAnAddress(Refused):
    """The text is not an IP address at all (an account, a number)."""


def parse_address(text: str, what: str = "target") -> IP:
    """``text`` as one IP address (an IPv4-mapped IPv6 one as IPv4), or :class:`Refused` (scope ids too)."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise NotAnAddress(f"{what} is not an IP address") from None
    if ip.version == 6 and ip.scope_id is not None:
        raise Refused(f"{what} carries an IPv6 scope id (%…): refused, an interface name is not an address")
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip


def networks(raw, key: str, where: str) -> tuple[Net, ...]:
    """A YAML list of addresses or networks (``key`` names it in errors)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: `{key}` must be a list of addresses or networks")
    nets = []
    for n in raw:
        try:
            nets.append(ipaddress.ip_network(n))
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: `{key}` holds {n!r}, which is not an address or network") from None
    return tuple(nets)


def _nets(table: dict) -> tuple[tuple[Net, str], ...]:
    return tuple((ipaddress.ip_network(n), why) for n, why in table.items())


class NeverBlock:
    """Which addresses may never be blocked; :meth:`check` refuses them with the reason."""

    def __init__(self, extra: Iterable[Net] = (), allowed: Iterable[Net] = (), host: "HostAddresses | None" = None):
        self.extra, self.allowed = tuple(extra), tuple(allowed)
        self.host = host or HostAddresses()

    @classmethod
    def configure(cls, raw: dict, where: Callable[[str], str],
                  host: Callable[[], frozenset] | None = None) -> "NeverBlock":
        """From enforce.yaml's top level: ``never_block`` (added) and ``unsafe_allow_block`` (carved out of
        :data:`DEFAULTS`); ``where(key)`` names the file and line of a key in errors."""
        allowed = networks(raw.get("unsafe_allow_block"), "unsafe_allow_block", where("unsafe_allow_block"))
        for net in allowed:
            if not any(net.version == d.version and net.subnet_of(d) for d, _ in _nets(DEFAULTS)):
                raise ConfigError(f"{where('unsafe_allow_block')}: `unsafe_allow_block` holds {net}, which is not inside a default "
                                  f"never-block network ({', '.join(DEFAULTS)}); loopback, multicast and "
                                  "the host's own addresses can never be allowed")
        return cls(networks(raw.get("never_block"), "never_block", where("never_block")), allowed,
                   HostAddresses(host))

    def plus(self, extra: Iterable[Net]) -> "NeverBlock":
        """The same list with a backend's own ``never_block`` networks added (one reading of the host)."""
        return NeverBlock(self.extra + tuple(extra), self.allowed, self.host)

    def reason(self, ip: IP) -> str | None:
        """Why ``ip`` may never be blocked, or None when it may be."""
        for net, why in _nets(ALWAYS):
            if ip in net:
                return f"is in {net} ({why}), which is never blocked"
        if ip in self.host.current():
            return "is one of this host's own addresses, which are never blocked"
        for net in self.extra:
            if ip in net:
                return f"is in {net}, listed in never_block"
        if any(ip in net for net in self.allowed):
            return None
        for net, why in _nets(DEFAULTS):
            if ip in net:
                return f"is in {net} ({why}), never blocked by default (see unsafe_allow_block)"
        return None

    def check(self, text: str, what: str = "target") -> IP:
        """``text`` as an address that may be blocked, or :class:`Refused` saying why not."""
        ip = parse_address(text, what)
        why = self.reason(ip)
        if why:
            raise Refused(f"{what} {ip} {why}")
        return ip

    def warnings(self) -> list[str]:
        """One loud line per ``unsafe_allow_block`` network, for the log at every start."""
        return [f"never_block: {net} MAY BE BLOCKED (unsafe_allow_block): it lies in a network never blocked by "
                "default; a forged or spoofed source there can cut off your own LAN or carrier NAT"
                for net in self.allowed]

    def summary(self) -> list[str]:
        """What is never blocked, for the log at start (the unsafe carve-outs are warned about apart)."""
        own = ", ".join(sorted(map(str, self.host.current()))) or "none found"
        return [f"never blocked: {', '.join(ALWAYS)} and this host's addresses ({own})",
                "never blocked by default: " + ", ".join(n for n in DEFAULTS)
                + (f"; added: {', '.join(map(str, self.extra))}" if self.extra else "")]


class HostAddresses:
    """This host's addresses, read again when older than :data:`HOST_TTL` (``read`` is injectable)."""

    def __init__(self, read: Callable[[], frozenset] | None = None, clock: Callable[[], float] = time.monotonic):
        self.read, self.clock = read or host_addresses, clock
        self._known: frozenset = frozenset()
        self._at: float | None = None

    def current(self) -> frozenset:
        now = self.clock()
        if self._at is None or now - self._at >= HOST_TTL:
            self._known, self._at = frozenset(self.read()), now
        return self._known


def host_addresses() -> frozenset:
    """Every address of this host: ``ip -j addr`` (iproute2), else the resolver's name for the host and
    the source address of the default routes (stdlib; no packet is sent)."""
    found = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    listed = _ip_addr()
    if listed is None:
        log.warning("never_block: `ip -j addr` did not run; this host's own addresses come from its name and "
                    "default routes only (install iproute2 for all of them)")
        listed = _resolver() | _route_sources()
    return frozenset(found | listed)


def _ip_addr() -> set | None:
    try:
        p = subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, text=True, timeout=5)
        ifaces = json.loads(p.stdout) if p.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if not isinstance(ifaces, list):
        return None
    out = set()
    for iface in ifaces:
        for a in iface.get("addr_info", []) if isinstance(iface, dict) else []:
            out |= _plain({a.get("local")} if isinstance(a, dict) else set())
    return out


def _resolver() -> set:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        return set()
    return _plain({info[4][0] for info in infos})


def _route_sources() -> set:
    """The address this host would send from towards each family's documentation range (connect on UDP
    picks a route and a source; nothing is sent)."""
    out = set()
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                out.add(s.getsockname()[0])
        except OSError:
            continue
    return _plain(out)


def _plain(texts: set) -> set:
    out = set()
    for t in texts:
        try:
            out.add(ipaddress.ip_address(str(t).split("%", 1)[0]))
        except ValueError:
            continue
    return out
