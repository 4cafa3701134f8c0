"""Settings from the environment: security options, validation, and no secret in any message."""

import pytest

from streams.kafka.config import Config, ConfigError
from streams.kafka.connect import KafkaProblem, explain, kafka_python_kwargs, ssl_context


def test_defaults_are_plaintext_and_create_topics():
    c = Config.from_env({})
    assert c.security_protocol == "PLAINTEXT" and c.create_topics and c.min_insync_replicas is None
    assert kafka_python_kwargs(c) == {"bootstrap_servers": ["127.0.0.1:9092"], "security_protocol": "PLAINTEXT"}


def test_password_comes_from_a_file_and_never_shows(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("hunter2-long\n")
    c = Config.from_env({"TOLLGUARD_SECURITY_PROTOCOL": "sasl_plaintext", "TOLLGUARD_SASL_USERNAME": "alice",
                         "TOLLGUARD_SASL_PASSWORD_FILE": str(pw), "TOLLGUARD_SASL_MECHANISM": "scram-sha-256"})
    assert c.sasl_password == "hunter2-long" and c.security_protocol == "SASL_PLAINTEXT"
    assert "hunter2" not in repr(c) and "hunter2" not in c.where
    kw = kafka_python_kwargs(c)
    assert kw["sasl_mechanism"] == "SCRAM-SHA-256" and kw["sasl_plain_password"] == "hunter2-long"
    assert c.redact("boom hunter2-long boom") == "boom *** boom"
    msg = explain(c, OSError("x"), ["Authentication failed for alice with hunter2-long"])
    assert "refused the credentials" in msg and "hunter2" not in msg


@pytest.mark.parametrize("env, words", [
    ({"TOLLGUARD_BROKER": "kafka://bob:s3cret@10.0.0.1:9092"}, "holds credentials"),
    ({"TOLLGUARD_SECURITY_PROTOCOL": "TLS"}, "TOLLGUARD_SECURITY_PROTOCOL"),
    ({"TOLLGUARD_SECURITY_PROTOCOL": "SASL_SSL"}, "TOLLGUARD_SASL_USERNAME"),
    ({"TOLLGUARD_SECURITY_PROTOCOL": "SASL_SSL", "TOLLGUARD_SASL_USERNAME": "a", "TOLLGUARD_SASL_PASSWORD": "p",
      "TOLLGUARD_SASL_MECHANISM": "GSSAPI"}, "TOLLGUARD_SASL_MECHANISM"),
    ({"TOLLGUARD_SSL_CAFILE": "/nonexistent/ca.pem", "TOLLGUARD_SECURITY_PROTOCOL": "SSL"}, "no such file"),
    ({"TOLLGUARD_REPLICATION": "2", "TOLLGUARD_MIN_INSYNC_REPLICAS": "3"}, "exceeds"),
    ({"TOLLGUARD_PARTITIONS": "four"}, "whole number"),
    ({"TOLLGUARD_CREATE_TOPICS": "maybe"}, "1 or 0"),
    ({"TOLLGUARD_SASL_PASSWORD_FILE": "/nonexistent/pw"}, "cannot read"),
])
def test_bad_settings_are_refused_with_the_variable_named(env, words):
    with pytest.raises(ConfigError) as err:
        Config.from_env(env)
    assert words in str(err.value) and "s3cret" not in str(err.value)


def test_tls_files_that_do_not_load_are_a_clear_problem(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    c = Config.from_env({"TOLLGUARD_SECURITY_PROTOCOL": "SSL", "TOLLGUARD_SSL_CAFILE": str(bad)})
    with pytest.raises(KafkaProblem, match="cannot load the TLS files"):
        ssl_context(c)


def test_topics_declare_min_insync_and_compaction():
    from streams.kafka.topics import declared
    c = Config.from_env({"TOLLGUARD_REPLICATION": "3", "TOLLGUARD_MIN_INSYNC_REPLICAS": "2", "TOLLGUARD_TOPIC_PREFIX": "p"})
    specs = {s.name: s for s in declared(c)}
    assert specs["p.blocklist"].configs == {"min.insync.replicas": "2", "cleanup.policy": "compact"}
    assert specs["p-worker-state-ext-changelog"].configs["cleanup.policy"] == "compact"
    assert specs["p.cdr"].configs == {"min.insync.replicas": "2"}
    assert {"p.cdr", "p.security", "p.alerts", "p.dlq", "p.by-ip", "p-worker-__assignor-__leader"} <= set(specs)
