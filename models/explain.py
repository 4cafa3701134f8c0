"""What an anomaly alert says about the features that make a call riskier than usual (models.risk picks them),
"international share 100% (this extension usually 2%, population 1%)".

Each feature has a label and a unit (a share, a count, seconds, money per hour). The extension's
usual value is its running average *before* the call scored; an extension with no calls before
has none, and the sentence says so instead of comparing the call with itself.
"""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    "calls_1h": ("calls in the last hour", "count"),
    "calls_24h": ("calls in the last day", "count"),
    "distinct_dst_1h": ("different numbers called in the last hour", "count"),
    "distinct_countries_24h": ("countries called in the last day", "count"),
    "intl_share_24h": ("international share", "share"),
    "premium_share_24h": ("premium-rate share", "share"),
    "offhours_share_24h": ("out-of-hours share", "share"),
    "mean_billsec_24h": ("mean talk time", "seconds"),
    "max_billsec_24h": ("longest call", "seconds"),
    "cost_per_hour_1h": ("spend per hour", "money"),
    "new_dst_share_24h": ("share of never-called numbers", "share"),
    "failed_ratio_24h": ("failed-call share", "share"),
}


def amount(feature: str, value: float) -> str:
    unit = WORDS.get(feature, (feature, "count"))[1]
    if unit == "share":
        return f"{100 * value:.0f}%"
    if unit == "seconds":
        return f"{value / 60:.1f} min" if value >= 120 else f"{value:.0f} s"
    if unit == "money":
        return f"{value:,.2f}/h"
    return f"{value:.1f}" if value != int(value) else f"{int(value)}"


def phrase(w: dict) -> str:
    """One top feature: ``{"feature", "value", "extension_usual" (None: no history), "population_usual"}`` and
    optionally ``"extension_high"``, what the extension's ordinary calls reach (models.risk.high)."""
    f = w["feature"]
    label = WORDS.get(f, (f, "count"))[0]
    high = w.get("extension_high")
    usual = ("no earlier calls from this extension" if w.get("extension_usual") is None
             else f"this extension usually {amount(f, w['extension_usual'])}"
             + (f", up to {amount(f, high)}" if high is not None and amount(f, high) != amount(f, w["extension_usual"])
                else ""))
    return f"{label} {amount(f, w['value'])} ({usual}, population {amount(f, w['population_usual'])})"


def sentence(why: list[dict]) -> str:
    return "; ".join(phrase(w) for w in why)
