"""Which worker failures are an outage (wait and retry the batch) and which a bad row (bisect the batch).

The store's half of the answer is :mod:`greenshield.store.failures`; this adds the
broker's and the network's (docs/adr/0008-stream-worker.md, "Failures and poison rows").
"""

from __future__ import annotations

from greenshield.store.failures import bad_row, from_store
from greenshield.stream.publish import PublishError


def outage(err: BaseException) -> bool:
    """The store, the broker or the network failed: wait and retry the batch (never a reject).

    Kafka errors come from librdkafka (the consumers: ``KafkaException``) and from
    kafka-python (the producer and the start-up admin client: ``KafkaError``).
    """
    from confluent_kafka import KafkaException
    from kafka.errors import KafkaError

    from greenshield.stream.consumer import CommitFailed

    return isinstance(err, (KafkaError, KafkaException, CommitFailed, PublishError, TimeoutError,
                            OSError)) or from_store(err)


def content_error(err: BaseException) -> bool:
    """Did the store (or the per-batch work) fail because of what a row holds, not because it is unavailable?"""
    return bad_row(err) or (isinstance(err, Exception) and not outage(err))
