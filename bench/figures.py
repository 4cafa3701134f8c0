"""Detection figures, to hold a change to "every rule's detection figures unchanged".

    python bench/figures.py OUT.json [--weeks 3] [--days 7] [--work DIR]

For each of ``--weeks`` simulated weeks (seeds 1..N, written under ``--work``, default a
temporary folder) it runs ``tollguard evaluate --format json`` (rules and the shipped model),
and for each shipped fixture and the real logs under ../shared/realdata it counts the alerts
and actions ``replay`` gives per rule and kind. Run it on two checkouts and compare the files
(``python bench/figures.py --compare A.json B.json``): any difference is printed and exits 1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "realdata"


def tollguard(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


def replay_counts(path: Path, policy: Path) -> dict:
    out = tollguard("replay", "--format", "jsonl", "--policy", str(policy), str(path))
    counts: Counter = Counter()
    for line in out.splitlines():
        rec = json.loads(line)
        if rec.get("type") == "alert":
            counts[f"alert {rec['rule']}"] += 1
        elif rec.get("type") == "action":
            counts[f"action {rec['kind']}"] += 1
        elif rec.get("type") == "incident":
            counts["incidents"] += 1
    return dict(sorted(counts.items()))


def measure(weeks: int, days: int, work: Path) -> dict:
    result: dict = {"weeks": {}, "files": {}}
    for seed in range(1, weeks + 1):
        d = work / f"week{seed}"
        if not (d / "events.jsonl").exists():
            tollguard("simulate", "--days", str(days), "--seed", str(seed), "--out", str(d))
        r = json.loads(tollguard("evaluate", "--format", "json", "--policy", str(d / "policy.yaml"), str(d)))
        result["weeks"][f"seed {seed}"] = r
        print(f"week {seed} judged", file=sys.stderr)
    policy = ROOT / "fixtures" / "policy.example.yaml"
    files = [ROOT / "fixtures" / "sample-events.jsonl", *sorted((ROOT / "fixtures" / "logs").glob("*")),
             *sorted((REAL / "security").glob("*.log"))]
    for f in files:
        if f.is_file():
            name = f"realdata/{f.relative_to(REAL)}" if f.is_relative_to(REAL) else str(f.relative_to(ROOT))
            result["files"][name] = replay_counts(f, policy)
    return result


def compare(a: dict, b: dict, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += compare(a.get(k), b.get(k), f"{where}/{k}")
        return out
    return [] if a == b else [f"{where}: {a!r} -> {b!r}"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?")
    ap.add_argument("--weeks", type=int, default=3)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--work")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args()
    if args.compare:
        diff = compare(*(json.loads(Path(p).read_text()) for p in args.compare))
        print("\n".join(diff) if diff else "no difference")
        return 1 if diff else 0
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="figures-"))
    Path(args.out).write_text(json.dumps(measure(args.weeks, args.days, work), indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
