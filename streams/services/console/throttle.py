"""Brakes on password guessing (OWASP ASVS V2.2, anti-automation): a failure budget per name and per
client address, and a cap on the argon2id verifies that run at once (each takes 64 MiB and ~0.1 s).

- :class:`LoginThrottle`: after ``failures`` failed logins within ``window`` seconds for one name, or
  from one address (an IPv6 client counts by its /64, which one host usually holds whole), further
  logins for it are refused, unchecked, until the oldest of those failures leaves the window. Memory
  is bounded: at most ``max_keys`` names and addresses are remembered, the least recently failed
  forgotten first.
- :class:`VerifySlots`: at most ``count`` verifies at once, on threads of their own (never on the event
  loop); a login waits at most ``wait`` seconds for one, and at most ``max_waiting`` logins wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor


class LoginThrottle:
    def __init__(self, failures: int = 10, window: float = 600.0, max_keys: int = 20_000, clock=time.monotonic):
        self.failures, self.window, self.max_keys, self.clock = failures, window, max_keys, clock
        self._stamps: OrderedDict[tuple[str, str], list[float]] = OrderedDict()  # key -> failure times, oldest first

    def wait(self, name: str, address: str | None) -> int:
        """Seconds until a login for ``name`` from ``address`` may be tried (0: now)."""
        now = self.clock()
        return max(self._wait(key, now) for key in _keys(name, address))

    def charge(self, name: str, address: str | None) -> tuple[int, float]:
        """Count a login about to be checked as a failure (refunded if it succeeds), unless it must wait:
        returns (seconds to wait, 0) or (0, the time charged)."""
        now = self.clock()
        keys = _keys(name, address)
        wait = max(self._wait(key, now) for key in keys)
        if wait:
            return wait, 0.0
        for key in keys:
            self._stamps.setdefault(key, []).append(now)
            self._stamps.move_to_end(key)
        while len(self._stamps) > self.max_keys:
            self._stamps.popitem(last=False)
        return 0, now

    def refund(self, name: str, address: str | None, charged: float) -> None:
        """The login succeeded: the name's failures are forgotten, the address's charge is taken back."""
        name_key, address_key = _keys(name, address)
        self._stamps.pop(name_key, None)
        stamps = self._stamps.get(address_key)
        if stamps and charged in stamps:
            stamps.remove(charged)

    def _wait(self, key: tuple[str, str], now: float) -> int:
        stamps = self._stamps.get(key)
        if not stamps:
            return 0
        del stamps[:_first_inside(stamps, now - self.window)]
        if not stamps:
            del self._stamps[key]
            return 0
        if len(stamps) < self.failures:
            return 0
        return max(1, math.ceil(stamps[-self.failures] + self.window - now))

    def __len__(self) -> int:
        return len(self._stamps)


def _first_inside(stamps: list[float], since: float) -> int:
    n = 0
    while n < len(stamps) and stamps[n] <= since:
        n += 1
    return n


def _keys(name: str, address: str | None) -> tuple[tuple[str, str], tuple[str, str]]:
    return ("name", name), ("address", client_network(address))


def client_network(address: str | None) -> str:
    """What one client is counted as: its IPv4 address, or its IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "-"
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))


class Busy(Exception):
    """No verify slot came free in time."""


class VerifySlots:
    def __init__(self, count: int = 2, wait: float = 1.0, max_waiting: int = 16):
        self.wait, self.max_waiting = wait, max_waiting
        self._free = asyncio.Semaphore(count)
        self._waiting = 0
        self._threads = ThreadPoolExecutor(max_workers=count, thread_name_prefix="tollguard-console-verify")

    @contextlib.asynccontextmanager
    async def slot(self):
        """Hold a slot; raises :class:`Busy` when none came free within ``wait`` seconds."""
        if self._waiting >= self.max_waiting:
            raise Busy()
        self._waiting += 1
        try:
            async with asyncio.timeout(self.wait):
                await self._free.acquire()
        except TimeoutError:
            raise Busy() from None
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._free.release()

    async def run(self, fn, *args):
        """Run ``fn`` on one of the ``count`` verify threads (a client that goes away does not free its thread
        early: the pool itself holds the bound)."""
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn, *args)
