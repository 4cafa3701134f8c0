"""country_code: boundaries and behaviour."""
from tests.builders import actions, alerts, cdr, policy, run


def test_country_code_only_listed_countries():
    pol = policy("allowed_countries: [FR, DE]\nextensions:\n  defaults: {international: true}")
    assert not alerts(run([cdr(dst="0033142278186")], pol), "country_code")
    out = run([cdr(dst="0037060012345")], pol)  # Lithuania
    assert alerts(out, "country_code") and actions(out, "block_number")[0].target.startswith("+370")
    # off when not configured
    assert not alerts(run([cdr(dst="0037060012345")]), "country_code")
