"""``--input csv --map MAP.yaml``: a CDR layout no built-in adapter knows, its columns named in a map.

For Asterisk ``cdr_custom`` column orders, FreePBX/Issabel downloads, custom FreeSWITCH
templates and spreadsheet re-saves. docs/intake.md has the keys; an example::

    header: true            # the first row names the columns (false: columns by 0-based position)
    date_order: dmy         # 13/01/2019 11:09:02 PM (default: the policy's cdr.date_order)
    columns:
      start: calldate       # required: start, src, dst
      src: src
      dst: dst
      context: dcontext     # direction from the context (policy cdr: section), or
      # direction: calltype  with values inbound/outbound/internal (or in/out/int)
      answer: answer
      end: end
      duration: duration
      billsec: billsec
      disposition: disposition
      call_id: uniqueid
      linkedid: linkedid
      channel: channel      # trunk from the channel names (or trunk: a gateway column)
      dstchannel: dstchannel
      src_ip: network_addr
      forwarded_from: fwd_ext   # who forwarded or transferred the call (forwarding_abuse), when the export says
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streams.intake.cdr import Row, _AST_DISPOSITION, _FS_CAUSE, _row_id
from streams.intake.common import AdapterError, number
from streams.policy.meaning import trunk_of
from streams.policy.yamlfile import YamlFileError, line_of, load_path
from streams.reference.text import safe

FIELDS = ("start", "src", "dst", "context", "direction", "answer", "end", "duration", "billsec", "disposition",
          "call_id", "linkedid", "channel", "dstchannel", "trunk", "src_ip", "accountcode", "forwarded_from",
          "transferred_by", "diversion")
_DIRECTIONS = {"inbound": "inbound", "in": "inbound", "incoming": "inbound", "outbound": "outbound",
               "out": "outbound", "outgoing": "outbound", "internal": "internal", "int": "internal",
               "local": "internal"}


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    header: bool = True
    date_order: str | None = Field(None, pattern="^(ymd|dmy|mdy)$")  # applied by the Converter, once
    columns: dict[str, str | int]

    @property
    def by_header(self) -> bool:
        return self.header

    def missing(self, header: list[str]) -> list[str]:
        return [str(c) for c in self.columns.values() if str(c) not in header]

    def event(self, named: dict[str, str], fields: list[str], row: Row) -> dict | None:
        get = lambda name: (named.get(str(self.columns[name])) or "").strip() if name in self.columns else ""  # noqa: E731
        src, dst = get("src"), get("dst")
        if not get("start"):
            raise AdapterError(f"missing start (column {self.columns['start']!r})")
        if row.meaning.is_pseudo(dst):
            return None
        if not src:
            raise AdapterError(f"missing src (column {self.columns['src']!r})")
        given = _DIRECTIONS.get(get("direction").lower())
        direction = given or row.meaning.direction(get("context"), src, dst)
        duration = number(get("duration"), "duration")
        start, answer, end = row.times(get("start"), get("answer"), get("end"), duration)
        trunk = get("trunk") or (trunk_of(get("channel") if direction == "inbound" else get("dstchannel"), row.meaning)
                                 if direction != "internal" else None)
        disp = _disposition(get("disposition"))
        call_id = (get("linkedid") if row.meaning.group_legs else "") or get("call_id") or _row_id(fields)
        return row.event(start=start.isoformat(), answer=answer and answer.isoformat(), end=end and end.isoformat(),
                         src=src, dst=dst, duration=duration, billsec=number(get("billsec"), "billsec"),
                         direction=direction, disposition=disp, call_id=call_id, trunk=trunk or None,
                         context=get("context") or None, src_ip=get("src_ip") or None,
                         accountcode=get("accountcode") or None, forwarded_from=get("forwarded_from") or None,
                         transferred_by=get("transferred_by") or None, diversion=get("diversion") or None)


class MapError(ValueError):
    """A --map file that cannot be used, with the reason."""


def load_mapping(path: str) -> Mapping:
    """A map file, checked: unknown keys and missing required columns are refused with ``file:line`` and the
    reason. Read as every operator file is (:mod:`streams.policy.yamlfile`): no aliases, no key given twice."""
    try:
        data, lines = load_path(path)
    except YamlFileError as exc:
        raise MapError(str(exc)) from None
    if data is not None and not isinstance(data, dict):
        raise MapError(f"{path}:1: a map is a mapping with a columns: section")
    try:
        m = Mapping.model_validate(data or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top)"
        raise MapError(f"{path}:{line_of(lines, tuple(str(p) for p in err['loc']))}: {where}: {err['msg']}") from None
    unknown = sorted(set(m.columns) - set(FIELDS))
    if unknown:
        raise MapError(f"{path}:{line_of(lines, ('columns', unknown[0]))}: unknown column key(s) "
                       f"{', '.join(unknown)} (known: {', '.join(FIELDS)})")
    missing = [k for k in ("start", "src", "dst") if k not in m.columns]
    if missing:
        raise MapError(f"{path}:{line_of(lines, ('columns',))}: the map must name the column(s) {', '.join(missing)}")
    if not m.header:
        m = m.model_copy(update={"columns": {k: str(v) for k, v in m.columns.items()}})
    return m


CONTRACT_DISPOSITIONS = ("answered", "busy", "failed", "no_answer")


def _disposition(text: str) -> str | None:
    """A mapped column's disposition: the contract's words, Asterisk's or a FreeSWITCH hangup cause; empty is
    unknown (None); any other word is refused with the row, so a typo is reported, not read as unknown."""
    t = text.strip().upper()
    if not t:
        return None
    d = _AST_DISPOSITION.get(t) or _FS_CAUSE.get(t) or (t.lower() if t.lower() in CONTRACT_DISPOSITIONS else None)
    if d is None:
        raise AdapterError(f"unknown disposition {safe(text, 40)!r} (one of {', '.join(CONTRACT_DISPOSITIONS)}, "
                           "Asterisk's ANSWERED/NO ANSWER/BUSY/FAILED/CONGESTION, or a FreeSWITCH hangup cause)")
    return d
