"""What the caller wrote, read as the PBX will read it, before the verdict judges it.

A SIP proxy hands the verdict the Request-URI's user part (and the From user) as it arrived:
percent-encoded where the caller chose (RFC 3261 25.1), perhaps with invisible characters in it.
The PBX behind the proxy decodes it and dials the digits, so the verdict must judge those same
digits, or ``%30%39098790000`` and ``0\\u200b9098790000`` pass where ``09098790000`` is refused.

- percent-decoding happens once, as the PBX does; a ``%`` still there after it (``%2530``: encoded
  twice) is refused rather than decoded again, since no PBX would dial it as ``0``;
- Unicode format (Cf: zero-width spaces, direction marks) and space (Zs) characters are removed;
- the number must then be a dial string (ASCII digits, ``+``, ``*``, ``#``); anything else is refused.

Refusals raise :class:`NotDialable` with a reason that never echoes the raw text (a character is
named by its code point).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

DIAL = re.compile(r"[0-9+*#]+")
DROPPED = frozenset({"Cf", "Zs"})


class NotDialable(ValueError):
    """The text is not one the verdict will judge (the reason names the first offending character)."""


def decoded(value: str) -> str:
    """Percent-decoded once, without format and space characters; refused when still encoded or controlled."""
    try:
        text = unquote(value, errors="strict") if "%" in value else value
    except UnicodeDecodeError:
        raise NotDialable("percent-encodes bytes that are not UTF-8") from None
    if "%" in text:
        raise NotDialable("percent-encoded twice (a `%` remains after decoding once)")
    text = "".join(c for c in text if unicodedata.category(c) not in DROPPED)
    bad = next((c for c in text if unicodedata.category(c).startswith("C")), None)
    if bad is not None:
        raise NotDialable(f"holds a control or unassigned character ({_name(bad)})")
    return text


def dial_string(value: str) -> str:
    """The number as the PBX will dial it: :func:`decoded`, then digits, ``+``, ``*`` and ``#`` only."""
    text = decoded(value)
    if not text:
        raise NotDialable("is empty once format and space characters are removed")
    if DIAL.fullmatch(text) is None:
        bad = next(c for c in text if not DIAL.fullmatch(c))
        raise NotDialable(f"is not a dial string: only digits, +, * and # may remain ({_name(bad)} found)")
    return text


def _name(c: str) -> str:
    return f"U+{ord(c):04X}"
