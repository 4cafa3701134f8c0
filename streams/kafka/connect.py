"""How every command reaches Kafka: one set of client settings built from :class:`Config`, and a
pre-flight check that turns a refused or unreachable cluster into one clear sentence.

kafka-python (produce, alerts, export, topic admin) and aiokafka (the Faust worker) are given the
same security protocol, SASL mechanism, user, password and TLS files. Before a command does any
work it calls :func:`preflight`, which connects once with aiokafka: that client reports *why* a
connection failed (a refused password, a certificate that does not verify, nobody listening)
where kafka-python only times out. No message built here holds the password.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from streams.kafka.config import Config


class KafkaProblem(Exception):
    """Kafka cannot be used as configured; ``str()`` is a sentence for the operator (no secrets)."""


def kafka_python_kwargs(config: Config) -> dict:
    """Connection settings for kafka-python's producer, consumer and admin client."""
    kw: dict = {"bootstrap_servers": config.bootstrap, "security_protocol": config.security_protocol}
    if config.sasl:
        kw.update(sasl_mechanism=config.sasl_mechanism, sasl_plain_username=config.sasl_username,
                  sasl_plain_password=config.sasl_password)
    if config.tls:
        kw.update(ssl_check_hostname=config.ssl_check_hostname, ssl_cafile=config.ssl_cafile,
                  ssl_certfile=config.ssl_certfile, ssl_keyfile=config.ssl_keyfile)
    return kw


def ssl_context(config: Config) -> ssl.SSLContext | None:
    if not config.tls:
        return None
    try:
        ctx = ssl.create_default_context(cafile=config.ssl_cafile)
        if config.ssl_certfile:
            ctx.load_cert_chain(config.ssl_certfile, config.ssl_keyfile)
    except (ssl.SSLError, OSError) as exc:
        raise KafkaProblem(f"cannot load the TLS files for {config.where}: {exc}") from None
    ctx.check_hostname = config.ssl_check_hostname
    return ctx


def aiokafka_kwargs(config: Config) -> dict:
    kw: dict = {"bootstrap_servers": ",".join(config.bootstrap), "security_protocol": config.security_protocol}
    if config.sasl:
        kw.update(sasl_mechanism=config.sasl_mechanism, sasl_plain_username=config.sasl_username,
                  sasl_plain_password=config.sasl_password)
    if config.tls:
        kw["ssl_context"] = ssl_context(config)
    return kw


def faust_credentials(config: Config):
    """``broker_credentials`` for faust.App (None for PLAINTEXT)."""
    import faust
    if config.sasl:
        return faust.SASLCredentials(username=config.sasl_username, password=config.sasl_password,
                                     ssl_context=ssl_context(config), mechanism=config.sasl_mechanism)
    if config.tls:
        return faust.SSLCredentials(ssl_context(config))
    return None


def preflight(config: Config, need: list[str] | tuple = (), timeout: float = 15.0) -> set[str]:
    """Connect once; return the topics the cluster has. Raises :class:`KafkaProblem` with the reason
    when the cluster cannot be reached or refuses us, or when a topic in ``need`` is missing and
    ``TOLLGUARD_CREATE_TOPICS=0`` forbids creating it."""
    topics = asyncio.run(_connect(config, timeout))
    missing = [t for t in need if t not in topics]
    if missing and not config.create_topics:
        raise KafkaProblem(f"topics missing on {config.where} and TOLLGUARD_CREATE_TOPICS=0: {', '.join(missing)} "
                           "(`tollguard topics` lists every topic and its settings for the cluster's admins)")
    return topics


async def _connect(config: Config, timeout: float) -> set[str]:
    from aiokafka import AIOKafkaClient
    from aiokafka.errors import KafkaError

    heard = _Listener()
    logging.getLogger("aiokafka").addHandler(heard)
    client = AIOKafkaClient(request_timeout_ms=int(timeout * 1000), **aiokafka_kwargs(config))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        metadata = await asyncio.wait_for(client.fetch_all_metadata(), timeout)  # bootstrap asks for no topics
        return set(metadata.topics())
    except (KafkaError, OSError, asyncio.TimeoutError) as exc:
        raise KafkaProblem(explain(config, exc, heard.messages)) from None
    finally:
        logging.getLogger("aiokafka").removeHandler(heard)
        await client.close()


def explain(config: Config, exc: BaseException, logged: list[str]) -> str:
    """One sentence: what failed, against what, and the client's own reason (redacted)."""
    said = " ".join(logged + [str(exc)])
    if "SaslAuthenticationFailed" in said or "Authentication failed" in said:
        what = f"Kafka at {config.where} refused the credentials"
    elif "CERTIFICATE_VERIFY_FAILED" in said or "certificate verify failed" in said:
        what = (f"the TLS certificate of Kafka at {config.where} does not verify "
                "(TOLLGUARD_SSL_CAFILE must name the CA that signed it)")
    elif "UnsupportedSaslMechanism" in said or "mechanism" in said.lower() and "not" in said.lower():
        what = f"Kafka at {config.where} does not accept SASL mechanism {config.sasl_mechanism}"
    elif "SSL" in said or "WRONG_VERSION_NUMBER" in said or "handshake" in said.lower():
        what = f"TLS with Kafka at {config.where} failed (does the listener speak {config.security_protocol}?)"
    else:
        what = f"cannot reach Kafka at {config.where}"
    reason = logged[-1] if logged else (str(exc) or type(exc).__name__)
    return config.redact(f"{what}: {reason}")


class _Listener(logging.Handler):
    """Collects what aiokafka logs while connecting (it logs the reason, then raises a generic error)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.messages) < 20:
            self.messages.append(record.getMessage()[:500])
