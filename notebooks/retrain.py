# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Retrain the tollguard anomaly model
#
# Load events (a simulator directory, a JSONL dump, or a Kafka topic exported with
# `tollguard export`), build features with `models.features` — the same code the worker
# scores with — fit an IsolationForest on benign history, evaluate it against labels, and
# save the artifact and its model card. `tollguard replay --model OUT` and
# `tollguard worker --model OUT` then use it without code changes.
#
# CI runs this notebook on small data (the `parameters` cell); set your own values to retrain.

# %% tags=["parameters"]
DATA_DIR = None          # a directory with events.jsonl (+ labels.json, policy.yaml); None = simulate one
SIM_DAYS = 3             # when simulating
SIM_SEED = 11
SIM_EXTENSIONS = 25
TARGET_RATE = 0.002      # share of benign calls above the threshold
OUT = "/tmp/tollguard-notebook-model/retrained.skops"

# %%
import json
import tempfile
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from models import artifact
from models.features import FEATURES
from models.train import build_matrix, fingerprint, fit, fraud_call_ids, population
from streams.policy import Policy
from streams.simulate import simulate

if DATA_DIR is None:
    DATA_DIR = tempfile.mkdtemp(prefix="tollguard-sim-")
    simulate(SIM_DAYS, SIM_SEED, Path(DATA_DIR), extensions=SIM_EXTENSIONS)
data = Path(DATA_DIR)
policy = Policy.load(data / "policy.yaml") if (data / "policy.yaml").exists() else Policy.default()
events = [str(data / "events.jsonl")]
print(data, sum(1 for _ in open(events[0])), "events")

# %% [markdown]
# ## Features

# %%
m = build_matrix(events, policy)
frame = pd.DataFrame(m.X, columns=FEATURES)
frame["extension"] = [k[1] for k in m.keys]
frame["call_id"] = [k[2] for k in m.keys]
fraud = fraud_call_ids(str(data / "labels.json")) if (data / "labels.json").exists() else set()
frame["fraud"] = frame["call_id"].isin(fraud)
frame.describe().T[["mean", "50%", "max"]]

# %% [markdown]
# ## Fit on benign history

# %%
benign = ~frame["fraud"].to_numpy()
model, threshold = fit(m.X[benign], seed=0, target_rate=TARGET_RATE)
frame["score"] = -model.score_samples(m.X)
frame["flagged"] = frame["score"] > threshold
print(f"threshold {threshold:.4f}; benign calls flagged {frame.loc[benign, 'flagged'].mean():.4%}")

# %% [markdown]
# ## Evaluation against the labels

# %%
from sklearn.metrics import precision_recall_curve

tp = int((frame.flagged & frame.fraud).sum())
precision = tp / max(int(frame.flagged.sum()), 1)
recall = tp / max(int(frame.fraud.sum()), 1)
print(f"call-level precision {precision:.3f} recall {recall:.3f}")
per_scenario = []
if (data / "labels.json").exists():
    labels = json.loads((data / "labels.json").read_text())
    for sc in labels["scenarios"]:
        ids = set(sc.get("fraud_calls", []))
        if ids:
            sub = frame[frame.call_id.isin(ids)]
            per_scenario.append({"scenario": sc["name"], "calls": len(sub), "flagged": int(sub.flagged.sum()),
                                 "recall": round(float(sub.flagged.mean()), 3) if len(sub) else None})
pd.DataFrame(per_scenario)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
if frame.fraud.any():
    p, r, _ = precision_recall_curve(frame.fraud, frame.score)
    axes[0].plot(r, p)
axes[0].set(title="precision-recall (calls)", xlabel="recall", ylabel="precision")
axes[1].hist(frame.loc[benign, "score"], bins=60, alpha=0.7, label="benign", density=True)
if frame.fraud.any():
    axes[1].hist(frame.loc[~benign, "score"], bins=30, alpha=0.7, label="fraud", density=True)
axes[1].axvline(threshold, color="k", linestyle="--", label="threshold")
axes[1].set(title="anomaly score", xlabel="score")
axes[1].legend()
fig.tight_layout()

# %% [markdown]
# ## Save the artifact and its model card

# %%
metrics = {"calls": int(len(frame)), "benign_calls": int(benign.sum()), "precision": round(precision, 4),
           "recall": round(recall, 4), "per_scenario": per_scenario}
card = artifact.save(model, OUT, threshold, fingerprint(events), metrics, population(m.X[benign]))
reloaded, _ = artifact.load(OUT)  # the same checks the worker runs: trusted types, features, checksum
assert np.allclose(reloaded.score_samples(m.X[:50]), model.score_samples(m.X[:50]))
print("saved", OUT, "and", artifact.card_path(OUT).name)
