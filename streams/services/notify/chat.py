"""Chat text, escaped for the syntax of the service that renders it (issue 25.8).

Every value in a message has been through :func:`streams.reference.text.safe` (no control character, no line
break), so no attacker value can start a line: block syntax (headings, lists, quotes, tables, link
definitions) is out of reach and only inline syntax is escaped here. Each markup keeps the text readable
where it is rendered and leaves the attacker's characters as literal characters:

- ``slack``: Slack's ``mrkdwn`` reads ``<url|label>``, ``<!channel>`` and ``<@U123>`` and nothing else as
  control sequences; ``&``, ``<`` and ``>`` are written ``&amp;``, ``&lt;``, ``&gt;`` as Slack documents.
- ``markdown`` (Mattermost, Teams, Rocket.Chat, Discord, and through apprise Telegram and e-mail): the
  same entities (Mattermost also reads Slack's ``<url|label>``; in Markdown they also stop autolinks and
  raw HTML) plus a CommonMark backslash before every inline markup character: ``\\`` first (an attacker's
  backslash cannot cancel ours), ``[`` and ``]`` (links, images, references), `````` ` `````` (code spans),
  ``*``, ``_``, ``~`` (emphasis, strikethrough) and ``|`` (Discord spoilers hide text).
- ``text``: only the mention rule below, for services that show plain text (apprise then escapes for the
  services whose syntax it knows).

In all three an ``@`` directly before a letter, digit or ``_`` is written as the full-width ``＠``
(U+FF20): Mattermost pings on ``@channel``/``@all``/``@here``/``@user`` wherever they stand and
Discord on ``@everyone``/``@here``, even after a backslash or mid-word; no service reads ``＠`` as a mention.

A bare URL stays as it is: chat clients may make it clickable, but what is shown is where it goes.
"""

from __future__ import annotations

import re

MARKUPS = ("markdown", "slack", "text")

_MENTION = re.compile(r"@(?=\w)")
_MARKDOWN = re.compile(r"[\\`*_~\[\]|]")


def no_mentions(text: str) -> str:
    return _MENTION.sub("\uff20", text)


def _entities(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape(text: str, markup: str) -> str:
    """``text`` (already :func:`~streams.reference.text.safe`) as literal characters in ``markup``."""
    if markup == "text":
        return no_mentions(text)
    if markup == "slack":
        return _entities(no_mentions(text))
    if markup == "markdown":
        out = _entities(_MARKDOWN.sub(r"\\\g<0>", no_mentions(text)))
        body = out.lstrip(" \t")  # leading blanks as entities: four of them would start an indented code block
        return "".join("&#32;" if c == " " else "&#9;" for c in out[:len(out) - len(body)]) + body
    raise ValueError(f"unknown markup {markup!r}")
