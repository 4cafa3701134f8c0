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
# # Explore traffic and alerts
#
# Calls by hour and destination type, and what the detector says about them. Point
# `EVENTS` at any JSONL dump (the simulator's output, `tollguard export`, a converted CDR
# export); CI runs it on the bundled sample day.

# %% tags=["parameters"]
EVENTS = "../fixtures/sim-day/events.jsonl"
POLICY = "../fixtures/sim-day/policy.yaml"
FIGURES = None           # a directory to save the figures in as PNG too (`make test` passes docs/figures)

# %%
import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

FIGURES = FIGURES or os.environ.get("TOLLGUARD_FIGURES")


def save(fig, name):
    """The figure is shown inline either way; with FIGURES it is also written there (README images)."""
    if FIGURES:
        Path(FIGURES).mkdir(parents=True, exist_ok=True)
        fig.savefig(Path(FIGURES) / name, dpi=90, metadata={"Software": None})

from streams.policy import Policy
from streams.shells.replay import replay_file

policy = Policy.load(POLICY)
rows = [json.loads(line) for line in open(EVENTS)]
cdr = pd.DataFrame([r for r in rows if r["type"] == "cdr" and r.get("phase", "end") == "end"])
sec = pd.DataFrame([r for r in rows if r["type"] == "security"])
cdr["start"] = pd.to_datetime(cdr["start"], utc=True, format="ISO8601").dt.tz_convert(policy.tenant("default").settings.timezone)
print(len(cdr), "calls,", len(sec), "security events")

# %%
plan = policy.tenant("default").numbers
cdr["kind"] = [plan.classify(d).kind for d in cdr["dst"]]
cdr["type"] = [plan.classify(d).number_type for d in cdr["dst"]]
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
cdr.groupby(cdr.start.dt.hour).size().plot.bar(ax=axes[0], title="calls by local hour")
cdr.groupby("kind").size().plot.bar(ax=axes[1], title="calls by destination kind")
fig.tight_layout()
save(fig, "explore-traffic.png")
plt.show()

# %%
out, stats, _ = replay_file([EVENTS], policy)
alerts = pd.DataFrame([{"ts": a.ts, "rule": a.rule, "severity": a.severity, "subject": a.subject}
                       for a in out if a.__class__.__name__ == "Alert"])
print(stats.events, "events replayed")
alerts.groupby(["rule", "severity"]).size().sort_values(ascending=False).to_frame("alerts")

# %%
fig, ax = plt.subplots(figsize=(11, 3.5))
if len(alerts):
    alerts.groupby("rule").size().sort_values().plot.barh(ax=ax, title="alerts by rule")
fig.tight_layout()
save(fig, "explore-alerts.png")
plt.show()

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
