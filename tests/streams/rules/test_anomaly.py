"""anomaly: what a rule holds stays out of the extension's profile (issue 26.5), the same in any arrival order.

A call a rule of the extension's key detected (on its start or its end) and a call that starts while such a
detection is open are neither learnt nor scored; a call after the detection's span is learnt again.
"""

import random
from pathlib import Path

import pytest

from models.score import Scorer
from streams.core.detector import Detector
from streams.domain.events import decode_event, encode, event_time
from tests.builders import at, cdr, policy

DEFAULT = Path(__file__).resolve().parents[3] / "models" / "default.skops"
LEARNT = ("t", "s1", "s24", "mx", "seen", "recent", "countries", "usual")  # what scoring reads
PREMIUM = "09098790000"  # a UK premium-rate number: premium_rate holds the call


@pytest.fixture(scope="module")
def scorer():
    return Scorer.load(DEFAULT)


def call(t: float, dst: str = "02079460000", talk: float = 120.0, live: bool = False, cid: str | None = None) -> list:
    end = cdr(t=t, dst=dst, call_id=cid or f"c{t:g}", billsec=talk, duration=talk + 5, end=at(t + talk + 5))
    return [cdr(t=t, dst=dst, call_id=end["call_id"], phase="start"), end] if live else [end]


def profile(events, scorer, lateness: float = 0.0, seed: int | None = None):
    """The extension's learnt profile after ``events``, fed as the worker meets them: in arrival order (shuffled
    within half an hour with ``seed``), event time the latest seen."""
    evs = [decode_event(encode(e)) for e in events]
    if seed is not None:
        rnd = random.Random(seed)
        jitter = [event_time(e) + rnd.uniform(0, 1800) for e in evs]
        evs = [evs[i] for i in sorted(range(len(evs)), key=jitter.__getitem__)]
    det = Detector(policy(), scorer=scorer, lateness=lateness)
    latest = float("-inf")
    for i, e in enumerate(evs):
        det.process(e)
        latest = max(latest, event_time(e))
        det.advance(e.tenant, latest)
        if seed is not None and i % (seed + 2) == 0:
            det.flush()  # micro-batches of another size each time
    det.advance("default", latest + lateness + 1)  # the end of input: everything held is released
    det.flush()
    f = det.state.get("ext:default/1001").anomaly
    return {k: getattr(f, k) for k in LEARNT}


def office(hours=range(0, 6)) -> list:
    return [e for h in hours for m in (0, 25) for e in call(h * 3600 + m * 60 + 7 * h, talk=60 + 30 * h)]


@pytest.mark.parametrize("live", [False, True])
def test_a_call_a_rule_flagged_is_not_learnt(scorer, live):
    """Flagged on its start (a live feed) or on its completed CDR alike."""
    fraud = call(6.5 * 3600, dst=PREMIUM, talk=600, live=live, cid="fraud")
    with_fraud = profile(office() + fraud, scorer)
    assert with_fraud == profile(office(), scorer)
    assert profile(office() + call(6.5 * 3600, talk=600, live=live), scorer) != with_fraud  # a call is learnt


def test_calls_while_a_detection_is_open_are_held_and_later_ones_learnt(scorer):
    """premium_rate bars the extension for an hour: the calls of that hour stay out; the next is learnt."""
    fraud = call(6 * 3600, dst=PREMIUM, talk=30, cid="fraud")
    during = call(6 * 3600 + 600) + call(6 * 3600 + 1800, dst="0033142278186")
    after = call(8 * 3600)
    assert profile(office() + fraud + during + after, scorer) == profile(office() + after, scorer)


def test_what_is_held_does_not_depend_on_arrival_order(scorer):
    """A long fraud call that began before a short normal one and ended after it: its detection (at its start)
    covers the short call only once its completed CDR is judged, which a worker may do before or after the short
    call is learnt. A detection by an event later than the call's own end never holds it, in any order."""
    events = office() + call(6 * 3600, dst=PREMIUM, talk=2400, cid="long-fraud") + call(6 * 3600 + 300, talk=60)
    events += call(6 * 3600 + 3000, talk=90) + call(9 * 3600, talk=45)
    want = profile(sorted(events, key=lambda e: e.get("end", e["start"])), scorer)  # replay's order
    assert want != profile(office() + call(9 * 3600, talk=45), scorer)  # the short call was learnt
    assert profile(events, scorer, lateness=3600.0) == want  # the long call's CDR arrives first
    for seed in range(6):
        assert profile(events, scorer, lateness=3600.0, seed=seed) == want, seed


def test_a_call_the_model_alerts_on_holds_the_next_calls_whatever_the_batches():
    """The model's own alert holds its extension's calls for an incident span, as a rule's detection does; the
    flush learns each extension's calls in order and judges each before the next, so one flush per event and
    one for the whole day learn and alert the same."""
    from streams.domain.events import Alert
    from streams.rules import anomaly

    def day(flush_every: int):
        alarmed = Scorer.load(DEFAULT)
        alarmed.threshold = float("-inf")  # every call with a riskier feature alerts
        det, out, learnt = Detector(policy(), scorer=alarmed), [], []
        events = [decode_event(encode(e)) for e in office(range(0, 8))]
        for i, e in enumerate(sorted(events, key=event_time)):
            out += det.feed(e)
            if i % flush_every == 0:
                learnt += anomaly.learn(det, alarmed, out)
        out += det.finish()
        learnt += anomaly.learn(det, alarmed, out)
        alerts = {a.evidence["call_id"]: a.alert_id for a in out if isinstance(a, Alert) and a.rule == "anomaly"}
        return [p.call_id for p in learnt], alerts, {p.call_id: p.start for p in learnt}

    learnt, alerts, start = day(1)
    assert alerts and len(learnt) < 16
    for cid in alerts:  # nothing learnt in the hour after a call it alerted on
        assert not [c for c in learnt if 0 < start[c] - start[cid] < 3600], cid
    assert day(1000)[:2] == (learnt, alerts)
