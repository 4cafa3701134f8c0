"""CDR exports to the event contract: one row in, one event dict out (or ``AdapterError``, or None
for a row that is no call to a number). Pure functions; ``streams.intake`` reads the files.

- ``asterisk-csv``: ``cdr_csv`` Master.csv (no header): accountcode, src, dst, dcontext, clid,
  channel, dstchannel, lastapp, lastdata, start, answer, end, duration, billsec, disposition,
  amaflags[, uniqueid, userfield[, peeraccount, linkedid, sequence]].
- ``freeswitch-csv``: ``mod_cdr_csv`` default template: caller_id_name, caller_id_number,
  destination_number, context, start_stamp, answer_stamp, end_stamp, duration, billsec,
  hangup_cause, uuid, bleg_uuid, accountcode, read_codec, write_codec.
- ``yeastar-csv``: Yeastar P/S-Series export with its header (Time, Call From, Call To, …, ID,
  DID/DDI, Call ID).
- ``3cx-csv``: the 3CX CDR service's output (historyid, callid, duration, time-start,
  time-answered, time-end, reason-terminated, from-no, to-no, from-dn, to-dn, dial-no, …,
  from-type, to-type, final-type, …).
- ``csv --map``: any layout, its columns named in a map file (``streams.intake.mapped``).

What the columns mean (direction, extensions, pseudo-destinations, trunks) is the policy's
``cdr:`` section (``streams.policy.meaning``).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from streams.intake.common import AdapterError, number, stamp
from streams.policy.meaning import CdrMeaning, trunk_of
from streams.reference.text import safe

AST_COLUMNS = ["accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
               "start", "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield",
               "peeraccount", "linkedid", "sequence"]
_AST_DISPOSITION = {"ANSWERED": "answered", "NO ANSWER": "no_answer", "BUSY": "busy", "FAILED": "failed",
                    "CONGESTION": "failed"}


def ast_disposition(text: str) -> str | None:
    """An Asterisk disposition as the event contract's (None when the row leaves it empty); a word Asterisk
    never writes (``ANSWRED``) is the row's mistake, refused with its reason rather than read as unknown."""
    t = text.strip().upper()
    if not t:
        return None
    d = _AST_DISPOSITION.get(t)
    if d is None:
        raise AdapterError(f"unknown disposition {safe(text, 40)!r} (Asterisk writes ANSWERED, NO ANSWER, BUSY, FAILED "
                           "or CONGESTION)")
    return d


class Row:
    """What every layout gives, before the meaning is applied."""

    def __init__(self, meaning: CdrMeaning, tz: ZoneInfo, tenant: str):
        self.meaning, self.tz, self.tenant = meaning, tz, tenant

    def times(self, start: str, answer: str, end: str, duration: float | None, names=("start", "answer", "end")):
        """Start, answer and end; in the repeated hour of a clock change the fold that agrees with the duration."""
        order = self.meaning.date_order
        s = stamp(start, self.tz, names[0], order)
        if s is None:
            raise AdapterError(f"missing {names[0]}")
        a, e = stamp(answer, self.tz, names[1], order), stamp(end, self.tz, names[2], order)
        t0 = s.timestamp()  # instants, not wall times: a fold changes the offset, not the wall time
        if e is not None and duration is not None and abs(e.timestamp() - t0 - duration) > 1800:
            for fold in (1, 0):
                alt = stamp(end, self.tz, names[2], order, fold=fold)
                if abs(alt.timestamp() - t0 - duration) <= 1800:
                    e = alt
                    break
            else:
                e = datetime.fromtimestamp(t0 + duration, self.tz)  # the duration is what the PBX measured
        if a is not None and (a.timestamp() < t0 or (e is not None and a.timestamp() > e.timestamp())):
            a = stamp(answer, self.tz, names[1], order, fold=1)
            if a.timestamp() < t0 or (e is not None and a.timestamp() > e.timestamp()):
                a = None
        return s, a, e

    def event(self, **fields) -> dict:
        fields.setdefault("tenant", self.tenant)
        return {"type": "cdr", **{k: v for k, v in fields.items() if v is not None and v != ""}}


