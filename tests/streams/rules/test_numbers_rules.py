"""international_disallowed, country_code, premium_rate, blocked_number: decisions on the normalised number."""
import pytest
from tests.builders import actions, alerts, cdr, policy, run


@pytest.mark.parametrize("dst,fires", [
    ("02079460000", False),        # national
    ("+44 20 7946 0000", False),   # home country written internationally
    ("00442079460000", False),
    ("0033142278186", True),       # France
    ("+33142278186", True),
    ("112", False),                # emergency
    ("1002", False),               # extension
])
def test_international_disallowed(dst, fires):
    assert bool(alerts(run([cdr(dst=dst)]), "international_disallowed")) is fires


def test_international_permitted_extension():
    pol = policy("extensions:\n  defaults: {international: true}")
    assert not alerts(run([cdr(dst="0033142278186")], pol), "international_disallowed")


def test_country_code_only_listed_countries():
    pol = policy("allowed_countries: [FR, DE]\nextensions:\n  defaults: {international: true}")
    assert not alerts(run([cdr(dst="0033142278186")], pol), "country_code")
    out = run([cdr(dst="0037060012345")], pol)  # Lithuania
    assert alerts(out, "country_code") and actions(out, "block_number")[0].target.startswith("+370")
    # off when not configured
    assert not alerts(run([cdr(dst="0037060012345")]), "country_code")


@pytest.mark.parametrize("dst,fires", [
    ("09098790000", True),     # UK premium rate 09
    ("08456001234", True),     # UK shared cost 0845
    ("0088213371234", True),   # international networks: possible, not valid
    ("02079460000", False),
    ("0033142278186", False),
])
def test_premium_rate(dst, fires):
    assert bool(alerts(run([cdr(dst=dst)]), "premium_rate")) is fires


@pytest.mark.parametrize("pattern,dst,fires", [
    ("0090X.", "00901234", True),
    ("0090X.", "0090", False),
    ("+882.", "0088212345", True),      # E.164 form
    ("00[1-5,7]Z!", "0071", True),
    ("00[1-5,7]Z!", "0061", False),
    ("0NXXXXXXXX", "0207946000", True),
    ("0NXXXXXXXX", "0107946000", False),
])
def test_blocked_number_patterns(pattern, dst, fires):
    pol = policy(f"blocked_numbers: ['{pattern}']")
    assert bool(alerts(run([cdr(dst=dst)], pol), "blocked_number")) is fires


def test_scanner_junk_does_not_crash():
    out = run([cdr(dst=d, call_id=str(i)) for i, d in enumerate(["9011+44", "++4420", "+", "**", "#31#", "", "00"])])
    assert not alerts(out, "premium_rate")


def test_live_violation_hangs_up_completed_one_bars_extension():
    out = run([cdr(dst="0033142278186", phase="start", call_id="L")])
    assert actions(out, "hangup_call")[0].target == "L"
    out = run([cdr(dst="0033142278186")])
    assert actions(out, "disable_outbound")[0].target == "1001"
