"""What every intake adapter shares: the error it raises and how it reads a local time stamp."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


class AdapterError(ValueError):
    """A record that looks like the format but cannot be read; the message is the reason shown with file:line."""


EPOCH = re.compile(r"\d{9,11}(\.\d+)?|\d{15,17}")  # seconds (with a fraction), or microseconds since the epoch


def local_time(naive: datetime, tz: ZoneInfo, fold: int = 0) -> datetime:
    """A wall-clock time read in ``tz``. In the repeated hour of an autumn clock change ``fold``
    picks the first (0) or second (1) occurrence; a time in the skipped spring hour is moved on."""
    d = naive.replace(tzinfo=tz, fold=fold)
    back = d.astimezone(ZoneInfo("UTC")).astimezone(tz)
    if back.replace(tzinfo=None) != naive:  # did not exist (spring forward): read as the instant after
        d = (naive + timedelta(hours=1)).replace(tzinfo=tz)
    return d


def epoch_time(text: str, tz: ZoneInfo) -> datetime | None:
    """Epoch seconds or microseconds (FreeSWITCH templates) as an aware time, else None."""
    if not EPOCH.fullmatch(text):
        return None
    v = float(text)
    if "." not in text and len(text) >= 15:
        v /= 1e6
    return datetime.fromtimestamp(v, tz)


_DATE_FIRST = {
    "ymd": ("%Y-%m-%d", "%Y/%m/%d"),
    "dmy": ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%Y/%m/%d"),
    "mdy": ("%m/%d/%Y", "%m-%d-%Y", "%Y-%m-%d", "%Y/%m/%d"),
}
_TIMES = ("%H:%M:%S.%f", "%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p", "%I:%M:%S%p")
_FORMATS = {order: tuple(f"{d} {t}" for d in dates for t in _TIMES) + dates for order, dates in _DATE_FIRST.items()}


def stamp(text: str, tz: ZoneInfo, field: str, order: str = "ymd", fold: int = 0) -> datetime | None:
    """A CDR time stamp as exports and spreadsheet re-saves write it: ISO 8601 (with or without an
    offset), ``2020/2/10 22:41`` (no seconds), ``13/01/2019 11:09:02 PM`` (``order`` says whether
    the day or the month comes first), epoch seconds or microseconds. Empty: None."""
    text = (text or "").strip().strip('"')
    if not text:
        return None
    t = epoch_time(text, tz)
    if t is not None:
        return t
    try:
        d = datetime.fromisoformat(text)
        return d if d.tzinfo else local_time(d, tz, fold)
    except ValueError:
        pass
    for fmt in _FORMATS[order]:
        try:
            return local_time(datetime.strptime(text, fmt), tz, fold)
        except ValueError:
            continue
    raise AdapterError(f"{field}: not a date-time: {text[:40]!r}")


def number(text: str, field: str) -> float | None:
    """A duration or count: seconds, or h:mm:ss / mm:ss. Empty: None; negative: refused."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        if ":" in text:
            secs = 0.0
            for p in text.split(":"):
                secs = secs * 60 + float(p)
            return secs
        v = float(text)
    except ValueError:
        raise AdapterError(f"{field}: not a {'duration' if ':' in text else 'number'}: {text[:20]!r}") from None
    if v < 0 or v != v or v == float("inf"):
        raise AdapterError(f"{field}: not a valid amount: {text[:20]!r}")
    return v
