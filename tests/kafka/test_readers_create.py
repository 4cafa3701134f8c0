"""A reader that subscribes before any worker ran creates its topic with tollguard's settings, not the
broker's auto-created one (one partition, not compacted): `tollguard doctor` found the demo's incidents
topic uncompacted because notify and the console had subscribed first."""

import os
import subprocess
import sys

import pytest

from tests.kafka.conftest import ROOT

pytestmark = pytest.mark.kafka


def settings(broker, topic):
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
    a = KafkaAdminClient(bootstrap_servers=[broker])
    try:
        parts = len(a.describe_topics([topic])[0]["partitions"])
        conf = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])["topic"][topic]
        return parts, (conf.get("cleanup.policy") or {}).get("value", "delete")
    finally:
        a.close()


def test_the_alerts_tail_creates_its_topic_as_the_worker_would(broker, prefix):
    env = {**os.environ, "TOLLGUARD_TOPIC_PREFIX": prefix, "TOLLGUARD_BROKER": f"kafka://{broker}", "TOLLGUARD_PARTITIONS": "3"}
    p = subprocess.run([sys.executable, "-m", "streams.cli", "alerts", "--idle-timeout", "1"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert settings(broker, f"{prefix}.alerts") == (3, "delete")


def test_the_consoles_incident_reader_creates_a_compacted_topic(broker, prefix):
    """What the console and `incidents --follow` subscribe with: the incidents topic, compacted."""
    from streams.kafka.config import Config
    from streams.kafka.topic_io import TopicReader
    config = Config.from_env({"TOLLGUARD_TOPIC_PREFIX": prefix, "TOLLGUARD_BROKER": f"kafka://{broker}",
                              "TOLLGUARD_PARTITIONS": "3"})
    TopicReader(config, config.incidents).close()
    assert settings(broker, config.incidents) == (3, "compact")
