"""``python -m streams.audit``: docs/audit-checks.md, every check with what it finds and its guide section."""

from streams.audit import all_checks as checks


def markdown() -> str:
    lines = ["# Audit checks", "",
             "Generated from the audit modules (`python -m streams.audit > docs/audit-checks.md`, `make schema`); a",
             "test keeps it in step. docs/audit.md says how `tollguard audit` works.", "",
             "| check | finds | guide section |", "|---|---|---|"]
    for cid, (what, guide) in sorted(checks().items()):
        lines.append(f"| `{cid}` | {what.replace('|', '/')} | {guide.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
