"""tollguard beside fail2ban on the same Asterisk log (issue 29's peer comparison), and where tollguard's time goes.

Both read ``bench/gen_asterisk_log.py``'s log from disk in a fresh process, timed on the wall clock.
fail2ban runs as ``fail2ban-regex LOG /etc/fail2ban/filter.d/asterisk.conf``, the stock filter Debian ships.
tollguard runs as ``tollguard replay --input asterisk-log --no-model``.
The profile is one more tollguard run under cProfile, split by stage by cumulative time: parsing
lines, ordering, the detector, and incidents and output.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILTER = Path("/etc/fail2ban/filter.d/asterisk.conf")
STAGES = {  # cProfile's (file suffix, function) -> stage
    ("streams/intake/seclog.py", "parse_line"): "parse lines (streams/intake/seclog.py)",
    ("streams/core/ordering.py", "in_event_time_order"): "intake and ordering (with parsing)",
    ("streams/core/detector.py", "feed"): "detector (every rule, state, alerts)",
    ("streams/domain/incidents.py", "published"): "incidents and output",
}


def log(lines: int, cache: Path) -> Path:
    path = cache / f"asterisk-{lines}.log"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_asterisk_log.py"), str(lines), str(path)], check=True)
    return path


def fail2ban(path: Path) -> dict:
    if not shutil.which("fail2ban-regex") or not FILTER.exists():
        raise RuntimeError("fail2ban-regex or its stock asterisk filter is missing (scripts/setup-system.sh installs fail2ban)")
    t0 = time.monotonic()
    r = subprocess.run(["fail2ban-regex", str(path), str(FILTER)], capture_output=True, text=True, check=True)
    wall = time.monotonic() - t0
    m = re.search(r"Lines: (\d+) lines, \d+ ignored, (\d+) matched", r.stdout)
    lines, matched = (int(m.group(1)), int(m.group(2))) if m else (count(path), None)
    return {"lines": lines, "matched": matched, "wall_s": round(wall, 2), "lines_per_s": lines / wall}


def tollguard(path: Path) -> dict:
    cmd = [sys.executable, "-m", "streams.cli", "replay", "--input", "asterisk-log", "--no-model", "--format", "jsonl",
           str(path)]
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    wall = time.monotonic() - t0
    lines = count(path)
    return {"lines": lines, "events": _events(r.stderr), "alerts": r.stdout.count('"type":"alert"'),
            "wall_s": round(wall, 2), "lines_per_s": lines / wall}


def profile(path: Path) -> dict:
    """Share of tollguard's run per stage (cumulative time under cProfile, which slows it evenly enough to compare)."""
    out = path.parent / "peer.prof"
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "streams.cli", "replay", "--input",
                    "asterisk-log", "--no-model", "-q", "--format", "jsonl", str(path)],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    import pstats
    stats = pstats.Stats(str(out)).stats
    total = max(ct for (_, _, _, ct, _) in stats.values())
    shares = {}
    for (file, _, fn), (_, _, _, ct, _) in stats.items():
        for (suffix, name), stage in STAGES.items():
            if fn == name and file.endswith(suffix):
                shares[stage] = round(ct / total, 3)
    return shares


def count(path: Path) -> int:
    return sum(1 for _ in path.open("rb"))


def _events(stderr: str) -> int | None:
    m = re.search(r"([\d,]+) events", stderr)
    return int(m.group(1).replace(",", "")) if m else None


def table(r: dict) -> str:
    f, t = r["fail2ban"], r["tollguard"]
    L = ["| tool | lines | wall s | lines/s | found |", "|---|---:|---:|---:|---|",
         f"| `fail2ban-regex` (stock asterisk filter) | {f['lines']:,} | {f['wall_s']:.2f} | {f['lines_per_s']:,.0f} | "
         f"{f['matched']:,} failure lines matched |",
         f"| `tollguard replay --input asterisk-log --no-model` | {t['lines']:,} | {t['wall_s']:.2f} | "
         f"{t['lines_per_s']:,.0f} | {t['events'] or 0:,} events judged, {t['alerts']:,} alerts |",
         "", f"**tollguard / fail2ban: {t['lines_per_s'] / f['lines_per_s']:.2f}×** (target ≥ 2×, issue 29).", ""]
    if r.get("profile"):
        L += ["Where tollguard's time goes (cumulative share of one run under cProfile):", "",
              "| stage | share |", "|---|---:|"]
        L += [f"| {stage} | {share:.0%} |" for stage, share in r["profile"].items() if share]
    return "\n".join(L)
