"""Attacker-controlled text, made safe to show a human.

User agents, account names, dialled numbers and reasons come from whoever sends SIP traffic.
Printed raw, an escape sequence retitles the analyst's terminal, ``\\r`` plus ``ESC[2K``
overwrites a real row, a newline forges whole rows, and a bidi override reverses what a number
appears to be. :func:`escape` writes every such character visibly (``\\x1b``, ``\\u202e``,
``\\n``); :func:`safe` also cuts long values. JSON output needs neither (its encoder escapes
controls); tables, logs and error messages use :func:`safe`.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the invisible format characters that reorder or hide text:
# soft hyphen, Arabic letter mark, Mongolian vowel separator, zero-width and directional marks,
# line/paragraph separators, bidi embeddings/overrides/isolates, word joiners, the BOM, interlinear
# annotation marks and the invisible tag characters.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
                    "\ufff9-\ufffb\U000e0000-\U000e007f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# The same characters as they appear in JSON bytes, escaped (\u001b, \n) or as raw UTF-8: a cheap
# test that lets clean records skip the per-field pass (a false positive only costs that pass).
HOSTILE_JSON = re.compile(
    rb"\\u00[01][0-9a-fA-F]|\\u007[fF]|\\u00[89][0-9a-fA-F]|\\u00[aA][dD]|\\u061[cC]|\\u180[eE]|\\u20[0-6][0-9a-fA-F]|"
    rb"\\u[fF][eE][fF][fF]|\\u[fF]{3}[9abAB]|\\u[dD][bB]40|\xef\xbf[\xb9-\xbb]|\xf3\xa0[\x80\x81]|\\[nrtbf]|\x7f|\xc2[\x80-\x9f\xad]|\xd8\x9c|\xe1\xa0\x8e|\xe2\x80[\x8b-\x8f\xa8-\xae]|"
    rb"\xe2\x81[\xa0-\xaf]|\xef\xbb\xbf")


def _visible(m: re.Match) -> str:
    ch = m.group()
    named = _NAMED.get(ch)
    if named:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """``text`` with every control and invisible format character written out."""
    return UNSAFE.sub(_visible, text) if UNSAFE.search(text) else text


def safe(value, limit: int = 120) -> str:
    """``value`` as a string a terminal shows as it is: escaped, and cut to ``limit`` characters."""
    text = escape(value if isinstance(value, str) else str(value))
    if len(text) > limit:
        text = f"{text[:limit - 1]}…(+{len(text) - limit + 1})"
    return text
