"""`tollguard tail` against the real broker: a file that appears late, grows, is rotated and truncated,
and a stop and restart of the shipper in between; every line's event lands once, keyed like produce."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.builders import sec
from tests.kafka.conftest import ROOT

BAD = "{not an event\n"


class Tail:
    """The shipper as a subprocess (python -m streams.commands.tail: no dependence on the CLI wiring)."""

    def __init__(self, broker: str, prefix: str, state: Path, path: Path, err: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGUARD_")}
        env.update(TOLLGUARD_BROKER=f"kafka://{broker}", TOLLGUARD_TOPIC_PREFIX=prefix)
        self.err = err
        self.errf = open(err, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "streams.commands.tail", "--state", str(state), "--poll", "0.1",
                                      str(path)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.errf)

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def wait_for(self, what, timeout: float = 20.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if what():
                return
            assert self.proc.poll() is None, f"tail exited with {self.proc.returncode}:\n{self.stderr()}"
            time.sleep(0.05)
        raise AssertionError(f"waited {timeout} s in vain; tail said:\n{self.stderr()}")

    def said(self, text: str, timeout: float = 20.0) -> None:
        self.wait_for(lambda: text in self.stderr(), timeout)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.errf.close()


def append(path: Path, ids: range, partial: bool = False) -> None:
    text = "".join(json.dumps(sec(t=i, ip=f"198.51.100.{i}", account=f"acct{i}")) + "\n" for i in ids)
    with open(path, "ab") as fh:
        if partial:  # the last line in two writes, its newline last
            fh.write(text[:-20].encode())
            fh.flush()
            time.sleep(0.3)
            text = text[-20:]
        fh.write(text.encode())


def state_at(state: Path, path: Path) -> tuple[int, int, int] | None:
    """(inode, offset, line) saved for ``path``."""
    try:
        e = json.loads(state.read_text())["files"][str(path)]
    except (OSError, ValueError, KeyError):
        return None
    return e["ino"], e["offset"], e["line"]


def saved(state: Path, path: Path, line: int):
    return lambda: (s := state_at(state, path)) is not None and s[0] == path.stat().st_ino and s[2] == line \
        and s[1] == path.stat().st_size


def landed(broker: str, topic: str) -> list[tuple[bytes, dict]]:
    from kafka import KafkaConsumer
    c = KafkaConsumer(topic, bootstrap_servers=[broker], auto_offset_reset="earliest", group_id=None,
                      enable_auto_commit=False, consumer_timeout_ms=3000)
    out = [(m.key, json.loads(m.value)) for m in c]
    c.close()
    return out


def test_tail_ships_every_line_once_across_rotation_truncation_and_restart(broker, prefix, tmp_path):
    path, state = tmp_path / "security.jsonl", tmp_path / "tail-state.json"
    t = Tail(broker, prefix, state, path, tmp_path / "tail1.err")
    t.said("waiting for it")                      # started before the file exists
    append(path, range(0, 5))
    with open(path, "a") as fh:
        fh.write(BAD)                             # line 6: rejected with its line, not sent
    append(path, range(5, 8), partial=True)       # lines 7-9, the last completed later
    t.wait_for(saved(state, path, 9))             # acknowledged and saved within a second or so

    os.rename(path, tmp_path / "security.jsonl.1")
    append(tmp_path / "security.jsonl.1", range(8, 10))   # still written to the old file after the rename
    append(path, range(10, 13))                    # the new file
    t.wait_for(saved(state, path, 3))
    t.said("rotated")

    with open(path, "r+b") as fh:                  # copytruncate
        fh.truncate(0)
    t.said("truncated")
    append(path, range(13, 17))                    # 4 lines: more than the 3 before, so the saved state tells
    t.wait_for(saved(state, path, 4))
    assert t.stop() == 0, t.stderr()
    err = t.stderr()
    assert f"{path}:6: rejected: not valid JSON" in err
    assert re.search(r"^tail: 18 lines, 17 events \(17 acknowledged\), 0 skipped, 1 rejected; .*security\.jsonl "
                     r"\(jsonl\): 18 lines, 17 events, 0 skipped, 1 rejected$", err, re.M), err

    append(path, range(17, 20))                    # written while the shipper is stopped
    t2 = Tail(broker, prefix, state, path, tmp_path / "tail2.err")
    t2.wait_for(saved(state, path, 7))
    append(path, range(20, 22))
    t2.wait_for(saved(state, path, 9))
    assert t2.stop(signal.SIGINT) == 0, t2.stderr()  # Ctrl-C stops as cleanly
    assert re.search(r"^tail: 5 lines, 5 events \(5 acknowledged\), 0 skipped, 0 rejected; ", t2.stderr(), re.M)

    got = landed(broker, f"{prefix}.security")
    accounts = sorted(int(v["account"][4:]) for _, v in got)
    assert accounts == list(range(22)), accounts  # each once, nothing else
    assert all(key.decode() == v["src_ip"] for key, v in got)  # keyed like `tollguard produce`
    assert landed(broker, f"{prefix}.cdr") == []
