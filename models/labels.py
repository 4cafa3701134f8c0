"""Training labels: the simulator's ``labels.json``, and the SOC's verdicts on incidents.

``tollguard labels --out soc-labels.json`` writes the SOC's verdicts (``tollguard resolve --verdict``,
or the console's resolve) as::

    {"source": "soc", "labels": [{"incident_id", "tenant", "subject_type", "subject", "verdict",
                                  "opened", "last_seen", "by", "note", "call_ids"}]}

What training does with them (``tollguard train --labels``, ``notebooks/retrain``):

- **confirmed fraud** (``true_positive``) is left out of the benign fit: the calls its alerts name,
  and every call of that extension from an hour before the incident opened to an hour after it
  was last seen (pumping goes on between the alerts);
- **false positives** (``false_positive``): the calls their alerts name are benign by the SOC's
  word. The fit sees each of them ``FALSE_POSITIVE_REPEAT`` more times, so the new model learns
  them as normal, and how many of them the new model still flags is reported: the metric a
  retrained model must improve.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

FALSE_POSITIVE_REPEAT = 10
AROUND = 3600.0


class LabelError(ValueError):
    """A label file that cannot be used, with the reason."""


@dataclass
class Labels:
    fraud_calls: set[str] = field(default_factory=set)
    fraud_windows: list[tuple[str, str, float, float]] = field(default_factory=list)  # tenant, ext, from, to
    false_positive_calls: set[str] = field(default_factory=set)
    incidents: int = 0

    def is_fraud(self, key: tuple) -> bool:
        """``key``: (tenant, extension, call id, start) as ``models.train.Matrix.keys`` holds them."""
        tenant, ext, call_id, ts = key[:4]
        if call_id in self.fraud_calls:
            return True
        return any(t == tenant and e == ext and a <= ts <= b for t, e, a, b in self.fraud_windows)

    def is_false_positive(self, key: tuple) -> bool:
        return key[2] in self.false_positive_calls and not self.is_fraud(key)

    @classmethod
    def load(cls, path: str | Path | None) -> "Labels":
        if not path:
            return cls()
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LabelError(f"{path}: {exc}") from None
        if isinstance(doc, dict) and "scenarios" in doc:  # the simulator's
            return cls(fraud_calls={c for s in doc["scenarios"] for c in s.get("fraud_calls", [])})
        if not isinstance(doc, dict) or doc.get("source") != "soc" or not isinstance(doc.get("labels"), list):
            raise LabelError(f"{path}: neither a simulator labels.json nor a `tollguard labels` file")
        out = cls()
        for i, lab in enumerate(doc["labels"], 1):
            try:
                out._add(lab)
            except (KeyError, TypeError, ValueError) as exc:
                raise LabelError(f"{path}: label {i}: {exc!r}") from None
        return out

    def _add(self, lab: dict) -> None:
        calls = {str(c) for c in lab.get("call_ids") or []}
        self.incidents += 1
        if lab["verdict"] == "true_positive":
            self.fraud_calls |= calls
            if lab.get("subject_type") == "extension":
                self.fraud_windows.append((lab["tenant"], lab["subject"], _ts(lab["opened"]) - AROUND,
                                           _ts(lab["last_seen"]) + AROUND))
        elif lab["verdict"] == "false_positive":
            self.false_positive_calls |= calls
        else:
            raise ValueError(f"verdict must be true_positive or false_positive, not {lab['verdict']!r}")


def _ts(text: str) -> float:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()


def from_incidents(incidents) -> list[dict]:
    """Label records from incidents joined to their alerts (``streams.commands.export``, ``--join``): those with a verdict."""
    out = []
    for r in incidents:
        if not isinstance(r, dict) or r.get("verdict") not in ("true_positive", "false_positive"):
            continue
        calls = []
        for a in r.get("alerts") or []:
            ev = a.get("evidence") if isinstance(a, dict) and isinstance(a.get("evidence"), dict) else {}
            calls += [c for c in [ev.get("call_id"), *(ev.get("call_ids") or [])] if isinstance(c, str)]
        last = next((d for d in reversed(r.get("decisions") or []) if d.get("verdict")), {})
        out.append({"incident_id": r["incident_id"], "tenant": r.get("tenant"), "subject_type": r.get("subject_type"),
                    "subject": r.get("subject"), "verdict": r["verdict"], "opened": r.get("opened"),
                    "last_seen": r.get("last_seen"), "by": last.get("by"), "note": last.get("note", ""),
                    "rules": r.get("rules") or [], "call_ids": sorted(set(calls))})
    return out
