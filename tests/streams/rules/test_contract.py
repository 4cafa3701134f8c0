"""The rule contract: every public rule id is implemented, every module declares what the detector relies on."""

import types
from pathlib import Path

import pytest

from streams.domain.ruleids import RULE_IDS
from streams.rules import MODULES, SPECS
from streams.rules.contract import RuleContractError, markdown, spec_of

ROOT = Path(__file__).resolve().parents[3]


def test_every_public_rule_id_is_implemented_and_every_rule_is_public():
    assert {s.id for s in SPECS} == set(RULE_IDS)
    assert "weak_credentials" not in RULE_IDS  # accepted nowhere until something implements it


def test_docs_rules_md_is_generated_from_the_modules():
    assert (ROOT / "docs" / "rules.md").read_text() == markdown(SPECS), "run `make schema` (python -m streams.rules)"


def test_no_rule_imports_the_core():
    for m in MODULES:
        src = Path(m.__file__).read_text()
        assert "from ..core" not in src and "streams.core.detector" not in src, m.__name__


def test_a_policy_naming_an_unimplemented_rule_is_refused():
    from streams.policy import Policy, PolicyError
    with pytest.raises(PolicyError):
        Policy.from_yaml("rules: {weak_credentials: report}\n", "<test>")


def _module(**attrs):
    m = types.ModuleType("streams.rules.call_frequency")
    m.__doc__ = "call_frequency — guide: somewhere."
    base = dict(RULE="call_frequency", SCOPE="ext", EVENTS=("cdr",), SEVERITY="alert", STATE=("call_frequency",),
                check=lambda ctx, ev: None)
    for k, v in {**base, **attrs}.items():
        if v is not None:
            setattr(m, k, v)
    return m


@pytest.mark.parametrize("attrs, says", [
    ({"RULE": "nope"}, "RULE must be the module's name"),
    ({"SCOPE": "planet"}, "SCOPE must be one of"),
    ({"EVENTS": ("fax",)}, "EVENTS must name"),
    ({"SEVERITY": "meh"}, "SEVERITY must be one of"),
    ({"check": None}, "check(ctx, event) is missing"),
    ({"on_timer": lambda ctx, t: None}, "on_timer and pending come together"),
    ({"SCOPE": ("ext", "tenant")}, "a rule of the tenant scope declares routes"),
    ({"STATE": ["call_frequency"]}, "STATE must be a tuple"),
    ({"STATE": ("call_frequency", "wallet")}, "STATE names wallet, not slots of the ext state"),
    ({"SCOPE": ("ip", "ext"), "STATE": ("call_frequency",)}, "STATE names call_frequency, not slots of the ip"),
    ({"looks_back": 3600}, "looks_back(policy) must be a function"),
])
def test_a_module_that_breaks_the_contract_is_refused_with_the_reason(attrs, says):
    assert spec_of(_module()).id == "call_frequency"
    with pytest.raises(RuleContractError, match=says.replace("(", r"\(").replace(")", r"\)")):
        spec_of(_module(**attrs))


def test_a_module_without_its_guide_citation_is_refused():
    m = _module()
    m.__doc__ = "Counts calls."
    with pytest.raises(RuleContractError, match="cite the guide"):
        spec_of(m)


def test_every_state_slot_is_kept_by_the_core_or_by_exactly_one_rule():
    # declared state: a slot nobody declares would be state no rule answers for; one declared twice, two rules
    # writing the same window
    from streams.rules import SPECS
    from streams.state.schema import CORE_SLOTS, STATE_TYPES

    for scope, kind in STATE_TYPES.items():
        owners: dict[str, list[str]] = {slot: ["core"] for slot in CORE_SLOTS[scope]}
        for spec in SPECS:
            if scope in spec.scope.split(", "):
                for slot in spec.state:
                    owners.setdefault(slot, []).append(spec.id)
        assert set(owners) == set(kind.__struct_fields__), scope
        assert {slot: who for slot, who in owners.items() if len(who) > 1} == {}, scope


def test_the_rules_table_names_the_state_each_rule_keeps():
    from streams.rules import SPECS
    from streams.rules.contract import markdown

    row = next(line for line in markdown(SPECS).splitlines() if line.startswith("| `distributed_lockout`"))
    assert "`failures`, `failure_sources`, `failure_accounts`, `accounts`, `sources`" in row


def test_a_rules_look_back_is_in_its_own_scopes():
    from pathlib import Path

    from streams.policy import Policy
    from streams.rules import SPECS

    p = Policy.load(str(Path(__file__).resolve().parents[3] / "fixtures/policy.example.yaml")).tenant("x").settings
    declared = 0
    for spec in SPECS:
        if spec.looks_back is not None:
            for scope, seconds in spec.looks_back(p):
                assert scope in spec.scope.split(", "), spec.id
                assert seconds > 0, spec.id
                declared += 1
    assert declared >= 15
