"""The installed wheel works like the checkout: the compiled engine, the model, its card and the rate table travel in it."""

import json
import os
import subprocess
import sys
import sysconfig

import pytest

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = ROOT / "fixtures" / "sample-events.jsonl"
POLICY = ROOT / "fixtures" / "policy.example.yaml"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from the checkout and installed into a directory outside it (dependencies from
    the virtualenv, without its .pth files: the checkout's editable install is not on the path)."""
    tmp = tmp_path_factory.mktemp("wheel")
    # maturin's build hook runs the `maturin` program: the virtualenv's, which an unactivated venv has off PATH
    env = dict(os.environ, PATH=os.pathsep.join([sysconfig.get_paths()["scripts"], os.environ.get("PATH", "")]))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(ROOT),
                            "-w", str(tmp / "dist")], capture_output=True, text=True, timeout=600, env=env)
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp / "dist").glob("tollguard-*.whl")
    target = tmp / "site"
    inst = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stderr
    return target


def run(target, *args, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), sysconfig.get_paths()["purelib"]]))
    return subprocess.run([sys.executable, "-S", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def alerts(stdout: str) -> list[str]:
    return [r["alert_id"] for r in map(json.loads, stdout.splitlines()) if r["type"] == "alert"]


def test_the_installed_wheel_gives_the_checkouts_alerts_with_the_model(installed, tmp_path):
    where = run(installed, "-c", "import streams, models, streams._engine as e; print(streams.__file__); print(models.__file__); "
                "print(e.__file__)", cwd=tmp_path)
    assert len(where.stdout.split()) == 3, where.stderr
    assert all(line.startswith(str(installed)) for line in where.stdout.split()), where.stdout + where.stderr
    args = ["-m", "streams.cli", "replay", "--policy", str(POLICY), "-q", "--format", "jsonl", str(SAMPLE)]
    wheel = run(installed, *args, cwd=tmp_path)
    assert wheel.returncode == 0, wheel.stderr
    here = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert alerts(wheel.stdout) == alerts(here.stdout)
    assert '"rule":"anomaly"' in wheel.stdout  # the model came along
    assert '"cost":' in wheel.stdout           # and the rate table priced the incidents' calls


def test_a_missing_model_is_a_loud_error_unless_no_model(installed, tmp_path):
    (installed / "models" / "default.skops").rename(installed / "models" / "default.skops.away")
    try:
        args = ["-m", "streams.cli", "replay", "-q", "--format", "jsonl", str(SAMPLE)]
        gone = run(installed, *args, cwd=tmp_path)
        assert gone.returncode == 2 and "no model at" in gone.stderr and "--no-model" in gone.stderr
        rules = run(installed, *args, "--no-model", cwd=tmp_path)
        assert rules.returncode == 0 and alerts(rules.stdout) and '"rule":"anomaly"' not in rules.stdout
    finally:
        (installed / "models" / "default.skops.away").rename(installed / "models" / "default.skops")


def test_the_installed_wheel_carries_the_consoles_pages_and_script(installed, tmp_path):
    code = ("from streams.services.console.app import make_app, STATIC; from jinja2 import Environment, PackageLoader; "
            "env = Environment(loader=PackageLoader('streams.services.console', 'templates')); "
            "print(sorted(env.list_templates())); print(sorted(p.name for p in STATIC.iterdir()))")
    got = run(installed, "-c", code, cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert "list.html" in got.stdout and "incident.html" in got.stdout and "console.js" in got.stdout
