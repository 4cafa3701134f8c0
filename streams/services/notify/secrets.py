"""Secrets out of every log line and error: known values replaced by ``***``, URL credentials too."""

from __future__ import annotations

import logging
import re

_URL_USER = re.compile(r"(\w+://)[^/@\s]+@")
MIN_LEN = 4  # shorter values (a port, "on") would blot out ordinary words


class Redactor:
    def __init__(self):
        self._values: set[str] = set()

    def add(self, *values) -> None:
        for v in values:
            if isinstance(v, str) and len(v) >= MIN_LEN:
                self._values.add(v)

    def __call__(self, text) -> str:
        text = str(text)
        for v in sorted(self._values, key=len, reverse=True):  # a URL before the token inside it
            if v in text:
                text = text.replace(v, "***")
        return _URL_USER.sub(r"\1***@", text)


class RedactFilter(logging.Filter):
    """On a handler: the record's message and traceback are redacted before any formatter sees them."""

    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor(record.getMessage())
        record.args = None
        if record.exc_info:
            trace = logging.Formatter().formatException(record.exc_info)
            record.msg = f"{record.msg}\n{self.redactor(trace)}"  # in the message: the JSON formatter shows it too
            record.exc_info, record.exc_text = None, None
        return True


def install(redactor: Redactor) -> None:
    """Redact on every handler of the root logger (call after ``setup_logging``)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactFilter(redactor))
