"""Loading a policy file: YAML with line numbers, validation into the schema, every problem as ``file:line: key.path: reason``."""

from __future__ import annotations

import difflib
import functools
import re

from pathlib import Path
from typing import Any

from streams.policy.yamlfile import YamlFileError, load_text
from pydantic import ValidationError

from streams.policy.compiled import Tenant
from streams.policy.schema import TenantPolicy


class PolicyError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class Policy:
    """All tenants of one policy file."""

    def __init__(self, base: TenantPolicy, tenants: dict[str, TenantPolicy], source: str = "<built-in defaults>"):
        self.source = source
        self.warnings: list[str] = []  # policy_lint: valid, but probably not what was meant
        self._base = Tenant("default", base)
        self._tenants = {name: Tenant(name, tp) for name, tp in tenants.items()}
        self._unknown: dict[str, Tenant] = {}  # bounded (MAX_UNKNOWN), oldest forgotten first

    MAX_UNKNOWN = 10_000  # tenants a feed names that the policy does not: they share the base settings

    def tenant(self, name: str) -> Tenant:
        t = self._tenants.get(name)
        if t is None:
            t = self._unknown.get(name)
            if t is None:
                t = self._base if name == "default" else self._base.renamed(name)
                if len(self._unknown) >= self.MAX_UNKNOWN:  # a feed naming a new tenant per event stays bounded
                    self._unknown.pop(next(iter(self._unknown)))
                self._unknown[name] = t
        return t

    @property
    def dlq_privacy(self):
        """Dead letters may belong to no known tenant: the first active privacy setting of any applies."""
        for t in (self._base, *self._tenants.values()):
            if t.privacy.active:
                return t.privacy
        return self._base.privacy

    def add_ranges(self, table) -> None:
        """High-risk ranges for every tenant (``replay --ranges``, the worker's ranges topic), over each
        tenant's own file. Tenants the policy does not list share the base's."""
        for t in (self._base, *self._tenants.values(), *self._unknown.values()):
            t.ranges = table if t.ranges is None else t.ranges.merged(table)

    def with_rules_off(self, rule_ids) -> "Policy":
        """The same policy with these rules switched off in every tenant (``evaluate --without``)."""
        import copy
        from streams.policy.schema import RuleSetting
        off = RuleSetting(mode="off")
        clone = copy.copy(self)

        def switched(t: Tenant) -> Tenant:
            t2 = copy.copy(t)
            t2.settings = t.settings.model_copy(update={"rules": {**t.settings.rules, **{r: off for r in rule_ids}}})
            t2.watches_callbacks = t2.rule("wangiri_inbound").mode != "off"
            return t2
        clone._base = switched(self._base)
        clone._tenants = {n: switched(t) for n, t in self._tenants.items()}
        clone._unknown = {}
        return clone

    @classmethod
    def default(cls) -> "Policy":
        return cls(TenantPolicy(), {})

    @classmethod
    def load(cls, path: str | Path) -> "Policy":
        text = Path(path).read_text(encoding="utf-8")
        return cls.from_yaml(text, str(path))

    @classmethod
    def from_yaml(cls, text: str, source: str = "<policy>") -> "Policy":
        data, lines = _load_yaml(text, source)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise PolicyError([f"{source}:1: the policy must be a mapping of keys"])
        tenants_raw = data.pop("tenants", {}) or {}
        problems: list[str] = []
        base = _validate(data, (), lines, source, problems)
        tenants: dict[str, TenantPolicy] = {}
        if not isinstance(tenants_raw, dict):
            problems.append(f"{source}:{lines.get(('tenants',), 1)}: tenants: must be a mapping of tenant name to settings")
        else:
            for name, over in tenants_raw.items():
                if not isinstance(over, dict):
                    problems.append(f"{source}:{lines.get(('tenants', name), 1)}: tenants.{name}: must be a mapping")
                    continue
                merged = {**data, **over}
                tp = _validate(merged, ("tenants", name), lines, source, problems, own=set(over))
                if tp is not None:
                    tenants[name] = tp
        if problems:
            raise PolicyError(problems)
        policy = cls(base, tenants, source)
        own_tables = [((), base), *((("tenants", n), tp) for n, tp in tenants.items())]
        from streams.reference.rates import RateTable
        from streams.reference.ranges import RangeTable
        _load_files(policy, own_tables, source, lines, "rates", RateTable.load, "the rate table", "_rates")
        _load_files(policy, own_tables, source, lines, "ranges", RangeTable.load, "the ranges", "ranges")
        from streams.policy.lint import warnings
        own = [((), base, None)] + [(("tenants", n), tp, set(tenants_raw[n])) for n, tp in tenants.items()]
        policy.warnings = [f"{source}:{w}" for w in warnings(own, lambda path: _nearest_line(lines, path))]
        return policy


