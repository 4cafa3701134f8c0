"""The contract: events in (CDRs, security events), alerts, actions and incidents out, and the rule ids.

Named ``domain`` rather than ``model`` so it is never confused with ``models/`` (the anomaly model).
"""
