import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.reference.patterns import PatternError, compile_patterns, matches, pattern_to_regex


@pytest.mark.parametrize("pattern,number,ok", [
    ("X", "0", True), ("X", "", False), ("Z", "0", False), ("Z", "1", True), ("N", "1", False), ("N", "2", True),
    ("[1-5,7]", "6", False), ("[1-5,7]", "7", True), ("[1-57]", "7", True),
    ("0.", "0", False), ("0.", "01", True), ("0!", "0", True), ("0!", "0123", True),
    ("+44X.", "+441", False), ("+44X.", "+4412", True), ("*72", "*72", True), ("#31#X", "#31#5", True), ("9x.", "912", True),
])
def test_guide_syntax(pattern, number, ok):
    assert matches(pattern, number) is ok


@pytest.mark.parametrize("bad", ["", "  ", "0[12", "0[]", "0[a]", "0[5-1]", "0A", "00?"])
def test_bad_patterns_are_refused(bad):
    with pytest.raises(PatternError):
        pattern_to_regex(bad)


def test_one_matcher_for_many():
    rx = compile_patterns(["0900X.", "+882."])
    assert rx.match("090012") and not rx.match("09001") and rx.match("+88212") and not rx.match("0800123")


pattern_atoms = st.sampled_from(list("0123456789XZN+*#") + ["[1-5,7]", "[0,9]"])


@settings(max_examples=300, deadline=None)
@given(st.lists(pattern_atoms, min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_generated_numbers_match_their_pattern(atoms, rnd):
    """A number built atom by atom from a pattern always matches it; changing a fixed digit breaks it."""
    pattern = "".join(atoms)
    number = []
    for a in atoms:
        if a == "X":
            number.append(rnd.choice("0123456789"))
        elif a == "Z":
            number.append(rnd.choice("123456789"))
        elif a == "N":
            number.append(rnd.choice("23456789"))
        elif a.startswith("["):
            number.append(rnd.choice("123457" if a == "[1-5,7]" else "09"))
        else:
            number.append(a)
    assert matches(pattern, "".join(number))
    assert not matches(pattern, "".join(number) + "5")  # whole-number match, no trailing wildcard
    assert re.compile(pattern_to_regex(pattern))
