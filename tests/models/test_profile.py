"""A fraud burst does not become the usual (issue 26.5): calls a rule holds never enter their extension's
profile, so after a hijack its normal calls are judged against what it did before, and raise nothing.

On the old rule the burst was learnt: after the night's calls to Cuba, an office extension was "usually"
94% abroad, and each of its ordinary calls the next day was an anomaly ("international share 64%")."""

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from models.features import FEATURES
from models.score import Scorer
from streams.core.detector import Detector
from streams.domain.events import Alert
from streams.policy import Policy
from streams.shells.replay import run
from streams.commands.simulate import simulate

DEFAULT = Path(__file__).resolve().parents[2] / "models" / "default.skops"
INTL = FEATURES.index("intl_share_24h")


@pytest.fixture(scope="module")
def hijacked(tmp_path_factory):
    """Two office days; the first night, one extension pumps premium numbers abroad and a flood through six
    more calls Cuba (the rules hold those calls: none of these extensions may call abroad or at night)."""
    d = tmp_path_factory.mktemp("hijack")
    simulate(2, 7, d, extensions=30, scenarios=["night_pumping", "trunk_flood"])
    det = Detector(Policy.load(d / "policy.yaml"), scorer=Scorer.load(DEFAULT))
    out: list = []
    run(((str(d), i, line, None) for i, line in enumerate((d / "events.jsonl").read_bytes().splitlines())),
        det, out.append, lambda r: None)
    scenarios = json.loads((d / "labels.json").read_text())["scenarios"]
    victims = {s.split("/")[-1]: _t(sc["end"]) for sc in scenarios for s in sc["subjects"] if s.startswith("ext:")}
    return det, out, victims


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_burst_is_held_by_the_rules(hijacked):
    _, out, victims = hijacked
    assert len(victims) == 7
    held = {a.subject for a in out if isinstance(a, Alert) and a.rule in ("international_disallowed", "premium_rate")}
    assert set(victims) <= held


def test_a_fraud_burst_does_not_become_the_usual(hijacked):
    det, _, victims = hijacked
    for ext in victims:
        f = det.state.get(f"ext:default/{ext}").anomaly
        assert f is not None and f.usual is not None, ext
        assert f.usual[INTL] < 0.05, f"{ext}: usually {f.usual[INTL]:.0%} abroad after a night of fraud"
        assert f.s24[1] < 1.0, f"{ext}: the burst's calls abroad are in its day's sums"


def test_after_the_burst_the_extensions_normal_calls_raise_no_anomaly(hijacked):
    _, out, victims = hijacked
    after = [a for a in out if isinstance(a, Alert) and a.rule == "anomaly" and a.subject in victims
             and a.ts > victims[a.subject] + timedelta(hours=1)]
    assert not after, [a.summary for a in after[:3]]
