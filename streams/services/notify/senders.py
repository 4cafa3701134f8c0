"""One sender per channel type; ``send(message)`` returns when the far end accepted it, raises otherwise.

A sender does not retry: the channel worker (streams/services/notify/channel.py) does, with backoff.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from streams.services.notify.chat import escape
from streams.services.notify.render import Message
from streams.services.notify.settings import AppriseChannel, EmailChannel, SyslogChannel, WebhookChannel, host_port
from streams.services.notify.syslog import SyslogSender


class DeliveryError(Exception):
    """The far end refused or did not answer; the text names no secret (it is redacted again when logged)."""


class WebhookSender:
    """POST the record as JSON, with a Slack/Mattermost/Teams ``text`` escaped for ``markup``
    (streams/services/notify/chat.py); any non-2xx answer is a failure."""

    def __init__(self, url: str, headers: dict, timeout: float, markup: str = "markdown"):
        self.url, self.headers, self.timeout, self.markup = url, headers, timeout, markup

    def send(self, msg: Message) -> None:
        chat = {"text": escape(msg.text, self.markup), "title": escape(msg.title, self.markup)}
        data = json.dumps({**msg.body, **chat}, default=str).encode()
        req = urllib.request.Request(self.url, data=data, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "tollguard-notify",
                                              **self.headers})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                status = resp.status
                resp.read(65536)
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"webhook answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"webhook unreachable: {getattr(exc, 'reason', exc)}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"webhook answered HTTP {status}")

    def close(self) -> None:
        pass


class EmailSender:
    """SMTP (smtplib): STARTTLS and login when configured; subject and body are escaped text."""

    def __init__(self, c: EmailChannel, password: str | None):
        self.host, self.port = host_port(c.smtp)
        self.c, self.password = c, password

    def build(self, msg: Message) -> EmailMessage:
        m = EmailMessage()
        m["Subject"] = msg.title[:250]
        m["From"] = self.c.from_
        m["To"] = ", ".join(self.c.to)
        m["Date"] = formatdate(localtime=False)
        m["Message-ID"] = make_msgid(domain="tollguard")
        m.set_content(msg.text + "\n\n-- \ntollguard notify, channel " + self.c.name + "\n")
        return m

    def send(self, msg: Message) -> None:
        ctx = ssl.create_default_context()
        cls = smtplib.SMTP_SSL if self.c.ssl else smtplib.SMTP
        kw = {"context": ctx} if self.c.ssl else {}
        try:
            with cls(self.host, self.port, timeout=self.c.timeout_s, **kw) as smtp:
                smtp.ehlo()
                if self.c.starttls:
                    smtp.starttls(context=ctx)
                    smtp.ehlo()
                if self.c.username:
                    smtp.login(self.c.username, self.password or "")
                smtp.send_message(self.build(msg))
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}") from None
        except OSError as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port} unreachable: {exc}") from None

    def close(self) -> None:
        pass


class AppriseSender:
    """The long tail of chat and pager services through the apprise library (its URL syntax).

    ``markdown``: escaped CommonMark, declared as such, so apprise converts it for the services whose syntax
    it knows (Slack mrkdwn, Telegram HTML, e-mail) and passes it on to those it takes for plain text, some of
    which render Markdown anyway (Mattermost, Discord). ``text``: plain text, left to apprise to escape."""

    def __init__(self, name: str, urls: list[str], markup: str = "markdown"):
        import apprise
        self.markup = markup
        self.format = apprise.NotifyFormat.MARKDOWN if markup == "markdown" else apprise.NotifyFormat.TEXT
        self.apprise = apprise.Apprise()
        for i, url in enumerate(urls):
            if not self.apprise.add(url):
                from streams.kafka.config import ConfigError
                raise ConfigError(f"channel {name}: apprise does not understand URL #{i + 1} (not shown: it may hold a token)")

    def send(self, msg: Message) -> None:
        if not self.apprise.notify(body=escape(msg.text, self.markup), title=escape(msg.title, self.markup),
                                   body_format=self.format):
            raise DeliveryError("apprise: at least one service refused the notification")

    def close(self) -> None:
        pass


def build(c, secrets: dict):
    if isinstance(c, WebhookChannel):
        return WebhookSender(secrets["url"], secrets.get("headers", {}), c.timeout_s, c.markup)
    if isinstance(c, EmailChannel):
        return EmailSender(c, secrets.get("password"))
    if isinstance(c, SyslogChannel):
        host, port = host_port(c.address)
        return SyslogSender(host, port, c.protocol, c.format, c.framing, c.facility, c.app_name, c.timeout_s)
    if isinstance(c, AppriseChannel):
        return AppriseSender(c.name, secrets["urls"], c.markup)
    raise TypeError(f"no sender for {type(c).__name__}")


def broadcast(loaded, msg: Message) -> dict[str, str | None]:
    """Send ``msg`` once on each channel of ``loaded`` (notify's settings), no routing or retry: each channel's
    name with None when it took the message, else why not (redacted). What a failed audit, backup or archive
    and `doctor --send-test` use."""
    said: dict[str, str | None] = {}
    for c in loaded.channels:
        sender = build(c, loaded.secrets.get(c.name, {}))
        try:
            sender.send(msg)
            said[c.name] = None
        except (DeliveryError, OSError) as exc:
            said[c.name] = loaded.redactor(str(exc))
        finally:
            try:
                sender.close()
            except Exception:  # noqa: BLE001 - a sender that fails to close changes nothing sent
                pass
    return said
