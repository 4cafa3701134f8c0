import pytest

from streams.policy import Policy, PolicyError


def errors(text: str) -> list[str]:
    with pytest.raises(PolicyError) as exc:
        Policy.from_yaml(text, "p.yaml")
    return exc.value.problems


def test_line_and_key_of_each_problem():
    probs = errors("timezone: Mars/Base\ncall_frequency: {calls: 0, seconds: 1}\n"
                   "extensions:\n  '1001':\n    internationl: true\n")
    assert probs[0].startswith("p.yaml:1: timezone: unknown IANA time zone")
    assert probs[1].startswith("p.yaml:2: call_frequency.calls:")
    assert probs[2].startswith("p.yaml:5: extensions.1001.internationl: unknown key")


def test_tenant_errors_point_into_the_tenant():
    probs = errors("home_country: GB\ntenants:\n  acme:\n    blocked_numbers:\n      - '00Q'\n")
    assert probs == ["p.yaml:5: tenants.acme.blocked_numbers.0: unexpected 'Q' at position 3 in '00Q' "
                     "(allowed: digits + * # X Z N [..] . !)"]


@pytest.mark.parametrize("text,where", [
    ("rules:\n  call_freq: {mode: enforce}\n", "p.yaml:2: rules.call_freq"),
    ("rules:\n  premium_rate: {mode: loud}\n", "p.yaml:2: rules.premium_rate.mode"),
    ("business_hours:\n  mon-fry: ['08:00-18:00']\n", "p.yaml:1: business_hours"),
    ("business_hours:\n  mon-fri: ['18:00-08:00']\n", "p.yaml:1: business_hours"),
    ("lan: [10.0.0.0/33]\n", "p.yaml:1: lan.0"),
    ("home_country: XX\n", "p.yaml:1: home_country"),
    ("static_defense:\n  - {name: a, source: example.com, action: accept}\n", "p.yaml:2: static_defense.0.source"),
    ("holidays: [2026-02-30]\n", "p.yaml:1: holidays"),
    ("timezone: [\n", "p.yaml:2: not valid YAML"),
    ("- a\n- b\n", "p.yaml:1: the policy must be a mapping"),
])
def test_bad_values_are_refused(text, where):
    assert any(p.startswith(where) for p in errors(text)), errors(text)


def test_tenant_overrides_and_inherits():
    pol = Policy.from_yaml("home_country: GB\ndaily_calls: 7\ntenants:\n  us: {home_country: US}\n")
    assert pol.tenant("us").settings.home_country == "US" and pol.tenant("us").settings.daily_calls == 7
    assert pol.tenant("unknown").settings.home_country == "GB"


def test_extension_settings_layering():
    pol = Policy.from_yaml("call_frequency: {calls: 3, seconds: 1}\nextensions:\n  defaults: {international: true}\n"
                           "  '7': {international: false, daily_calls: 9}\n")
    t = pol.tenant("default")
    assert t.ext("7").international is False and t.ext("7").daily_calls == 9
    assert t.ext("8").international is True and t.ext("8").call_frequency.calls == 3


def test_example_policy_is_valid():
    from pathlib import Path
    Policy.load(Path(__file__).resolve().parents[3] / "fixtures" / "policy.example.yaml")


def test_every_per_extension_setting_has_one_definition_and_one_default():
    from streams.policy import ExtensionPolicy, ExtSettings
    from streams.policy.compiled import EXT_DEFAULTS
    assert set(ExtSettings.__slots__) == set(ExtensionPolicy.model_fields) == set(EXT_DEFAULTS)
