"""``tollguard backup`` and ``tollguard restore`` (docs/backup.md): what tollguard knows, out of Kafka into one
archive and back.

Modules: ``archive`` (the file: manifest, parts, checks), ``topics`` (which topics, read to their end and
written back), ``alarm`` (one message on notify's channels when a backup fails), ``run`` (the two commands'
steps).
"""
