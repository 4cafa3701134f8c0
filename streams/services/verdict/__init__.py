"""``tollguard verdict``: allow or refuse a call before it is routed (docs/verdict.md).

- :mod:`.judge`   the decision, pure: the rules themselves run over the call as a ``phase: start``
  CDR (so a verdict never differs from what the rules would do a moment later), then the live blocks;
- :mod:`.live`    the blocks in force, folded from ``<prefix>.actions`` as the worker publishes them;
- :mod:`.service` the HTTP shell an SBC or SIP proxy asks at call setup.
"""
