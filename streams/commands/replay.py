"""``tollguard replay``: event files through the detection core, no broker (the shell: streams.shells.replay)."""

from __future__ import annotations

import argparse

from streams.commands.common import input_args, policy_args
from streams.core.ordering import LATENESS
from streams.state.lifecycle import MAX_KEYS

HELP = "run event files, CDR exports or security logs through the detector (no broker)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    policy_args(p)
    p.add_argument("--format", choices=["table", "jsonl"], default="table",
                   help="table (for people) or jsonl (alerts, actions and incidents as records)")
    input_args(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no summary or progress on stderr")
    p.add_argument("--lateness", type=float, default=LATENESS, metavar="SECONDS",
                   help="how far out of event-time order the input may be and still be judged in order "
                        f"(default {LATENESS:g}: files sorted by call start or end, or shuffled within hours)")
    p.add_argument("--now", metavar="TIME", help="the worker's clock (RFC 3339, epoch seconds, or 'wall'): "
                   "refuse events more than 15 min ahead of it, and at the end close the incidents it has passed, "
                   "as the worker does (default: the input's last event time closes them)")
    p.add_argument("--max-keys", type=int, default=MAX_KEYS, metavar="N",
                   help=f"keys of state held per scope before the oldest is evicted (default {MAX_KEYS:,})")
    p.add_argument("--ranges", metavar="FILE", help="high-risk number ranges for every tenant (CSV prefix,label,"
                   "source,expires; rule high_risk_range), over the policy's own")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="JSONL event files, PBX CDR exports (CSV) or PBX security logs, told apart by --input (default: from each file's first lines); '-' for stdin")


def main(args) -> int:
    from streams.shells.replay import main as replay
    return replay(args)
