"""A rule an operator writes in the policy: a count, a distinct count or a sum of one field of the
events that match a filter, per key, within a sliding window, over a threshold (docs/policy.md
"Rules of your own"). The kinds are Sigma's correlation types ``event_count``, ``value_count`` and
``value_sum``; ``streams.rules.custom`` runs them.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from streams.domain.ruleids import RULE_IDS, SEVERITIES

NAME = re.compile(r"[a-z][a-z0-9_]{1,47}")

# What a rule may filter on, count or group by, per event type: the event's own fields and a few the
# detector derives (the destination's and the source's country). Numbers may be summed.
CDR_TEXT = ("src", "dst", "direction", "trunk", "route", "disposition", "src_ip", "user_agent", "phase",
            "dst_country", "dst_type", "src_country")
CDR_NUMBERS = ("duration", "billsec", "cost")
SECURITY_TEXT = ("service", "src_ip", "outcome", "action", "account", "user_agent", "protocol", "reason",
                 "context", "dialled", "src_country")
SECURITY_NUMBERS = ("port",)
FIELDS = {"cdr": (CDR_TEXT, CDR_NUMBERS), "security": (SECURITY_TEXT, SECURITY_NUMBERS)}

# key -> (scope, subject type, which events carry it)
KEYS = {"extension": ("ext", "extension"), "source_ip": ("ip", "ip"), "trunk": ("trunk", "trunk")}
KEY_EVENTS = {"extension": ("cdr", "security"), "source_ip": ("cdr", "security"), "trunk": ("cdr",)}
ACTIONS = {"block_ip": "source_ip", "lock_account": "extension", "disable_outbound": "extension"}
MAX_VALUES = 64  # values in one `where` list


def _one_or_many(v):
    return v if isinstance(v, list) else [v]


Scalar = Union[str, int, float, bool]


class CustomRule(BaseModel):
    """One rule of the operator's own (``rules: {NAME: {kind: …}}`` in the policy)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["event_count", "value_count", "value_sum"]
    events: Literal["cdr", "security"]
    key: Literal["extension", "source_ip", "trunk"]
    seconds: Annotated[float, Field(gt=0, le=7 * 86400)]
    threshold: Annotated[float, Field(ge=0)]
    field: Optional[str] = None
    where: dict[str, Annotated[list[Scalar], BeforeValidator(_one_or_many), Field(min_length=1, max_length=MAX_VALUES)]] = {}
    group_by: Annotated[list[str], Field(max_length=3)] = []
    severity: Literal[SEVERITIES] = "warning"  # type: ignore[valid-type]
    mode: Literal["enforce", "report", "off"] = "enforce"
    actions: list[Literal["block_ip", "lock_account", "disable_outbound"]] = []
    summary: Optional[Annotated[str, Field(max_length=200)]] = None

    @model_validator(mode="before")
    @classmethod
    def _durations(cls, data):
        if isinstance(data, dict) and isinstance(data.get("seconds"), str):
            from streams.policy.schema import _seconds
            data = {**data, "seconds": _seconds(data["seconds"])}
        if isinstance(data, dict) and data.get("mode") is False:
            data = {**data, "mode": "off"}  # YAML 1.1 reads an unquoted `off` as false
        return data

    @model_validator(mode="after")
    def _coherent(self) -> "CustomRule":
        text, numbers = FIELDS[self.events]
        known = text + numbers
        if self.events not in KEY_EVENTS[self.key]:
            raise ValueError(f"key {self.key} is not on {self.events} events (it is on {', '.join(KEY_EVENTS[self.key])})")
        for f in [*self.where, *self.group_by]:
            if f not in known:
                raise ValueError(f"{self.events} events have no field {f!r}; known: {', '.join(known)}")
        if self.kind == "event_count":
            if self.field is not None:
                raise ValueError("event_count counts events: it takes no `field`")
        elif self.field is None:
            raise ValueError(f"{self.kind} needs `field`: the field whose "
                             + ("distinct values are counted" if self.kind == "value_count" else "values are summed"))
        elif self.kind == "value_sum" and self.field not in numbers:
            raise ValueError(f"value_sum adds numbers: `field` must be one of {', '.join(numbers)}, not {self.field!r}")
        elif self.field not in known:
            raise ValueError(f"{self.events} events have no field {self.field!r}; known: {', '.join(known)}")
        if self.kind != "value_sum" and self.threshold != int(self.threshold):
            raise ValueError(f"a {self.kind} threshold is a whole number, not {self.threshold}")
        from streams.policy.schema import iso_country
        for f in ("dst_country", "src_country"):  # a misspelt country would silently never match
            if f in self.where:
                for v in self.where[f]:
                    iso_country(v)
        for a in self.actions:
            if ACTIONS[a] != self.key:
                raise ValueError(f"action {a} needs key {ACTIONS[a]} (it acts on that key), not {self.key}")
            if a == "lock_account" and self.events != "security":
                raise ValueError("lock_account locks a signing-in account: it needs events: security")
        return self

    @property
    def scope(self) -> str:
        return KEYS[self.key][0]

    @property
    def subject_type(self) -> str:
        return KEYS[self.key][1]


def check_names(rules: dict) -> dict:
    """Built-in ids take only ``mode``/``severity``; any other name must define a rule of one's own."""
    import difflib
    for name, setting in rules.items():
        if name in RULE_IDS:
            if isinstance(setting, CustomRule):
                raise ValueError(f"{name} is a built-in rule: it takes mode and severity, not kind (name your own rule "
                                 "differently)")
        elif not isinstance(setting, CustomRule):
            near = difflib.get_close_matches(name, RULE_IDS, n=1)
            hint = f"did you mean {near[0]}? " if near else ""
            raise ValueError(f"unknown rule {name!r}: {hint}A rule of your own needs `kind` (event_count, value_count, "
                             "value_sum; docs/policy.md \"Rules of your own\")")
        elif not NAME.fullmatch(name):
            raise ValueError(f"a rule's name is 2-48 lower-case letters, digits and _, starting with a letter, not {name!r}")
    return rules


def _is_custom(v) -> str:
    return "custom" if isinstance(v, CustomRule) or (isinstance(v, dict) and "kind" in v) else "builtin"


def text(v) -> str:
    """A field's value as the text a ``where`` list or a group compares (absent: ``""``)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def compiled(rules: dict) -> dict:
    """(scope, event type) -> [(name, rule, {field: texts matched})] for the rules that are not off."""
    out: dict = {}
    for name, r in rules.items():
        if isinstance(r, CustomRule) and r.mode != "off":
            where = {f: frozenset(text(v) for v in vals) for f, vals in r.where.items()}
            out.setdefault((r.scope, r.events), []).append((name, r, where))
    return out
