"""streams.shells.gcpolicy: every process that judges events treats the collector alike (replay as the worker)."""
import subprocess
import sys
from pathlib import Path

import streams.shells.replay as replay_shell
from streams.cli import main
from streams.shells.gcpolicy import YOUNG

ROOT = Path(__file__).resolve().parents[3]


def test_settling_freezes_what_start_up_left_and_collects_young_objects_less_often():
    # in a child: freezing pytest's own heap would outlive this test
    code = ("import gc; from streams.shells.gcpolicy import settle_after_startup; before = gc.get_freeze_count(); "
            "settle_after_startup(); print(before, gc.get_freeze_count(), gc.get_threshold()[0])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    before, after, young = map(int, out.split())
    assert before == 0 and after > 1_000  # what start-up built (the interpreter and its modules)
    assert young == YOUNG


def test_replay_settles_the_collector_once_start_up_is_done_and_before_the_first_event(monkeypatch, capsys):
    calls = []
    real_run = replay_shell.run
    monkeypatch.setattr(replay_shell, "settle_after_startup", lambda: calls.append("settled"))
    monkeypatch.setattr(replay_shell, "run", lambda *a, **k: (calls.append("run"), real_run(*a, **k))[1])
    assert main(["replay", "--no-model", "-q", "--format", "jsonl", str(ROOT / "fixtures" / "sample-events.jsonl")]) == 0
    assert calls == ["settled", "run"]
    assert capsys.readouterr().out.count("\n") > 10  # it did judge the sample day
