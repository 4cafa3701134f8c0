"""The policy file: the guide's settings, per tenant, validated.

A policy is YAML. Its top-level keys are the settings of the default tenant; an optional
``tenants:`` mapping overrides any top-level key per tenant (a tenant not listed uses the
top level). Every key is documented in ``docs/policy.md`` and the commented example
``fixtures/policy.example.yaml``. A bad file is refused with ``file:line: key.path: reason``.

The package: ``schema`` (the pydantic models: one definition per setting), ``compiled`` (a tenant's
settings compiled for the hot path) and ``loader`` (YAML with line numbers, validation, errors).
"""

from streams.policy.compiled import ExtSettings, Tenant
from streams.policy.loader import Policy, PolicyError
from streams.policy.schema import DEFAULT_LAN, DEFAULT_SCANNER_USER_AGENTS, ExtensionPolicy, TenantPolicy

__all__ = ["DEFAULT_LAN", "DEFAULT_SCANNER_USER_AGENTS", "ExtSettings", "ExtensionPolicy", "Policy", "PolicyError",
           "Tenant", "TenantPolicy"]
