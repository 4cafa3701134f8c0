"""unparseable_number, and numbers wrapped in URIs, Unicode digits and service codes judged like plain ones."""

import pytest

from tests.builders import alerts, cdr, policy, run

PLAIN = "00255222110000"  # Tanzania: international, not allowed for extension 1001


@pytest.mark.parametrize("dialled", [
    "*67" + PLAIN, "#31#" + PLAIN, "*31#" + PLAIN, "sip:" + PLAIN + "@pbx.example.com;user=phone",
    "tel:+255-22-211-0000", "\uff10\uff10\uff12\uff15\uff15222110000", "\u0660\u0660\u0662\u0665\u0665222110000",
    "\u06f0\u06f0\u06f2\u06f5\u06f5222110000", "sips:+255222110000@x",
])
def test_wrapped_numbers_are_judged_as_the_plain_number(dialled):
    plain = {a.rule for a in alerts(run([cdr(dst=PLAIN, billsec=60)]))}
    assert "international_disallowed" in plain
    got = {a.rule for a in alerts(run([cdr(dst=dialled, billsec=60)]))}
    assert plain <= got, f"{dialled!r}: {got}"


def test_a_long_number_that_cannot_be_read_is_suspicious():
    out = run([cdr(dst="0025522x2110000", billsec=60)])
    got = alerts(out, "unparseable_number")
    assert len(got) == 1 and got[0].severity == "warning" and not got[0].evidence.get("e164")


def test_junk_destinations_are_not_numbers():
    for dst in ("s", "t", "*72", "i", "1001#"):
        assert not alerts(run([cdr(dst=dst, billsec=60)]), "unparseable_number"), dst


def test_the_policy_can_block_or_ignore_them():
    bad = [cdr(dst="+9990000000000", billsec=60)]
    blocked = run(bad, policy("unparseable_numbers: block"))
    assert alerts(blocked, "unparseable_number")[0].severity == "alert"
    assert any(a.kind == "disable_outbound" for a in blocked if a.__class__.__name__ == "Action")
    assert not alerts(run(bad, policy("unparseable_numbers: ignore")), "unparseable_number")
