# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
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

# %%
import json

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from streams.policy import Policy
from streams.replay import replay_file

policy = Policy.load(POLICY)
rows = [json.loads(line) for line in open(EVENTS)]
cdr = pd.DataFrame([r for r in rows if r["type"] == "cdr" and r.get("phase", "end") == "end"])
sec = pd.DataFrame([r for r in rows if r["type"] == "security"])
cdr["start"] = pd.to_datetime(cdr["start"], utc=True, format="ISO8601").dt.tz_convert(policy.tenant("default").p.timezone)
print(len(cdr), "calls,", len(sec), "security events")

# %%
plan = policy.tenant("default").numbers
cdr["kind"] = [plan.classify(d).kind for d in cdr["dst"]]
cdr["type"] = [plan.classify(d).number_type for d in cdr["dst"]]
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
cdr.groupby(cdr.start.dt.hour).size().plot.bar(ax=axes[0], title="calls by local hour")
cdr.groupby("kind").size().plot.bar(ax=axes[1], title="calls by destination kind")
fig.tight_layout()

# %%
out, stats, _ = replay_file([EVENTS], policy)
alerts = pd.DataFrame([{"ts": a.ts, "rule": a.rule, "severity": a.severity, "subject": a.subject}
                       for a in out if a.__class__.__name__ == "Alert"])
print(stats.events, "events replayed")
alerts.groupby(["rule", "severity"]).size().sort_values(ascending=False).to_frame("alerts")
