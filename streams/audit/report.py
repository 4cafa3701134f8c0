"""Findings as a table, JSON lines or SARIF 2.1.0 (what code-scanning tools read); a baseline of
accepted findings; the exit status ``--fail-on`` asks for. Every field is escaped for the terminal,
and none holds a secret (the checks never put one there)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from streams.audit import RANK, SEVERITIES, Finding
from streams.reference.text import safe

SARIF_LEVEL = {"low": "note", "medium": "warning", "high": "error", "critical": "error"}
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def table(findings: list[Finding], looked: list[str]) -> str:
    if not findings:
        return f"no findings in {len(looked)} file(s) read"
    out = []
    for f in findings:
        out.append(f"{f.severity.upper():8} {safe(f.file, 200)}:{f.line}  [{f.check}] {safe(f.subject, 80)}: "
                   f"{safe(f.message, 300)}\n         guide: {safe(f.guide, 200)}\n         fix: {safe(f.fix, 300)}")
    counts = {s: sum(1 for f in findings if f.severity == s) for s in reversed(SEVERITIES)}
    out.append(f"{len(findings)} finding(s) in {len(looked)} file(s) read: "
               + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return "\n".join(out)


def jsonl(findings: list[Finding]) -> str:
    return "".join(json.dumps(f.as_dict(), ensure_ascii=True) + "\n" for f in findings)


def sarif(findings: list[Finding], checks: dict[str, tuple[str, str]]) -> str:
    """SARIF 2.1.0: one run, a rule per check (its guide section as help), a result per finding."""
    from streams import __version__ as version
    used = sorted({f.check for f in findings} | set(checks))
    rules = [{"id": c, "name": c, "shortDescription": {"text": checks.get(c, ("", ""))[0] or c},
              "help": {"text": f"Guide: {checks.get(c, ('', ''))[1]}"}} for c in used]
    index = {c: i for i, c in enumerate(used)}
    results = [{"ruleId": f.check, "ruleIndex": index[f.check], "level": SARIF_LEVEL[f.severity],
                "message": {"text": f"{f.subject}: {f.message} Fix: {f.fix}"},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": Path(f.file).as_posix()},
                                                    "region": {"startLine": max(1, f.line)}}}],
                "partialFingerprints": {"tollguard/v1": hashlib.sha256(f.key().encode()).hexdigest()[:32]},
                "properties": {"severity": f.severity, "guide": f.guide, "subject": f.subject}}
               for f in findings]
    doc = {"$schema": SCHEMA, "version": "2.1.0",
           "runs": [{"tool": {"driver": {"name": "tollguard audit", "version": version,
                                         "informationUri": "https://example.invalid/tollguard/docs/audit.md",
                                         "rules": rules}},
                     "results": results}]}
    return json.dumps(doc, indent=1, ensure_ascii=True) + "\n"


def baseline_keys(path: str) -> set[str]:
    """The findings a ``--baseline`` file accepts: a JSON-lines file ``audit --format jsonl`` wrote."""
    keys = set()
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            keys.add(f"{rec['check']}|{rec['file']}|{rec['subject']}")
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{path}:{n}: not a finding written by `tollguard audit --format jsonl`") from None
    return keys


def failed(findings: list[Finding], fail_on: str | None) -> bool:
    return fail_on is not None and any(RANK[f.severity] >= RANK[fail_on] for f in findings)
