"""tollguard: toll-fraud detection on CDR and SIP security event streams.

The detection core (core, domain, rules, state, policy, reference, intake) is plain synchronous
Python and knows nothing of Kafka or Faust; ``streams.shells.replay`` and ``streams.shells.worker`` are the
two shells that drive it.
"""

__version__ = "0.1.0"
