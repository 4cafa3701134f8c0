import pytest
from tests.builders import alerts, cdr, policy, run

HOURS = """
timezone: Europe/Berlin
business_hours:
  mon-fri: ["08:00-12:00", "13:00-18:00"]
holidays: [2026-03-05]
extensions:
  defaults: {outside_business_hours: false}
"""

# T0 is Wednesday 2026-03-04 10:00 UTC = 11:00 Berlin


@pytest.mark.parametrize("offset_s,fires", [
    (0, False),                       # 11:00 Wed
    (3600 * 1 - 1, False),            # 11:59:59
    (3600 * 1, True),                 # 12:00 lunch
    (3600 * 2, False),                # 13:00
    (3600 * 7 - 1, False),            # 17:59:59
    (3600 * 7, True),                 # 18:00
    (86400, True),                    # Thursday is a holiday
    (86400 * 3, True),                # Saturday
])
def test_business_hours_in_policy_zone(offset_s, fires):
    assert bool(alerts(run([cdr(t=offset_s)], policy(HOURS)), "time_condition")) is fires


def test_judged_at_call_start_not_end():
    from tests.builders import at
    # starts 17:50 Berlin, ends 18:30: inside business hours at start
    out = run([cdr(t=3600 * 6 + 50 * 60, end=at(3600 * 7 + 1800))], policy(HOURS))
    assert not alerts(out, "time_condition")


def test_extension_allowed_outside_hours():
    pol = policy(HOURS + "  '1001': {outside_business_hours: true}")
    assert not alerts(run([cdr(t=86400 * 3)], pol), "time_condition")


def test_route_time_condition():
    pol = policy(HOURS.replace("defaults: {outside_business_hours: false}", "defaults: {}") +
                 "routes:\n  intl: {time_condition: business_hours}")
    assert alerts(run([cdr(t=86400 * 3, route="intl")], pol), "time_condition")
    assert not alerts(run([cdr(t=86400 * 3, route="local")], pol), "time_condition")


def test_silent_without_business_hours():
    assert not alerts(run([cdr(t=86400 * 3)], policy("extensions:\n  defaults: {outside_business_hours: false}")), "time_condition")
