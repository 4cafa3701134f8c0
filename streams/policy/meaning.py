"""What a CDR export's columns mean: direction from the dialplan context, which numbers are
extensions, which destinations are not numbers at all, where the trunk hides in a channel name.

The policy's ``cdr:`` section (per tenant; docs/policy.md) sets it; the defaults fit Asterisk
(FreePBX/Issabel contexts), FreeSWITCH's ``public``/``default`` and most hand-written dialplans.
"""

from __future__ import annotations

import fnmatch
import re
from functools import cached_property
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Asterisk's special extensions and common non-number destinations: never dialled digits
PSEUDO_DESTINATIONS = ["s", "t", "i", "h", "o", "a", "e", "T", "fax", "voicemail", "vm*", "vmail*", "*vmail",
                       "park*", "parkedcall*", "conf*", "ivr*", "hangup", "echo", "recordings", "dpma*", "ringgroup*"]


class CdrMeaning(BaseModel):
    """The ``cdr:`` section of a tenant's policy. Context patterns are shell-style globs, matched case-blind."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    inbound_contexts: list[str] = ["from-trunk*", "from-pstn*", "*-pstn", "from-did*", "from-external*",
                                   "from-sip-external", "ext-did*", "inbound*", "incoming*", "public", "*-public"]
    outbound_contexts: list[str] = ["outbound*", "outrt*", "*-outbound", "from-internal-xfer*"]
    internal_contexts: list[str] = ["from-internal*", "internal*", "default", "ext-local*", "*-internal",
                                    "from-extensions*", "macro-dial*"]
    extension_pattern: str = Field(r"[1-9][0-9]{1,7}", description="a full-match regex for the PBX's extensions")
    pseudo_destinations: list[str] = PSEUDO_DESTINATIONS
    date_order: Literal["ymd", "dmy", "mdy"] = "ymd"
    group_legs: bool = Field(True, description="call legs sharing a linkedid are one call")
    gateway_column: Optional[str] = Field(None, description="a custom template's column naming the trunk/gateway")

    @field_validator("extension_pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"extension_pattern is not a regular expression: {exc}") from None
        if len(v) > 200:
            raise ValueError("extension_pattern is longer than 200 characters")
        return v

    @cached_property
    def _compiled(self):
        def globs(pats):
            return re.compile("|".join(fnmatch.translate(p.lower()) for p in pats) or r"(?!)")
        return (globs(self.inbound_contexts), globs(self.outbound_contexts), globs(self.internal_contexts),
                re.compile(self.extension_pattern), globs(self.pseudo_destinations))

    def context_direction(self, context: str) -> str | None:
        """inbound / outbound / internal as the context says, or None when it says nothing."""
        c = (context or "").strip().lower()
        if not c:
            return None
        inbound, outbound, internal, _, _ = self._compiled
        if inbound.match(c):
            return "inbound"
        if outbound.match(c):
            return "outbound"
        if internal.match(c):
            return "internal"
        return None

    def is_extension(self, number: str) -> bool:
        return bool(self._compiled[3].fullmatch((number or "").strip()))

    def is_pseudo(self, dst: str) -> bool:
        """A destination that is no dialled number: Asterisk's ``s``/``t``/``h``…, voicemail, a SIP user name."""
        d = (dst or "").strip()
        if not d:
            return True
        if self._compiled[4].match(d.lower()):
            return True
        return not _DIALLABLE.fullmatch(d)

    def direction(self, context: str, src: str, dst: str) -> str:
        """The context decides when it can; else extension-to-extension is internal, an external caller inbound."""
        by_context = self.context_direction(context)
        if by_context == "internal":
            return "internal" if self.is_extension(dst) else "outbound"
        if by_context:
            return by_context
        if self.is_extension(src):
            return "internal" if self.is_extension(dst) else "outbound"
        return "inbound" if self.is_extension(dst) or not src.strip() else "outbound"


# what a dialled number may look like (digits with the usual dialling marks; service codes *NN, #NN#)
_DIALLABLE = re.compile(r"[+*#]?[0-9][0-9*#+\-. ()]*|\*[0-9#*]+")

_CHANNEL = re.compile(r"^(?P<tech>[A-Za-z0-9_]+)/(?P<rest>[^,;]+?)(?:;\d)?$")
_HEX_SUFFIX = re.compile(r"-[0-9a-fA-F]{1,8}$")


def trunk_of(channel: str, meaning: CdrMeaning) -> str | None:
    """The trunk or peer a channel name names, or None (an extension's own channel, a Local channel).

    ``PJSIP/sip-intl-0000002a`` -> ``sip-intl``; ``SIP/provider-0a`` -> ``provider``; ``IAX2/peer-1``
    -> ``peer``; ``Motif/12489398620@voice.google.com-753b`` -> ``voice.google.com``;
    ``DAHDI/1-1`` -> ``DAHDI/1`` (the span); ``Local/1001@from-internal-0001;1`` -> None.
    """
    m = _CHANNEL.match((channel or "").strip())
    if not m:
        return None
    tech, rest = m.group("tech").upper(), m.group("rest")
    if tech in ("LOCAL", "PARKED", "ANNOUNCER", "CBANNOUNCE", "RECORDER", "MULTICAST", "BRIDGE"):
        return None
    if tech in ("DAHDI", "ZAP"):
        span = rest.split("/", 1)[0].split("-", 1)[0]
        return f"DAHDI/{span}" if span else None
    name = _HEX_SUFFIX.sub("", rest) if tech != "IAX2" else re.sub(r"-\d+$", "", rest)
    if "@" in name:  # Motif/number@domain, PJSIP/user@endpoint: the far side is the trunk
        name = name.rsplit("@", 1)[1]
    name = name.strip("/ ")
    if not name or meaning.is_extension(name):
        return None
    return name[:128]
