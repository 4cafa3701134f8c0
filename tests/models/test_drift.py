"""Drift: the worker's live figures against the card; a week whose mix changed is flagged, the same mix is not."""

import json

import numpy as np
from prometheus_client import generate_latest

from models.drift import compare, parse_metrics
from models.features import FEATURES
from models.score import Scorer
from models.train import build_matrix, fit, population
from streams.policy import Policy
from streams.commands.simulate import simulate
from streams.shells.worker.metrics import WorkerMetrics
from tests.builders import serving


def card_of(X):
    return {"population": population(X), "threshold": 0.6, "artifact_sha256": "ab" * 32}


def test_a_week_whose_mix_changed_is_flagged_and_the_same_mix_is_not(tmp_path):
    base, same, shifted = tmp_path / "base", tmp_path / "same", tmp_path / "shifted"
    simulate(5, 4, base, extensions=30, scenarios=[])
    simulate(5, 5, same, extensions=30, scenarios=[])
    simulate(5, 5, shifted, extensions=30, scenarios=[])
    rows = [json.loads(x) for x in (shifted / "events.jsonl").read_text().splitlines()]
    national = sorted({r["call_id"] for r in rows if r["type"] == "cdr" and r.get("direction") == "outbound"
                       and r["dst"].startswith("0") and not r["dst"].startswith("00")})
    abroad = set(national[::2])  # half the national calls now go abroad, to France (start and end alike)
    for r in rows:
        if r["type"] == "cdr" and r["call_id"] in abroad:
            r["dst"] = "0033142868" + r["dst"][-3:]
    (shifted / "events.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    # every extension may call abroad: the model is shown only the calls no rule holds, and the shift must be one
    pol = Policy.from_yaml((base / "policy.yaml").read_text().replace("defaults: {international: false",
                                                                      "defaults: {international: true"))
    card = card_of(build_matrix([str(base / "events.jsonl")], pol).X)
    median = lambda d: np.median(build_matrix([str(d / "events.jsonl")], pol).X, axis=0).tolist()  # noqa: E731
    assert not [r["feature"] for r in compare(card, median(same)) if r["drift"]]
    moved = {r["feature"] for r in compare(card, median(shifted)) if r["drift"]}
    assert "intl_share_24h" in moved


def test_the_worker_exports_what_drift_reads():
    X = np.random.default_rng(0).normal(size=(500, len(FEATURES))).clip(0)
    model, thr = fit(X, seed=0)
    scorer = Scorer(model, {**card_of(X), "threshold": thr})
    scorer.score(X[:300].tolist())
    m = WorkerMetrics()
    m.observe_model(scorer)
    live = parse_metrics(generate_latest(m.m.registry).decode())
    assert live["version"] == "ab" * 6 and live["scored"] == 300
    assert np.allclose([live["median"][f] for f in FEATURES], np.median(X[:300], axis=0))
    assert set(live["quantiles"]) == {"0.5", "0.9", "0.99"} and 0 <= live["above"] <= 1


def test_model_drift_reads_a_workers_metrics_and_exits_1_on_drift(tmp_path, capsys):
    from argparse import Namespace

    from models import artifact
    from models.drift import main
    X = np.random.default_rng(1).normal(size=(400, len(FEATURES))).clip(0)
    model, thr = fit(X, seed=0)
    path = tmp_path / "m.skops"
    card = artifact.save(model, path, thr, "x", {"flagged_benign_share": 0.002}, population(X))
    shifted = X.copy()
    shifted[:, FEATURES.index("intl_share_24h")] += 0.9
    for live, want in ((X[:300], 0), (shifted[:300], 1)):
        scorer = Scorer(model, card)
        scorer.score(live.tolist())
        m = WorkerMetrics()
        m.observe_model(scorer)
        with serving(generate_latest(m.m.registry)) as url:
            rc = main(Namespace(metrics=url, model=str(path), iqr=1.0, format="table"))
        text = capsys.readouterr().out
        assert rc == want, text
        assert ("DRIFT intl_share_24h" in text) is bool(want)
