"""Input adapters: PBX CDR exports to the event contract (pure functions, used by replay and produce).

Each adapter turns one row into an event dict or raises ``AdapterError`` with a reason;
``read_events`` yields ``(source, line, raw_bytes, error)`` for every record of every file,
so unparseable rows are reported with file:line and never silently skipped.

- ``jsonl``: the contract itself, one JSON object per line.
- ``asterisk-csv``: Asterisk ``cdr_csv`` Master.csv (no header): accountcode, src, dst,
  dcontext, clid, channel, dstchannel, lastapp, lastdata, start, answer, end, duration,
  billsec, disposition, amaflags[, uniqueid[, userfield]].
- ``freeswitch-csv``: FreeSWITCH ``mod_cdr_csv`` default template: caller_id_name,
  caller_id_number, destination_number, context, start_stamp, answer_stamp, end_stamp,
  duration, billsec, hangup_cause, uuid, bleg_uuid, accountcode, read_codec, write_codec.
- ``yeastar-csv``: Yeastar P-Series CDR export with its header row (Time, Call From, Call To,
  Call Duration, Ring Duration, Talk Duration, Status, Reason, Source Trunk, Destination
  Trunk, Communication Type, DID, Outbound Caller ID, Caller IP Address, PIN Code, …).

PBX exports carry local times without an offset; ``tz`` (an IANA zone, default UTC) says
which zone they are in.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sys
from datetime import datetime
from typing import IO, Iterable, Iterator
from zoneinfo import ZoneInfo

FORMATS = ("jsonl", "asterisk-csv", "freeswitch-csv", "yeastar-csv")


class AdapterError(ValueError):
    pass


def _ts(text: str, tz: ZoneInfo, field: str, formats=("%Y-%m-%d %H:%M:%S",)) -> str | None:
    text = (text or "").strip()
    if not text:
        return None
    if re.fullmatch(r"\d{9,11}(\.\d+)?", text):  # epoch seconds
        return datetime.fromtimestamp(float(text), tz).isoformat()
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=tz).isoformat()
        except ValueError:
            continue
    try:
        d = datetime.fromisoformat(text)
        return (d if d.tzinfo else d.replace(tzinfo=tz)).isoformat()
    except ValueError:
        raise AdapterError(f"{field}: not a date-time: {text[:40]!r}") from None


def _num(text: str, field: str) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    if ":" in text:  # h:mm:ss
        parts = text.split(":")
        try:
            secs = 0.0
            for p in parts:
                secs = secs * 60 + float(p)
            return secs
        except ValueError:
            raise AdapterError(f"{field}: not a duration: {text[:20]!r}") from None
    try:
        v = float(text)
    except ValueError:
        raise AdapterError(f"{field}: not a number: {text[:20]!r}") from None
    if v < 0:
        raise AdapterError(f"{field}: negative: {text!r}")
    return v


def _require(row: dict, *names: str) -> None:
    for n in names:
        if not (row.get(n) or "").strip():
            raise AdapterError(f"missing {n}")


def _trunk_from_channel(channel: str) -> str | None:
    # "PJSIP/sip-intl-0000002a" -> "sip-intl"; "SIP/provider-00000001" -> "provider"
    m = re.match(r"^[A-Za-z0-9]+/(.+?)(?:-[0-9a-f]{6,8})?(?:;\d)?$", (channel or "").strip())
    return m.group(1) if m else None


def _is_extension(number: str) -> bool:
    return bool(re.fullmatch(r"\d{2,6}", (number or "").strip()))


_INBOUND_CONTEXT = re.compile(r"from-(trunk|pstn|did|external)|inbound|public|incoming", re.I)
_AST_DISPOSITION = {"ANSWERED": "answered", "NO ANSWER": "no_answer", "BUSY": "busy", "FAILED": "failed",
                    "CONGESTION": "failed"}

AST_COLUMNS = ["accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
               "start", "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield"]


def asterisk_row(fields: list[str], tz: ZoneInfo, tenant: str = "default") -> dict:
    if len(fields) < 16:
        raise AdapterError(f"Asterisk Master.csv rows have at least 16 columns, this one has {len(fields)}")
    row = dict(zip(AST_COLUMNS, fields))
    _require(row, "dst", "start")
    src = (row["src"] or "").strip() or (_trunk_from_channel(row["channel"]) or "").strip()
    if not src:
        raise AdapterError("missing src (and no extension in channel)")
    if _INBOUND_CONTEXT.search(row["dcontext"] or ""):
        direction = "inbound"
    elif _is_extension(row["dst"]) and _is_extension(src):
        direction = "internal"
    else:
        direction = "outbound"
    disp = _AST_DISPOSITION.get((row["disposition"] or "").strip().upper())
    ev = {"type": "cdr", "tenant": tenant, "start": _ts(row["start"], tz, "start"),
          "answer": _ts(row["answer"], tz, "answer"), "end": _ts(row["end"], tz, "end"),
          "src": src, "dst": row["dst"].strip(), "duration": _num(row["duration"], "duration"),
          "billsec": _num(row["billsec"], "billsec"), "direction": direction, "disposition": disp,
          "call_id": (row.get("uniqueid") or "").strip() or _row_id(fields)}
    trunk = _trunk_from_channel(row["dstchannel"] if direction != "inbound" else row["channel"])
    if trunk and direction != "internal":
        ev["trunk"] = trunk
    if row.get("accountcode"):
        ev["accountcode"] = row["accountcode"]  # extra field, kept
    return {k: v for k, v in ev.items() if v is not None}


_FS_CAUSE = {"NORMAL_CLEARING": "answered", "NO_ANSWER": "no_answer", "ORIGINATOR_CANCEL": "no_answer",
             "NO_USER_RESPONSE": "no_answer", "USER_BUSY": "busy", "CALL_REJECTED": "failed"}
FS_COLUMNS = ["caller_id_name", "caller_id_number", "destination_number", "context", "start_stamp", "answer_stamp",
              "end_stamp", "duration", "billsec", "hangup_cause", "uuid", "bleg_uuid", "accountcode", "read_codec",
              "write_codec"]


def freeswitch_row(fields: list[str], tz: ZoneInfo, tenant: str = "default") -> dict:
    if len(fields) < 11:
        raise AdapterError(f"mod_cdr_csv default rows have 15 columns, this one has {len(fields)}")
    row = dict(zip(FS_COLUMNS, fields))
    _require(row, "caller_id_number", "destination_number", "start_stamp", "uuid")
    src, dst = row["caller_id_number"].strip(), row["destination_number"].strip()
    if (row["context"] or "").strip() == "public" or _INBOUND_CONTEXT.search(row["context"] or ""):
        direction = "inbound"
    elif _is_extension(dst) and _is_extension(src):
        direction = "internal"
    else:
        direction = "outbound"
    billsec = _num(row["billsec"], "billsec")
    cause = (row["hangup_cause"] or "").strip().upper()
    disp = _FS_CAUSE.get(cause, "failed" if cause else None)
    if disp == "answered" and not billsec:
        disp = "no_answer"
    ev = {"type": "cdr", "tenant": tenant, "call_id": row["uuid"].strip(), "start": _ts(row["start_stamp"], tz, "start_stamp"),
          "answer": _ts(row["answer_stamp"], tz, "answer_stamp"), "end": _ts(row["end_stamp"], tz, "end_stamp"),
          "src": src, "dst": dst, "duration": _num(row["duration"], "duration"), "billsec": billsec,
          "direction": direction, "disposition": disp, "hangup_cause": cause or None}
    return {k: v for k, v in ev.items() if v is not None}


_YS_STATUS = {"ANSWERED": "answered", "NO ANSWER": "no_answer", "BUSY": "busy", "FAILED": "failed",
              "VOICEMAIL": "answered"}
_YS_TIME_FORMATS = ("%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S")


def _party(text: str) -> str:
    # "Leo Ball<1000>" -> "1000"; "1000" -> "1000"
    text = (text or "").strip()
    m = re.search(r"<([^<>]+)>\s*$", text)
    return (m.group(1) if m else text).strip()


def yeastar_row(row: dict, tz: ZoneInfo, tenant: str = "default") -> dict:
    _require(row, "Time", "Call From", "Call To")
    start = _ts(row["Time"], tz, "Time", _YS_TIME_FORMATS)
    comm = (row.get("Communication Type") or "").strip().lower()
    direction = {"inbound": "inbound", "outbound": "outbound", "internal": "internal"}.get(comm, "outbound")
    total = _num(row.get("Call Duration", ""), "Call Duration")
    talk = _num(row.get("Talk Duration", ""), "Talk Duration")
    status = (row.get("Status") or "").strip().upper()
    src, dst = _party(row["Call From"]), _party(row["Call To"])
    ev = {"type": "cdr", "tenant": tenant, "start": start, "src": src, "dst": dst, "duration": total, "billsec": talk,
          "direction": direction, "disposition": _YS_STATUS.get(status, "failed" if status else None),
          "trunk": (row.get("Destination Trunk") if direction == "outbound" else row.get("Source Trunk")) or None,
          "src_ip": (row.get("Caller IP Address") or "").strip() or None,
          "call_id": (row.get("Call ID") or row.get("Uniqueid") or "").strip() or _row_id(list(row.values()))}
    reason = (row.get("Reason") or "").lower()
    if "pin" in reason and ("wrong" in reason or "invalid" in reason or "incorrect" in reason):
        ev["pin"] = "bad"
    elif (row.get("PIN Code") or "").strip():
        ev["pin"] = "ok"
    if row.get("Reason"):
        ev["reason"] = row["Reason"]  # extra field, kept
    return {k: v for k, v in ev.items() if v is not None}


def _row_id(fields: list[str]) -> str:
    return hashlib.blake2b("\x1f".join(fields).encode(), digest_size=8).hexdigest()


def _open(path: str) -> IO[bytes]:
    return sys.stdin.buffer if path == "-" else open(path, "rb")


def read_events(paths: Iterable[str], fmt: str = "jsonl", tz: str = "UTC",
                tenant: str = "default") -> Iterator[tuple[str, int, bytes, str | None]]:
    """Every record of every file as (source, line, JSON bytes, error-or-None); nothing is skipped silently."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown input format {fmt!r} (one of {', '.join(FORMATS)})")
    zone = ZoneInfo(tz)
    for path in paths:
        fh = _open(path)
        try:
            if fmt == "jsonl":
                for n, line in enumerate(fh, 1):
                    if line.strip():
                        yield path, n, line.rstrip(b"\r\n"), None
                continue
            text = io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline="")
            reader = csv.reader(text)
            header = None
            for fields in reader:
                n = reader.line_num
                if not fields or all(not f.strip() for f in fields):
                    continue
                try:
                    if fmt == "asterisk-csv":
                        ev = asterisk_row(fields, zone, tenant)
                    elif fmt == "freeswitch-csv":
                        ev = freeswitch_row(fields, zone, tenant)
                    else:
                        if header is None:
                            header = [h.strip().lstrip("\ufeff") for h in fields]
                            if "Time" not in header or "Call To" not in header:
                                raise AdapterError("first row must be the Yeastar header (Time, Call From, Call To, …)")
                            continue
                        ev = yeastar_row(dict(zip(header, fields)), zone, tenant)
                except AdapterError as exc:
                    yield path, n, ",".join(fields).encode(), str(exc)
                    continue
                yield path, n, json.dumps(ev, separators=(",", ":")).encode(), None
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()


def decoded(records: Iterable[tuple[str, int, bytes, str | None]]):
    """Validate what ``read_events`` yields: (source, line, raw, event or None, error or None).

    A line holding a JSON array is a batch record: each element is judged alone (``record_events``).
    """
    from .events import EventError, record_events

    for source, n, raw, error in records:
        if error is not None:
            yield source, n, raw, None, error
            continue
        try:
            judged = list(record_events(raw))
        except EventError as exc:  # a batch record that is not an array of anything
            yield source, n, raw, None, exc.reason
            continue
        for _, item, event, why in judged:
            yield source, n, item, event, why
