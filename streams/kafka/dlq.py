"""Dead-letter records: what was rejected, where it came from, and why (both shells use this shape)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone


def dead_letter(raw: bytes | None, reason: str, *, topic: str | None = None, partition: int | None = None,
                offset: int | None = None, source: str | None = None, line: int | None = None,
                index: int | None = None, privacy=None) -> bytes:
    """``index`` is the event's position when it came inside a batch record (a JSON array).

    With an active ``privacy`` (streams.reference.privacy) numbers and IPs in the raw text and the reason
    are masked, and the byte-exact copy (``raw_b64``) is left out: it could not be masked."""
    raw = raw or b""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    masked = privacy is not None and privacy.active
    if masked:
        text = privacy.text(text) if text is not None else None
        reason = privacy.text(reason)
    rec = {
        "type": "dead_letter",
        "reason": reason,
        "topic": topic, "partition": partition, "offset": offset, "index": index,
        "source": source, "line": line,
        "raw": text[:65536] if text is not None else None,
        "raw_b64": None if masked else base64.b64encode(raw[:1_048_576]).decode("ascii"),
        "masked": True if masked else None,
        "raw_bytes": len(raw),
        "rejected_at": datetime.now(timezone.utc).isoformat(),
    }
    return json.dumps({k: v for k, v in rec.items() if v is not None}).encode()
