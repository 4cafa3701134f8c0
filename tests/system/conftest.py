"""tests/system: real programs end to end. The broker fixtures are tests/kafka's (the tests that use
them are marked ``kafka`` in their module, as tests/kafka's are)."""

from tests.kafka.conftest import broker, prefix  # noqa: F401  (fixtures)
