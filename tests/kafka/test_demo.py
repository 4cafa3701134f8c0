"""`make demo` as a newcomer sees it: a clean screen, the deliberate rejects announced, the next steps
shown, and with HOLD=1, Ctrl-C stops every process it started (issue 30.2)."""

import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from tests.kafka.conftest import ROOT

pytestmark = pytest.mark.kafka


def session_processes(sid: int) -> list[str]:
    """The processes still in the demo's session (what a terminal's Ctrl-C reaches)."""
    out = subprocess.run(["ps", "-eo", "pid=,sid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if int(line.split()[1]) == sid and "ps -eo" not in line]


def test_the_demo_shows_a_clean_first_screen_and_ctrl_c_stops_everything(broker, prefix, tmp_path):
    env = dict(os.environ, HOLD="1", TOLLGUARD_TOPIC_PREFIX=prefix, TOLLGUARD_BROKER=f"kafka://{broker}")
    out = tmp_path / "demo.out"
    with out.open("wb") as fh:
        demo = subprocess.Popen(["bash", "scripts/demo.sh"], cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group, as a terminal's foreground job is
    try:
        deadline = time.monotonic() + 300
        while "HOLD=1: the console stays up" not in out.read_text(errors="replace"):
            assert demo.poll() is None, out.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the demo did not reach its HOLD=1 line in 300 s"
            time.sleep(1)
        text = out.read_text(errors="replace")
        assert "\x1b[" not in text, "terminal escape codes on the demo's screen"
        assert not re.search(r"(?i)warning.*setuptools|\*{20,}", text), "a warning box on the demo's screen"
        assert "3 deliberately broken lines" in text and text.count(": rejected: ") == 3
        assert "source .venv/bin/activate" in text and "tollguard replay --policy" in text
        assert "✔ broker" in text and "✔ notify soc-chat: test message accepted" in text
        if os.geteuid() == 0 and shutil.which("nft"):  # nft may list the ruleset: the demo's setup is all fine
            assert "doctor: " in text and " 0 to fix" in text, text[text.find("tollguard doctor"):][:3000]
        start = (ROOT / ".cache" / "demo" / "worker.log").read_text(errors="replace").split("Worker]: Ready")[0]
        assert " WARNING " not in start, start  # routine start-up is INFO (issue 30.6)
        for name, routine in (("notify.log", "notify: group "), ("console.log", "console: http://")):
            said = [ln for ln in (ROOT / ".cache" / "demo" / name).read_text(errors="replace").splitlines()
                    if routine in ln]
            assert said and all(" INFO " in ln for ln in said), said  # the services' start-up too
        assert len(session_processes(demo.pid)) >= 4  # the demo, its worker, notify, console, webhook
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole foreground group
        demo.wait(timeout=60)
        time.sleep(1)
        left = session_processes(demo.pid)
        assert left == [], f"left behind after Ctrl-C: {left}"
        assert "stopping everything the demo started" in out.read_text(errors="replace")
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
        for line in session_processes(demo.pid):
            os.kill(int(line.split()[0]), signal.SIGKILL)