def asterisk_row(fields: list[str], row: Row) -> dict | None:
    if len(fields) < 16:
        raise AdapterError(f"Asterisk Master.csv rows have at least 16 columns, this one has {len(fields)}")
    r = dict(zip(AST_COLUMNS, (f.strip() for f in fields)))
    m = row.meaning
    src = r["src"] or (trunk_of(r["channel"], m) or "")
    dst = r["dst"]
    if m.is_pseudo(dst):
        return None  # s, t, h, IVR and voicemail destinations: no number was dialled
    if not src:
        raise AdapterError("missing src (and no caller in channel)")
    direction = m.direction(r["dcontext"], src, dst)
    duration = number(r["duration"], "duration")
    start, answer, end = row.times(r["start"], r["answer"], r["end"], duration)
    call_id = (r.get("linkedid") if m.group_legs else None) or r.get("uniqueid") or _row_id(fields)
    trunk = None
    if direction != "internal":
        trunk = trunk_of(r["channel"] if direction == "inbound" else r["dstchannel"], m)
    return row.event(start=start.isoformat(), answer=answer and answer.isoformat(), end=end and end.isoformat(),
                     src=src, dst=dst, duration=duration, billsec=number(r["billsec"], "billsec"),
                     direction=direction, disposition=ast_disposition(r["disposition"]),
                     call_id=call_id, trunk=trunk, context=r["dcontext"] or None,
                     accountcode=r["accountcode"] or None)


_FS_CAUSE = {"NORMAL_CLEARING": "answered", "NO_ANSWER": "no_answer", "ORIGINATOR_CANCEL": "no_answer",
             "NO_USER_RESPONSE": "no_answer", "USER_BUSY": "busy", "CALL_REJECTED": "failed"}
FS_COLUMNS = ["caller_id_name", "caller_id_number", "destination_number", "context", "start_stamp", "answer_stamp",
              "end_stamp", "duration", "billsec", "hangup_cause", "uuid", "bleg_uuid", "accountcode", "read_codec",
              "write_codec"]


def freeswitch_row(fields: list[str], row: Row) -> dict | None:
    if len(fields) < 11:
        raise AdapterError(f"mod_cdr_csv default rows have 15 columns, this one has {len(fields)}")
    r = dict(zip(FS_COLUMNS, (f.strip() for f in fields)))
    return freeswitch_event(r, row)


def freeswitch_event(r: dict, row: Row) -> dict | None:
    """A FreeSWITCH record by column name (the default template, or a custom one through a map)."""
    m = row.meaning
    for name in ("caller_id_number", "destination_number", "start_stamp", "uuid"):
        if not r.get(name):
            raise AdapterError(f"missing {name}")
    src, dst = r["caller_id_number"], r["destination_number"]
    if m.is_pseudo(dst):
        return None
    direction = m.direction(r.get("context", ""), src, dst)
    billsec = number(r.get("billsec", ""), "billsec")
    duration = number(r.get("duration", ""), "duration")
    start, answer, end = row.times(r["start_stamp"], r.get("answer_stamp", ""), r.get("end_stamp", ""), duration,
                                   ("start_stamp", "answer_stamp", "end_stamp"))
    cause = (r.get("hangup_cause") or "").upper()
    disp = _FS_CAUSE.get(cause, "failed" if cause else None)
    if disp == "answered" and not billsec:
        disp = "no_answer"
    gateway = r.get(m.gateway_column or "", "") or r.get("gateway", "") or r.get("sip_gateway_name", "")
    return row.event(call_id=r["uuid"], start=start.isoformat(), answer=answer and answer.isoformat(),
                     end=end and end.isoformat(), src=src, dst=dst, duration=duration, billsec=billsec,
                     direction=direction, disposition=disp, hangup_cause=cause or None,
                     trunk=(gateway or None) if direction != "internal" else None,
                     context=r.get("context") or None, src_ip=r.get("network_addr") or r.get("src_ip") or None)


_YS_STATUS = {"ANSWERED": "answered", "NO ANSWER": "no_answer", "BUSY": "busy", "FAILED": "failed",
              "VOICEMAIL": "answered"}


def _party(text: str) -> str:
    # "Leo Ball<1000>" -> "1000"; "1000" -> "1000"
    text = (text or "").strip()
    m = re.search(r"<([^<>]+)>\s*$", text)
    return (m.group(1) if m else text).strip()


def yeastar_row(r: dict, row: Row) -> dict | None:
    for name in ("Time", "Call From", "Call To"):
        if not (r.get(name) or "").strip():
            raise AdapterError(f"missing {name}")
    comm = (r.get("Communication Type") or "").strip().lower()
    src, dst = _party(r["Call From"]), _party(r["Call To"])
    if row.meaning.is_pseudo(dst):
        return None
    direction = comm if comm in ("inbound", "outbound", "internal") else row.meaning.direction("", src, dst)
    total = number(r.get("Call Duration", ""), "Call Duration")
    order = row.meaning.date_order if row.meaning.date_order != "ymd" else "mdy"  # Yeastar writes month first
    start = stamp(r["Time"], row.tz, "Time", order)
    status = (r.get("Status") or "").strip().upper()
    ev = row.event(start=start.isoformat(), src=src, dst=dst, duration=total,
                   billsec=number(r.get("Talk Duration", ""), "Talk Duration"), direction=direction,
                   disposition=_YS_STATUS.get(status, "failed" if status else None),
                   trunk=((r.get("Destination Trunk") if direction == "outbound" else r.get("Source Trunk")) or "").strip() or None,
                   src_ip=(r.get("Caller IP Address") or "").strip() or None,
                   call_id=(r.get("Call ID") or r.get("Uniqueid") or r.get("ID") or "").strip() or _row_id(list(r.values())),
                   did=(r.get("DID") or r.get("DID/DDI") or r.get("DDI") or "").strip() or None,
                   reason=(r.get("Reason") or "").strip() or None)
    reason = (r.get("Reason") or "").lower()
    if "pin" in reason and ("wrong" in reason or "invalid" in reason or "incorrect" in reason):
        ev["pin"] = "bad"
    elif (r.get("PIN Code") or "").strip():
        ev["pin"] = "ok"
    return ev