def _load_files(policy: "Policy", own: list, source: str, lines: dict, key: str, load, what: str, attr: str) -> None:
    """Read each file the policy's ``key`` names (once per file, relative to the policy file's folder) with
    ``load`` and give it to its tenant as ``attr``; a file that cannot be read is a problem with its line."""
    folder = Path(source).parent if Path(source).is_file() else Path.cwd()
    tables: dict[Path, Any] = {}
    problems = []
    for prefix, tp in own:
        named = getattr(tp, key)
        if named is None:
            continue
        path = Path(named).expanduser()
        path = path if path.is_absolute() else folder / path
        if path not in tables:
            try:
                tables[path] = load(path)
            except (OSError, ValueError, UnicodeDecodeError) as exc:  # RangeError is a ValueError
                where = _nearest_line(lines, (*prefix, key))
                problems.append(f"{source}:{where}: {'.'.join((*prefix, key))}: cannot read {what}: {exc}")
                continue
        tenant = policy._base if not prefix else policy._tenants[prefix[1]]
        setattr(tenant, attr, tables[path])
    if problems:
        raise PolicyError(problems)


def _validate(data: dict, prefix: tuple, lines: dict, source: str, problems: list[str], own: set | None = None):
    try:
        return TenantPolicy.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(str(x) for x in err["loc"])
            # a key set at top level and only inherited by a tenant is reported once, at top level
            if own is not None and loc and loc[0] not in own:
                continue
            if len(loc) > 2 and loc[0] == "rules" and loc[2] in ("builtin", "custom"):
                loc = loc[:2] + loc[3:]  # the tag of a built-in or own rule's setting: not a key of the file
            msg = err["msg"].removeprefix("Value error, ")
            named = (re.match(r"(?:unknown rule|a rule's name is .*, not) '([^']{1,64})'|([a-z_]{1,64}) is a built-in rule", msg)
                     if loc == ("rules",) else None)
            if named:
                loc = ("rules", named.group(1) or named.group(2))
            path = (*prefix, *(x for x in loc if x != "[key]"))
            line = _nearest_line(lines, path)
            if err["type"] == "extra_forbidden":
                near = difflib.get_close_matches(str(loc[-1]), _known_keys(), n=1) if loc else []
                hint = f"did you mean {near[0]}? " if near else ""
                msg = f"unknown key ({hint}see docs/policy.md for the keys a policy may hold)"
            problems.append(f"{source}:{line}: {'.'.join(path) or '(top level)'}: {msg}")
        return None


@functools.lru_cache(maxsize=1)
def _known_keys() -> tuple[str, ...]:
    """Every key some part of a policy may hold (the schema's models' fields), for "did you mean"."""
    import pydantic

    from streams.policy import schema
    keys: set[str] = set()
    for obj in vars(schema).values():
        if isinstance(obj, type) and issubclass(obj, pydantic.BaseModel) and obj is not pydantic.BaseModel:
            keys.update(obj.model_fields)
    from streams.policy.customrule import CustomRule
    keys.update(CustomRule.model_fields)
    return tuple(sorted(keys))


def _nearest_line(lines: dict, path: tuple) -> int:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return 1


MAX_POLICY_BYTES = 4 * 1024 * 1024


def _load_yaml(text: str, source: str) -> tuple[Any, dict[tuple, int]]:
    """Parse a policy as every operator file is parsed (:mod:`streams.policy.yamlfile`: no aliases, no key twice,
    no implicit dates), each problem with its line."""
    try:
        return load_text(text, source, MAX_POLICY_BYTES)
    except YamlFileError as exc:
        raise PolicyError([p.replace("aliases (*name) are not accepted", "aliases (*name) are not accepted in a policy")
                           for p in exc.problems]) from None
