"""The SOC's verdicts as training labels: confirmed fraud leaves the benign fit, false positives weigh
more in it, and the next training run changes because of them."""

import json
from datetime import datetime, timezone

import numpy as np
import pytest

from models.labels import LabelError, Labels, from_incidents
from models.train import build_matrix, fit, training_split
from streams.policy import Policy
from streams.commands.simulate import simulate


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    d = tmp_path_factory.mktemp("week")
    simulate(5, 4, d, extensions=30, scenarios=["slow_pumping", "night_pumping"])
    return d, build_matrix([str(d / "events.jsonl")], Policy.load(d / "policy.yaml"))


def soc_file(path, labels):
    path.write_text(json.dumps({"source": "soc", "labels": labels}))
    return path


def test_a_false_positive_verdict_changes_the_next_training_run(week, tmp_path):
    d, m = week
    model, thr = fit(m.X, seed=0)
    scores = -model.score_samples(m.X)
    flagged = np.flatnonzero(scores > thr)
    assert len(flagged) >= 3
    called = [m.keys[i][2] for i in flagged[:20]]  # the calls the current model alerts on; the SOC says: not fraud
    path = soc_file(tmp_path / "soc.json", [{"incident_id": "i-1", "tenant": "default", "subject_type": "extension",
                                             "subject": m.keys[flagged[0]][1], "verdict": "false_positive",
                                             "opened": iso(m.keys[flagged[0]][3]), "last_seen": iso(m.keys[flagged[0]][3]),
                                             "call_ids": called}])
    labels = Labels.load(path)
    benign, fp, extra = training_split(m, labels)
    assert benign.all() and fp.sum() == len(called) and len(extra) == 10 * len(called)
    retrained, thr2 = fit(m.X[benign], seed=0, extra=extra)
    after = -retrained.score_samples(m.X)
    before_flagged = int((scores[fp] > thr).sum())
    after_flagged = int((after[fp] > thr2).sum())
    assert after_flagged < before_flagged  # the model the SOC corrected alerts less on what the SOC cleared


def test_confirmed_fraud_leaves_the_benign_fit_with_its_extensions_window(week, tmp_path):
    d, m = week
    i = len(m.keys) // 2
    tenant, ext, call, ts = m.keys[i]
    path = soc_file(tmp_path / "soc.json", [{"incident_id": "i-2", "tenant": tenant, "subject_type": "extension",
                                             "subject": ext, "verdict": "true_positive", "opened": iso(ts),
                                             "last_seen": iso(ts + 600), "call_ids": [call]}])
    benign, _, _ = training_split(m, Labels.load(path))
    out = [k for k, b in zip(m.keys, benign) if not b]
    assert (tenant, ext, call, ts) in out
    assert all(k[0] == tenant and k[1] == ext and ts - 3600 <= k[3] <= ts + 4200 for k in out)


def test_simulator_labels_still_read_and_nonsense_is_refused(week, tmp_path):
    d, m = week
    assert Labels.load(d / "labels.json").fraud_calls
    (tmp_path / "x.json").write_text('{"something": 1}')
    with pytest.raises(LabelError, match="neither"):
        Labels.load(tmp_path / "x.json")
    soc_file(tmp_path / "y.json", [{"incident_id": "i", "tenant": "t", "verdict": "maybe", "call_ids": []}])
    with pytest.raises(LabelError, match="label 1"):
        Labels.load(tmp_path / "y.json")


def test_labels_come_from_incidents_with_a_verdict_and_their_alerts_calls():
    incidents = [
        {"incident_id": "i-1", "tenant": "a", "subject_type": "extension", "subject": "1001", "verdict": "false_positive",
         "opened": "2026-11-02T10:00:00Z", "last_seen": "2026-11-02T10:05:00Z", "rules": ["anomaly"],
         "decisions": [{"status": "resolved", "by": "ana", "note": "CEO abroad", "verdict": "false_positive"}],
         "alerts": [{"evidence": {"call_id": "c1"}}, {"evidence": {"call_ids": ["c2", "c1"]}}]},
        {"incident_id": "i-2", "tenant": "a", "verdict": None, "alerts": []},
    ]
    [lab] = from_incidents(incidents)
    assert lab["call_ids"] == ["c1", "c2"] and lab["by"] == "ana" and lab["note"] == "CEO abroad"
