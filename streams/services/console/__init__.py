"""``tollguard console``: the SOC's web page over the Kafka topics (docs/console.md).

- :mod:`.users`  who may log in: argon2id hashes in a file, a role (viewer or analyst), an optional tenant;
- :mod:`.store`  the incidents as they stand, read from ``<prefix>.incidents``, bounded, filtered per user;
- :mod:`.feed`   follows the topic on a thread of its own and tells the page what changed;
- :mod:`.app`    the Starlette application: login, sessions, the list, an incident, live updates, actions.
"""
