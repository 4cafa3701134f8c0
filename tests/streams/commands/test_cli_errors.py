"""Every command refuses a bad zone, a missing file and a wrong format in one line, exit 2, no traceback.

The cases come from each command's own parser, so a command or option added later is covered too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.cli import COMMANDS, build_parser

MISSING = "/nonexistent/tollguard-test/missing.file"
FILE_WORDS = ("FILE", "PATH", "DIR", "YAML", "MAP")
OUTPUTS = {"--out", "--write", "--state"}  # written, and created when missing: not a mistake
WAITS = {"tail"}  # follows files that may appear later (docs/tail.md): a missing one is waited for


def subparser(cmd: str) -> argparse.ArgumentParser:
    ap = build_parser([cmd])
    sub = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[cmd]


def required_positionals(p: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in p._actions if not a.option_strings and a.nargs != 0 and a.required
            and not isinstance(a, argparse._SubParsersAction)]


def filler(p: argparse.ArgumentParser, but: argparse.Action | None = None) -> list[str]:
    """Values for the required positionals and options (a missing file for each), so that only the
    mistake under test, or another missing file, is what the command can complain about."""
    out = []
    for a in p._actions:
        if a is but or not a.required or isinstance(a, argparse._SubParsersAction):
            continue
        value = sorted(a.choices)[0] if a.choices else MISSING
        out += [a.option_strings[-1], value] if a.option_strings else [value]
    return out


def cases() -> list[tuple[str, str, list[str]]]:
    out = []
    for cmd in COMMANDS:
        p = subparser(cmd)
        if any(isinstance(a, argparse._SubParsersAction) for a in p._actions):
            continue  # `model` and the like: their own subcommands are separate parsers (below)
        for a in p._actions:
            if "--tz" in a.option_strings:
                out.append((cmd, "zone", ["--tz", "Mars/Olympus", *filler(p, a)]))
            if a.option_strings and a.choices and a.nargs is None:
                out.append((cmd, f"choice {a.option_strings[-1]}", [a.option_strings[-1], "no-such-choice", *filler(p, a)]))
        files = [a for a in p._actions if a.option_strings and (a.metavar or "").upper().strip(".") in FILE_WORDS
                 and not set(a.option_strings) & OUTPUTS]
        for a in files:
            out.append((cmd, f"missing {a.option_strings[-1]}", [a.option_strings[-1], MISSING, *filler(p, a)]))
        if cmd not in WAITS and any((a.metavar or "").upper().strip(".") in FILE_WORDS for a in required_positionals(p)):
            out.append((cmd, "missing positional file", filler(p)))
    return out


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, TOLLGUARD_BROKER="kafka://127.0.0.1:9", TOLLGUARD_TOPIC_PREFIX="clierr",
               PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "streams.cli", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


CASES = cases()


def test_the_cases_cover_every_kind_of_mistake():
    kinds = {k.split()[0] for _, k, _ in CASES}
    assert kinds == {"zone", "choice", "missing"}, kinds
    assert len({c for c, _, _ in CASES}) >= 12


@pytest.mark.parametrize("cmd, kind, argv", CASES, ids=[f"{c}-{k}" for c, k, _ in CASES])
def test_a_mistake_ends_in_one_line_and_exit_2(cmd, kind, argv, tmp_path):
    missing = str(tmp_path / "gone" / "missing.file")  # under a fresh folder: nothing an earlier run made
    r = run([cmd, *(missing if a == MISSING else a for a in argv)], tmp_path)  # what a command leaves stays there
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.returncode == 2, (r.returncode, r.stderr[-800:])
    last = r.stderr.strip().splitlines()[-1]
    assert ("missing.file" in last or "Mars/Olympus" in last or "no-such-choice" in last), r.stderr[-800:]
