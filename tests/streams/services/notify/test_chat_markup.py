"""Chat text quotes attacker data (user agents, numbers, account names): it must reach Slack, Mattermost,
Teams and the services behind apprise as the literal characters, never as a link, an image, a Slack control
sequence or a mention (issue 25.8).

The oracle is a real renderer: Python-Markdown as apprise drives it (``markdown_to_html``, CommonMark's
backslash escapes), the same conversion apprise applies before Telegram and e-mail. What a person would
see is the HTML's text, which must hold the attacker's string character for character (``@`` before a
name excepted: it is shown as the full-width ``＠``, which no chat service reads as a mention)."""

from __future__ import annotations

import html
import re

import pytest
from apprise.conversion.format import markdown_to_html
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.services.notify import render
from streams.services.notify.chat import escape
from streams.services.notify.senders import build
from streams.services.notify.settings import NotifySettings

from .conftest import incident
from .servers import Hook

ATTACKS = {
    "markdown link": "[click](https://evil.example/login)",
    "image": "![x](https://evil.example/p.png)",
    "slack link": "<https://evil.example|click>",
    "autolink": "<https://evil.example/a>",
    "html": '<a href="https://evil.example/h">x</a>',
    "backslash": "\\[undo\\](https://evil.example/b)",    # the attacker's own backslash must not cancel ours
    "code span": "`x` \\`[c](https://evil.example/c)",
    "entity": "&#91;e&#93;(https://evil.example/e) &#64;channel",
    "spoiler": "||hidden||",
    "slack mention": "<!channel> <!here> <@U0123>",
    "mention": "@channel @here @all a@everyone",
}
UA = " ".join(ATTACKS.values())
MENTION = re.compile(r"@\w")


def as_shown(value: str) -> str:
    """``value`` as a person must see it: unchanged but for ``@`` before a name."""
    return re.sub(r"@(?=\w)", "\uff20", value)


def chan(**kw):
    return NotifySettings.model_validate({"channels": [kw]}).channels[0]


def shown(markdown: str) -> str:
    """What a Markdown chat shows: the rendered HTML without its tags, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", markdown_to_html(markdown)))


def assert_literal(text: str, original: str = UA) -> None:
    """``text`` (what we sent) renders as ``original`` and nothing more: no link, no image, no raw HTML."""
    rendered = markdown_to_html(text)
    assert not re.search(r"<(a|img)\b", rendered), rendered
    assert "<" not in text and ">" not in text            # no Slack <url|label>, <!channel>, autolink, HTML
    assert not MENTION.search(text) and not MENTION.search(shown(text))
    assert shown(text) == as_shown(original)


def hostile_incident():
    return incident(subject="203.0.113.9", summary=f"user agent {UA}", tenant="acme")


def test_webhook_text_shows_links_images_and_mentions_as_literal_text(hook):
    c = chan(name="chat", type="webhook", url=hook.url)
    build(c, {"url": hook.url}).send(render.opened(hostile_incident()))
    [body] = hook.bodies
    assert body["summary"] == f"user agent {UA}"          # the JSON record keeps the raw value
    [line] = [ln for ln in body["text"].split("\n") if ln.startswith("summary:")]
    assert_literal(line.removeprefix("summary: user agent "))
    assert not re.search(r"<(a|img)\b", markdown_to_html(body["title"]))


def test_apprise_to_mattermost_gets_escaped_markdown():
    """apprise takes Mattermost for a plain-text service and passes text on unchanged, but Mattermost renders
    Markdown (and Slack's <url|label>): on the old code this delivered a live link and an @channel."""
    h = Hook()
    try:
        url = h.url.replace("http://", "mmost://").replace("/hook", "/tok3n")
        c = chan(name="mm", type="apprise", urls=[url])
        build(c, {"urls": [url]}).send(render.opened(hostile_incident()))
        [body] = h.bodies
    finally:
        h.close()
    [line] = [ln for ln in body["text"].replace("\r\n", "\n").split("\n") if ln.startswith("summary:")]
    assert_literal(line.removeprefix("summary: user agent "))


def test_slack_markup_escapes_what_slack_reads_and_nothing_else(hook):
    c = chan(name="chat", type="webhook", url=hook.url, markup="slack")
    build(c, {"url": hook.url}).send(render.opened(hostile_incident()))
    [body] = hook.bodies
    [line] = [ln for ln in body["text"].split("\n") if ln.startswith("summary:")]
    text = line.removeprefix("summary: user agent ")
    assert "<" not in text and ">" not in text and not MENTION.search(text)
    # Slack decodes &amp; &lt; &gt; and nothing else: the rest is shown as it came (no backslashes added)
    assert html.unescape(text) == as_shown(UA)
    assert "scanner_user_agent" in body["title"]


def test_markdown_is_the_default_and_the_title_is_escaped_too(hook):
    assert chan(name="c", type="webhook", url="http://a/").markup == "markdown"
    assert chan(name="c", type="apprise", urls=["json://a/"]).markup == "markdown"
    c = chan(name="chat", type="webhook", url=hook.url)
    build(c, {"url": hook.url}).send(render.opened(incident(subject="[x](https://evil.example) @here")))
    [body] = hook.bodies
    assert body["title"] == body["text"].split("\n")[0]
    assert shown(body["title"]).endswith("[x](https://evil.example) \uff20here: scanner_user_agent, registration_lockout")


def test_apprise_text_markup_leaves_the_syntax_to_apprise(hook):
    """markup: text sends plain text (apprise escapes it for the services it knows): no backslashes added,
    but @mentions are still broken."""
    url = hook.url.replace("http://", "json://")
    c = chan(name="pager", type="apprise", urls=[url], markup="text")
    build(c, {"urls": [url]}).send(render.opened(hostile_incident()))
    [body] = hook.bodies
    assert body["title"] == "[tollguard CRITICAL] acme ip 203.0.113.9: scanner_user_agent, registration_lockout"
    assert f"summary: user agent {as_shown(UA)}" in body["message"]


@pytest.mark.parametrize("kw", [{"type": "webhook", "url": "http://a/", "markup": "html"},
                                {"type": "webhook", "url": "http://a/", "markup": "text"},
                                {"type": "apprise", "urls": ["json://a/"], "markup": "slack"}])
def test_a_markup_the_channel_type_does_not_have_is_refused(kw):
    with pytest.raises(ValueError, match=r"markup\s+Input should be"):
        chan(name="c", **kw)


CHARS = st.sampled_from(list("[]()!<>|\\`*_~&#;@:/. xh") + ["https://e.example", "&#64;", "&lt;", "channel"])


@settings(max_examples=400, deadline=None)
@given(st.lists(CHARS, max_size=40).map("".join))
def test_no_attacker_string_renders_as_anything_but_itself(value):
    for text in (escape(value, "markdown"), escape(f"x {value} y", "markdown")):
        rendered = markdown_to_html(text)
        assert not re.search(r"<(a|img|code|em|strong|del)\b", rendered), (value, rendered)
        assert not MENTION.search(text)
    assert shown(escape(f"x {value} y", "markdown")) == as_shown(f"x {value} y")


@pytest.mark.parametrize("value", ["    [", "\t\tcode", "    x"])
def test_leading_blanks_never_make_a_code_block(value):
    """Found by the property above (run 2026-12-06): four leading spaces rendered as an indented code block."""
    rendered = markdown_to_html(escape(value, "markdown"))
    assert "<code" not in rendered and shown(escape(value, "markdown")).strip() == value.strip()
