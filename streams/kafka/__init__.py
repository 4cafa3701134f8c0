"""Kafka plumbing shared by the shells, services and commands: configuration, client connections,
topic names, following a topic, the dead-letter queue and observability.

The pure layers (core, domain, rules, state, policy, reference, intake) never import it.
"""
