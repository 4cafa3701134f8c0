from models.train import build_matrix, fit, fraud_call_ids
from streams.policy import Policy
from streams.commands.simulate import simulate


def test_model_separates_simulated_fraud_from_benign_calls(tmp_path):
    simulate(7, 4, tmp_path, extensions=40)
    m = build_matrix([str(tmp_path / "events.jsonl")], Policy.load(tmp_path / "policy.yaml"))
    fraud = fraud_call_ids(str(tmp_path / "labels.json"))
    is_fraud = [k[2] in fraud for k in m.keys]
    benign_X = m.X[[not f for f in is_fraud]]
    model, thr = fit(benign_X, seed=0)
    flagged = (-model.score_samples(m.X)) > thr
    recall = sum(f and g for f, g in zip(is_fraud, flagged)) / sum(is_fraud)
    false_share = sum(g and not f for f, g in zip(is_fraud, flagged)) / (len(is_fraud) - sum(is_fraud))
    assert recall > 0.3 and false_share < 0.01


def test_parquet_and_jsonl_give_the_same_features(tmp_path):
    import json

    import pandas as pd
    simulate(2, 9, tmp_path, extensions=15, scenarios=["night_pumping"])
    rows = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    pd.DataFrame(rows).to_parquet(tmp_path / "events.parquet")
    pol = Policy.load(tmp_path / "policy.yaml")
    a = build_matrix([str(tmp_path / "events.jsonl")], pol)
    b = build_matrix([str(tmp_path / "events.parquet")], pol)
    assert a.keys == b.keys and (a.X == b.X).all() and len(a.X) > 50


def test_thin_training_data_is_named(tmp_path):
    import numpy as np
    from models.train import thin_data
    simulate(1, 2, tmp_path, extensions=6, scenarios=["long_calls"])
    m = build_matrix([str(tmp_path / "events.jsonl")], Policy.load(tmp_path / "policy.yaml"))
    problems = " ".join(thin_data(m, np.ones(len(m.keys), dtype=bool)))
    assert "benign calls" in problems and "extensions" in problems and "days" in problems
