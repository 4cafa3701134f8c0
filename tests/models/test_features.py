import math

from models.features import FEATURES, CallFacts, ExtensionFeatures
from streams.state import Features


def facts(ts, dst="+442079460000", country="GB", intl=False, premium=False, off=False, billsec=60.0, cost=0.01,
          failed=False):
    return CallFacts(ts, dst, country, intl, premium, off, billsec, cost, failed)


def test_vector_shape_and_first_call():
    st = Features()
    v = ExtensionFeatures.update(st, facts(0))
    assert len(v) == len(FEATURES)
    f = dict(zip(FEATURES, v))
    assert f["calls_1h"] == 1 and f["calls_24h"] == 1 and f["new_dst_share_24h"] == 1.0 and f["intl_share_24h"] == 0


def test_decay_and_shares_in_event_time():
    st = Features()
    for i in range(10):
        ExtensionFeatures.update(st, facts(i * 60, dst=f"+4420794600{i:02d}"))
    f = dict(zip(FEATURES, ExtensionFeatures.update(st, facts(600, dst="+88213371234", country=None, intl=True,
                                                                     premium=True, off=True))))
    assert f["distinct_dst_1h"] == 11 and math.isclose(f["premium_share_24h"], 1 / 11, rel_tol=0.02)
    later = dict(zip(FEATURES, ExtensionFeatures.update(st, facts(600 + 5 * 3600))))
    assert later["calls_1h"] < 1.1 and later["calls_24h"] > 9  # the hour forgot, the day did not (11 x e^-5/24 + 1)
    assert later["distinct_dst_1h"] == 1


def test_repeat_destinations_are_not_new_and_state_is_bounded():
    st = Features()
    for i in range(2000):
        v = ExtensionFeatures.update(st, facts(i * 30, dst=f"+4420{i:08d}"))
    assert len(st.seen) <= 512 and len(st.recent) <= 64
    for _ in range(5):
        v = ExtensionFeatures.update(st, facts(60_000, dst="+442000001999"))
    assert dict(zip(FEATURES, v))["new_dst_share_24h"] < 1.0
