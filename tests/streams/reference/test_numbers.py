from hypothesis import given, settings
from hypothesis import strategies as st

from streams.reference.numbers import NumberPlan

GB = NumberPlan("GB", ["00", "+"], "0", ["9"])
US = NumberPlan("US", ["011", "+"], "1")


def test_prefix_forms_agree():
    forms = ["0033142278186", "+33142278186", "+33 1 42 27 81 86", "00+33142278186", "90033142278186"]
    infos = [GB.classify(f) for f in forms]
    assert {i.e164 for i in infos} == {"+33142278186"} and all(i.kind == "international" for i in infos)


def test_national_and_shared_country_codes():
    assert GB.classify("02079460000").kind == "national"
    assert GB.classify("+442079460000").kind == "national"
    assert US.classify("12125550100").kind == "national"
    jm = US.classify("18765550100")
    assert jm.kind == "international" and jm.region == "JM"


def test_types():
    assert GB.classify("09098790000").number_type == "premium_rate"
    assert US.classify("19005550123").premium
    assert GB.classify("112").kind == "emergency" and US.classify("911").kind == "emergency"
    assert GB.classify("1001").kind == "short"


def test_junk_is_invalid_not_an_exception():
    for junk in ["9011+44", "++", "+", "0044abc", "\u0661\u0662\u0663", "1" * 40, "+44+44", "ðŸ“ž"]:
        assert GB.classify(junk).kind in ("invalid", "short")


digits = st.text(alphabet="0123456789", min_size=0, max_size=18)
junk = st.text(alphabet="0123456789+*#- ()x.", max_size=25)


@settings(max_examples=400, deadline=None)
@given(junk)
def test_classify_never_raises_and_is_consistent(s):
    a = GB.classify(s)
    assert a == GB.classify(s)  # cached and pure
    assert a.kind in {"international", "national", "short", "emergency", "invalid"}
    if a.e164:
        assert a.e164.startswith("+") and a.e164[1:].isdigit()
    if a.kind == "international":
        assert a.region != "GB"


@settings(max_examples=300, deadline=None)
@given(digits.filter(lambda d: len(d) >= 7))
def test_plus_and_double_zero_are_the_same_number(d):
    assert GB.classify("+" + d).e164 == GB.classify("00" + d).e164
    assert GB.classify("+" + d).kind == GB.classify("00" + d).kind
