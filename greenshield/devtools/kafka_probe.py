"""Is a Kafka broker there and serving? :func:`probe` asks for cluster metadata (kafka-python, imported lazily)."""

from __future__ import annotations

import contextlib
import logging
import socket
import uuid
from collections.abc import Iterator, Mapping

from greenshield.devtools.kafka_config import ProbeError


@contextlib.contextmanager
def _kafka_logs_silenced() -> Iterator[None]:
    """kafka-python logs every refused connection; a probe expects those."""
    logger = logging.getLogger("kafka")
    old = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(old)


def probe(bootstrap: str, *, timeout: float = 10.0, roundtrip: bool = False, group: bool = False,
          security: Mapping[str, str] | None = None) -> None:
    """Ask the broker at ``bootstrap`` for cluster metadata; raise :class:`ProbeError` if it fails.

    ``roundtrip`` also creates and deletes a throw-away topic (the controller
    works); ``group`` also looks up a group coordinator, which creates the
    offsets topic so the first consumer group does not wait for it.
    """
    host, _, port_text = bootstrap.rpartition(":")
    host = host.strip("[]")
    try:
        socket.create_connection((host, int(port_text)), timeout=min(timeout, 3.0)).close()
    except (OSError, ValueError) as e:
        raise ProbeError(f"cannot connect to {bootstrap}: {e}") from None

    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    ms = max(1000, int(timeout * 1000))
    with _kafka_logs_silenced():
        try:
            from greenshield.sdk.clients import security_options

            admin = KafkaAdminClient(
                **security_options(security or {}),
                bootstrap_servers=bootstrap,
                client_id="greenshield-probe",
                request_timeout_ms=ms,
                bootstrap_timeout_ms=ms,
                reconnect_backoff_max_ms=1000,
            )
        except (KafkaError, OSError) as e:
            raise ProbeError(f"no Kafka answer from {bootstrap}: {e!r}") from None
        try:
            meta = admin.describe_cluster()
            if not meta.get("brokers"):
                raise ProbeError(f"{bootstrap} reports no brokers yet")
            if roundtrip:
                topic = f"greenshield-probe-{uuid.uuid4().hex[:12]}"
                admin.create_topics(
                    {topic: {"num_partitions": 1, "replication_factor": 1}},
                    timeout_ms=ms,
                    wait_for_metadata=True,
                )
                admin.delete_topics([topic], timeout_ms=ms)
            if group:
                admin.describe_groups(["greenshield-probe"])
        except KafkaError as e:
            raise ProbeError(f"{bootstrap} did not serve a request: {e!r}") from None
        finally:
            admin.close()
