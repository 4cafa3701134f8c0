"""The detection engine: the detector facade (routing an event to its scope's rules, emitting alerts
and actions, incidents per key), partition keys, epochs and the canonical event-time order.

Knows nothing of Kafka, Faust or files (docs/architecture.md): the shells drive it.
"""
