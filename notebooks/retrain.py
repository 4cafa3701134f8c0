# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Retrain the tollguard anomaly model
#
# Load events from one of three places — a simulator directory, a file `tollguard export` wrote
# (JSONL or Parquet), or a time range read straight from Kafka — build features with
# `models.features` (the same code the worker scores with), fit an IsolationForest on benign
# history, evaluate it against labels (the simulator's, or the SOC's verdicts from
# `tollguard labels`), and save the artifact and its model card. `tollguard replay --model OUT`
# and `tollguard worker --model OUT` then use it without code changes.
#
# CI runs this notebook on small data (the `parameters` cell); set your own values to retrain.

# %% tags=["parameters"]
DATA_DIR = None          # a directory with events.jsonl (+ labels.json, policy.yaml)
EXPORT = None            # or: a file from `tollguard export` (.jsonl or .parquet)
KAFKA_SINCE = None       # or: read <prefix>.cdr from Kafka, records written from then (RFC 3339 or "7d")
KAFKA_UNTIL = None       #     ... until then (None: up to now); broker settings from TOLLGUARD_* as the CLI
POLICY = None            # the PBXs' policy (default: DATA_DIR/policy.yaml, else the built-in defaults)
LABELS = None            # labels.json or a `tollguard labels` file (default: DATA_DIR/labels.json)
SIM_DAYS = 3             # when none of the above is given, a simulated week is made
SIM_SEED = 11
SIM_EXTENSIONS = 25
TARGET_RATE = 0.001      # share of benign calls above the threshold (models.train.TARGET_RATE)
OUT = "/tmp/tollguard-notebook-model/retrained.skops"
FIGURES = None           # a directory to save the figures in as PNG too (`make test` passes docs/figures)

# %%
import json
import os
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from models import artifact
from models.features import FEATURES
from models.labels import Labels
from models.train import build_matrix, fingerprint, fit, population, thin_data, training_split
from streams.policy import Policy
from streams.commands.simulate import simulate

FIGURES = FIGURES or os.environ.get("TOLLGUARD_FIGURES")


def save(fig, name):
    """The figure is shown inline either way; with FIGURES it is also written there (README images)."""
    if FIGURES:
        Path(FIGURES).mkdir(parents=True, exist_ok=True)
        fig.savefig(Path(FIGURES) / name, dpi=90, metadata={"Software": None})


if EXPORT:
    events = [str(EXPORT)]
    source = f"export {EXPORT}"
elif KAFKA_SINCE or KAFKA_UNTIL:
    from streams.commands.alerts import parse_since
    from streams.kafka.config import Config
    from streams.commands.export import records, write_parquet
    config = Config.from_env()
    events = [tempfile.mkdtemp(prefix="tollguard-kafka-") + "/cdr.parquet"]
    n, _ = write_parquet(records(config, config.cdr, parse_since(KAFKA_SINCE), parse_since(KAFKA_UNTIL)), events[0])
    source = f"{config.cdr} from {KAFKA_SINCE or 'the start'} until {KAFKA_UNTIL or 'now'} ({n} records)"
else:
    if DATA_DIR is None:
        DATA_DIR = tempfile.mkdtemp(prefix="tollguard-sim-")
        simulate(SIM_DAYS, SIM_SEED, Path(DATA_DIR), extensions=SIM_EXTENSIONS)
    events = [str(Path(DATA_DIR) / "events.jsonl")]
    source = f"simulator directory {DATA_DIR}"
data = Path(DATA_DIR) if DATA_DIR else None
POLICY = POLICY or (data / "policy.yaml" if data and (data / "policy.yaml").exists() else None)
LABELS = LABELS or (data / "labels.json" if data and (data / "labels.json").exists() else None)
policy = Policy.load(POLICY) if POLICY else Policy.default()
labels = Labels.load(LABELS)
print("events from", source)

# %% [markdown]
# ## Features

# %%
m = build_matrix(events, policy)
frame = pd.DataFrame(m.X, columns=FEATURES)
frame["tenant"] = [k[0] for k in m.keys]
frame["extension"] = [k[1] for k in m.keys]
frame["call_id"] = [k[2] for k in m.keys]
frame["start"] = pd.to_datetime([k[3] for k in m.keys], unit="s", utc=True)
benign, fp, extra = training_split(m, labels)
frame["fraud"] = ~benign
frame["soc_false_positive"] = fp
frame.describe().T[["mean", "50%", "max"]]

# %% [markdown]
# ## Is this enough to learn from?
#
# An IsolationForest learns what is usual. Too few calls, extensions or days, or one extension
# that makes most of the calls, and "usual" means that one office's week.

# %%
problems = thin_data(m, benign)
for p in problems:
    warnings.warn(f"training set: {p}; the model may flag ordinary traffic", stacklevel=1)
print("training set:", "looks usable" if not problems else "TOO SMALL OR UNREPRESENTATIVE: " + "; ".join(problems))

# %% [markdown]
# ## Fit on benign history

# %%
model, threshold = fit(m.X[benign], seed=0, target_rate=TARGET_RATE, extra=extra)
frame["score"] = -model.score_samples(m.X)
# flagged as the anomaly rule flags: above the threshold *and* with a feature riskier than the
# extension's usual and the population's, volume alone not counting (models.risk)
frame["riskier"] = m.riskier(np.asarray(population(m.X[benign])["median"]))
frame["flagged"] = (frame["score"] > threshold) & frame["riskier"]
print(f"threshold {threshold:.4f}; benign calls flagged {frame.loc[benign, 'flagged'].mean():.4%}")
if fp.any():
    print(f"the SOC cleared {int(fp.sum())} calls as false positives; this model flags {int(frame.flagged[fp].sum())} of them")

# %% [markdown]
# ## Evaluation against the labels

# %%
from sklearn.metrics import precision_recall_curve

tp = int((frame.flagged & frame.fraud).sum())
precision = tp / max(int(frame.flagged.sum()), 1)
recall = tp / max(int(frame.fraud.sum()), 1)
print(f"call-level precision {precision:.3f} recall {recall:.3f}")
per_scenario = []
if LABELS and "scenarios" in json.loads(Path(LABELS).read_text()):
    for sc in json.loads(Path(LABELS).read_text())["scenarios"]:
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
save(fig, "retrain-scores.png")
plt.show()

# %% [markdown]
# ## Save the artifact and its model card

# %%
metrics = {"calls": int(len(frame)), "benign_calls": int(benign.sum()), "precision": round(precision, 4),
           "recall": round(recall, 4), "per_scenario": per_scenario}
if fp.any():
    metrics["soc_false_positives"] = {"calls": int(fp.sum()), "still_flagged": int(frame.flagged[fp].sum())}
card = artifact.save(model, OUT, threshold, fingerprint(events), metrics, population(m.X[benign]))
reloaded, _ = artifact.load(OUT)  # the same checks the worker runs: trusted types, features, checksum
assert np.allclose(reloaded.score_samples(m.X[:50]), model.score_samples(m.X[:50]))
print("saved", OUT, "and", artifact.card_path(OUT).name)

# %%
# Run in Jupyter or by nbmake, the plots above are images in this notebook's outputs (the inline backend);
# a forced non-interactive backend would leave them out.
import matplotlib

try:
    kernel = get_ipython()  # noqa: F821 (defined in Jupyter and nbmake's kernel)
except NameError:
    kernel = None
if kernel is not None:
    assert "inline" in matplotlib.get_backend(), matplotlib.get_backend()
