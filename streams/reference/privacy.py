"""Pseudonymised output for carriers that may not keep phone numbers and IPs in clear (GDPR).

``privacy`` in a policy (per tenant)::

    privacy: {mask_numbers: last4, hash_ips: true, salt_env: TOLLGUARD_PII_SALT}

applies to what tollguard *writes for people*: alerts (subject, summary, evidence), the reason
text of actions, and the dead-letter queue. Detection itself, the per-key state and the targets
of actions keep clear values (a block must name the real address). Numbers keep their last four
digits (``last4``: ``+44xxxxxx0000``) or none (``all``); IP addresses become ``ip:`` and 12 hex
digits of an HMAC-SHA256 under a secret salt, the same for the same address (so an analyst can
still follow one source across alerts) and not reversible without the salt.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
from functools import lru_cache
from typing import Any

NUMBER = re.compile(r"\+?\d(?:[\d \-]{5,}\d)")      # seven or more digits, with spaces or dashes between
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%\w+)?(?![\w:])")
KEEP_KEYS = frozenset({"alert_id", "action_id", "incident_id", "rule", "service", "trunk", "kind",
                       "phase", "country", "number_type", "mode", "severity"})  # identifiers, not personal data
IDS = frozenset({"call_id"})  # the PBX's own identifier: kept to find the CDR, but a SIP Call-ID's @host IP is hashed


class Privacy:
    def __init__(self, mask_numbers: str = "none", hash_ips: bool = False, salt: bytes = b""):
        self.mask_numbers, self.hash_ips, self.salt = mask_numbers, hash_ips, salt
        self.active = mask_numbers != "none" or hash_ips
        self._ip = lru_cache(maxsize=65536)(self._ip_token)

    def text(self, s: str) -> str:
        """Every number and IP address in ``s`` masked."""
        if not self.active or not s:
            return s
        if self.hash_ips:
            s = self._hash_ips(s)
        if self.mask_numbers != "none":
            s = NUMBER.sub(self._number, s)
        return s

    def value(self, v: Any, key: str = "") -> Any:
        if key in KEEP_KEYS:
            return v
        if key in IDS and isinstance(v, str):
            return self._hash_ips(v) if self.hash_ips else v
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, dict):
            return {k: self.value(x, k) for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(x, key) for x in v]
        return v

    def _hash_ips(self, s: str) -> str:
        return IPV6.sub(self._ip_match, IPV4.sub(self._ip_match, s))

    def _number(self, m: re.Match) -> str:
        digits = [c for c in m.group() if c.isdigit()]
        keep = 4 if self.mask_numbers == "last4" else 0
        head = "+" if m.group().startswith("+") else ""
        return head + "x" * (len(digits) - keep) + "".join(digits[len(digits) - keep:])

    def _ip_match(self, m: re.Match) -> str:
        text = m.group()
        try:
            ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            return text
        return self._ip(text)

    def _ip_token(self, text: str) -> str:
        return "ip:" + hmac.new(self.salt, text.encode(), hashlib.sha256).hexdigest()[:12]


NONE = Privacy()


def from_policy(setting) -> Privacy:
    """The Privacy of a policy's ``privacy`` block (None: off). Raises ValueError without a salt."""
    if setting is None or (setting.mask_numbers == "none" and not setting.hash_ips):
        return NONE
    salt = b""
    if setting.hash_ips:
        value = os.environ.get(setting.salt_env, "")
        if len(value) < 16:
            raise ValueError(f"privacy.hash_ips needs a secret of at least 16 characters in ${setting.salt_env} "
                             "(without one, hashed IPv4 addresses can be reversed by trying all 2^32)")
        salt = value.encode()
    return Privacy(setting.mask_numbers, setting.hash_ips, salt)
