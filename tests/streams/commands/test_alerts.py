"""The analyst's filters of `tollguard alerts` (pure part; the Kafka tail is exercised by the demo)."""

import argparse
from datetime import datetime, timezone

import pytest

from streams.commands.alerts import keep, parse_since, row

A = {"ts": "2026-12-04T03:41:03Z", "severity": "alert", "rule": "registration_lockout", "tenant": "acme",
     "subject_type": "ip", "subject": "51.140.77.12", "summary": "Extension Registration Blocked Out"}


def ns(**kw):
    return argparse.Namespace(**{"rule": None, "severity": None, "tenant": None, **kw})


@pytest.mark.parametrize("kw,since,ok", [
    ({}, None, True),
    ({"rule": ["registration_lockout"]}, None, True),
    ({"rule": ["premium_rate"]}, None, False),
    ({"severity": "warning"}, None, True),
    ({"severity": "critical"}, None, False),
    ({"tenant": ["other"]}, None, False),
    ({}, datetime(2026, 12, 4, 3, 41, 3, tzinfo=timezone.utc).timestamp(), True),
    ({}, datetime(2026, 12, 4, 3, 41, 4, tzinfo=timezone.utc).timestamp(), False),
])
def test_filters(kw, since, ok):
    assert keep(A, ns(**kw), since) is ok


def test_since_forms():
    assert parse_since("2026-12-04T03:00:00Z") == datetime(2026, 12, 4, 3, tzinfo=timezone.utc).timestamp()
    assert abs(parse_since("2h") - (datetime.now(timezone.utc).timestamp() - 7200)) < 5
    with pytest.raises(ValueError):
        parse_since("last tuesday")


def test_table_row_colour_only_on_request():
    assert "\033[" not in row(A, colour=False) and row(A, colour=True).startswith("\033[31m")
    assert "registration_lockout" in row(A, colour=False) and "ip:51.140.77.12" in row(A, colour=False)