CX_COLUMNS = ["historyid", "callid", "duration", "time-start", "time-answered", "time-end", "reason-terminated",
              "from-no", "to-no", "from-dn", "to-dn", "dial-no", "reason-changed", "final-number", "final-dn",
              "bill-code", "bill-rate", "bill-cost", "bill-name", "chain", "from-type", "to-type", "final-type",
              "from-dispname", "to-dispname", "final-dispname", "missed-queue-calls"]
_CX_TYPES = {"external": "x", "internal": "i", "line": "x", "extension": "i"}


def _cx_party(text: str) -> str:
    return re.sub(r"^Ext\.", "", (text or "").strip())


def threecx_row(fields: list[str], row: Row) -> dict | None:
    if len(fields) < 23:
        raise AdapterError(f"3CX CDR rows have at least 23 columns, this one has {len(fields)}")
    r = dict(zip(CX_COLUMNS, (f.strip() for f in fields)))
    if r["historyid"].lower() in ("historyid", "call id"):
        return None  # a header row
    src = _cx_party(r["from-no"])
    dst = _cx_party(r["dial-no"] or r["to-no"])
    if not src or not dst:
        raise AdapterError("missing from-no or to-no")
    if row.meaning.is_pseudo(dst):
        return None
    kinds = (_CX_TYPES.get(r["from-type"].lower()), _CX_TYPES.get(r["to-type"].lower()))
    direction = {("i", "x"): "outbound", ("x", "i"): "inbound", ("i", "i"): "internal",
                 ("x", "x"): "inbound"}.get(kinds) or row.meaning.direction("", src, dst)
    talk = number(r["duration"], "duration")
    start, answer, end = row.times(r["time-start"], r["time-answered"], r["time-end"], None,
                                   ("time-start", "time-answered", "time-end"))
    reason = r["reason-terminated"]
    disp = "answered" if answer and talk else ("no_answer" if "cancel" in reason.lower() or not answer else "failed")
    if reason.lower() in ("failed", "noroutexists", "noroutesexists", "routebusy", "notavailable") and not talk:
        disp = "busy" if reason.lower() == "routebusy" else "failed"
    trunk = {"outbound": r["to-dn"], "inbound": r["from-dn"]}.get(direction)
    placed = _cx_placed(r, kinds[1])
    if placed is not None:  # forwarded or transferred out: the PBX pays for a leg the extension placed
        how, by, final = placed
        src, dst, direction, trunk = by, final, "outbound", r["final-dn"] or trunk
    return row.event(call_id=r["callid"] or r["historyid"], start=start.isoformat(),
                     answer=answer and answer.isoformat(), end=end and end.isoformat(), src=src, dst=dst,
                     duration=end.timestamp() - start.timestamp() if end else None, billsec=talk, direction=direction,
                     disposition=disp, trunk=trunk or None, reason=reason or None,
                     cost=_cost(r["bill-cost"]), **({how: by} if placed else {}))


def _cx_placed(r: dict, to_kind: str | None) -> tuple[str, str, str] | None:
    """(``forwarded_from`` or ``transferred_by``, the extension, the final number) of a call to an
    extension that its forwarding (``Fwd…``) or a transfer (``…Xfer…``, ``Replaced…``) sent to an
    outside number (3CX's ``reason-changed`` and ``final-*`` columns); None for any other row."""
    change, final = r["reason-changed"], _cx_party(r["final-number"])
    if not change or change.lower().startswith("failed") or to_kind != "i" or r["final-number"].startswith("Ext."):
        return None
    outside = r["final-type"].lower() in ("external", "line") or (r["final-dn"] and r["final-dn"] != final)
    if not outside or sum(c.isdigit() for c in final) < 3 or not r["to-dn"]:
        return None
    low = change.lower()
    if "fwd" in low or "forward" in low:
        return "forwarded_from", r["to-dn"], final
    if "xfer" in low or "transfer" in low or low.startswith("replaced"):
        return "transferred_by", r["to-dn"], final
    return None


def _cost(text: str) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _row_id(fields: list[str]) -> str:
    return hashlib.blake2b("\x1f".join(fields).encode(), digest_size=8).hexdigest()
