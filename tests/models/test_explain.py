"""Anomaly explanations in words: the value, the extension's usual (before this call), the population's."""

from models.explain import WORDS, phrase, sentence
from models.features import FEATURES


def test_every_feature_has_words():
    assert set(WORDS) == set(FEATURES)


def test_a_share_reads_as_percentages_against_the_extension_and_the_population():
    w = {"feature": "intl_share_24h", "value": 1.0, "extension_usual": 0.02, "population_usual": 0.01}
    assert phrase(w) == "international share 100% (this extension usually 2%, population 1%)"


def test_an_extension_without_history_is_not_compared_with_itself():
    w = {"feature": "cost_per_hour_1h", "value": 16.0, "extension_usual": None, "population_usual": 0.059}
    assert phrase(w) == "spend per hour 16.00/h (no earlier calls from this extension, population 0.06/h)"


def test_talk_times_and_counts():
    assert sentence([{"feature": "mean_billsec_24h", "value": 600, "extension_usual": 90, "population_usual": 100},
                     {"feature": "calls_1h", "value": 14, "extension_usual": 1.5, "population_usual": 0.4}]) == (
        "mean talk time 10.0 min (this extension usually 90 s, population 100 s); "
        "calls in the last hour 14 (this extension usually 1.5, population 0.4)")
