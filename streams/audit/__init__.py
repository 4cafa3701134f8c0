"""``tollguard audit``: the open doors before the attack, read from the PBX's own configuration.

The guide's Endpoint Security ("Use Complex Credentials for SIP Registration", "Strong Password for
Manual Login"), System Security and Network Security chapters become checks on the files a PBX is
configured with: Asterisk (``streams.audit.asterisk``), FreeSWITCH (``streams.audit.freeswitch``),
Kamailio (``streams.audit.kamailio``) and tollguard's own policy (``streams.audit.policy``). Each
check gives :class:`Finding` records; :mod:`streams.audit.report` prints them as a table, JSON lines
or SARIF. A password is never written anywhere: a finding describes it ("weak (6 characters, digits
only)") and names where it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

SEVERITIES = ("low", "medium", "high", "critical")  # lowest first
RANK = {s: i for i, s in enumerate(SEVERITIES)}
MAX_FILE_BYTES = 8 * 1024 * 1024   # a configuration file larger than this is not read (reported)
MAX_FILES = 20_000                  # files looked at under one path


@dataclass(frozen=True)
class Finding:
    check: str        # the check's id, e.g. ``weak-secret`` (docs/audit.md lists them)
    severity: str     # one of SEVERITIES
    file: str
    line: int
    subject: str      # what it is about: an endpoint, a profile, a context, a policy key
    message: str      # what is wrong, never a secret
    guide: str        # the guide section it comes from
    fix: str

    def key(self) -> str:
        """What a baseline remembers: the same weakness in the same file and subject, wherever its line moves."""
        return f"{self.check}|{self.file}|{self.subject}"

    def as_dict(self) -> dict:
        return asdict(self)


class Source:
    """One configuration file: its text and where it came from (lines counted from 1)."""

    def __init__(self, path: Path, text: str):
        self.path, self.text = path, text

    @property
    def name(self) -> str:
        return str(self.path)


def read(path: Path) -> Source | None:
    """The file's text (undecodable bytes replaced), or None when it is too large to be a configuration."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        return Source(path, path.read_bytes().decode("utf-8", errors="replace"))
    except OSError:
        return None


SKIPPED_DIRS = {"node_modules", "__pycache__", "site-packages", "dist-packages"}  # and every hidden folder


def files_under(paths: list[str]) -> list[Path]:
    """Every regular file under ``paths`` (a file stands for itself), sorted, at most MAX_FILES each. Hidden
    folders (``.git``, ``.venv``, ``.cache``) and package trees are not walked into: no PBX keeps its
    configuration there, and they would use up the cap before the configuration is reached."""
    import os
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            found: list[Path] = []
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
                found.extend(Path(root) / n for n in names if not (Path(root) / n).is_symlink())
                if len(found) >= MAX_FILES:
                    break
            out.extend(sorted(found)[:MAX_FILES])
    return out


def audit(paths: list[str]) -> tuple[list[Finding], list[str]]:
    """Every finding of every check on what ``paths`` hold, and what was looked at (for the report)."""
    from streams.audit import asterisk, freeswitch, kamailio, policy
    files = files_under(paths)
    findings: list[Finding] = []
    seen: list[str] = []
    for module in (asterisk, freeswitch, kamailio, policy):
        got, looked = module.audit(files)
        findings.extend(got)
        seen.extend(looked)
    findings.sort(key=lambda f: (-RANK[f.severity], f.file, f.line, f.check, f.subject))
    return findings, seen


def all_checks() -> dict:
    """Every check id: (what it finds, the guide section), from every audit module."""
    from streams.audit import asterisk, freeswitch, kamailio, policy
    out: dict = {}
    for m in (asterisk, freeswitch, kamailio, policy):
        out.update(getattr(m, "CHECKS", {}))
    return out
