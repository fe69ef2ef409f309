"""The stream worker's Kafka consumer, over confluent-kafka (librdkafka): fetch and record parsing in C.

A thin adapter that gives the worker what it used from kafka-python, in plain types:
batches as ``{TP: [Record]}``, the assignment as a set of :class:`TP`, revoked
partitions reported to a callback, synchronous offset commits *with metadata* (each
partition's clock, :meth:`~greenshield.stream.watermark.Watermark.to_metadata`),
``committed``/``seek``/``highwater``. Why librdkafka, measured: ``docs/adr/0005-consumer.md``.

librdkafka details that matter here: ``fetch.queue.backoff.ms=50`` (its default stalls
a consumer about a second each time the local queue is full); a message's headers are
read exactly once (:func:`~greenshield.stream.kafka_records.headers_of`: a key that is
not UTF-8 is one reject, not an exception); a commit's metadata goes on the wire with a
trailing NUL (confluent-kafka sends ``strlen + 1`` bytes; kafka-python readers see it).
"""

from __future__ import annotations

import logging
import operator
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from greenshield.errors import StreamError
from greenshield.settings import Settings
from greenshield.stream.kafka_records import undecodable_headers

log = logging.getLogger("greenshield.kafka")

#: the local queue is refilled 50 ms after it was full (librdkafka's default waits up to 1 s)
FETCH_QUEUE_BACKOFF_MS = 50


class TP(NamedTuple):
    """A topic partition (equal to, and hashed like, the tuple ``(topic, partition)``)."""

    topic: str
    partition: int


class Record:
    """One consumed message: where it is, and its key, value and headers as they came."""

    __slots__ = ("topic", "partition", "offset", "key", "value", "headers")

    def __init__(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
                 headers: list[tuple[str, bytes | None]] | None) -> None:
        self.topic, self.partition, self.offset = topic, partition, offset
        self.key, self.value, self.headers = key, value, headers


class CommitFailed(StreamError):
    """The group moved on (a rebalance): these offsets are not committed; the new owner re-reads them."""


Revoked = Callable[[set[TP]], None]


def worker_config(settings: Settings, bootstrap: str, client_id: str) -> dict[str, Any]:
    """The worker's consumer: its group, manual commits, no topic creation, big fetches."""
    from greenshield.sdk.clients import librdkafka

    return {**librdkafka(bootstrap, client_id, settings.kafka_security),
            "group.id": settings.worker_group, "enable.auto.commit": False, "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest", "allow.auto.create.topics": False,
            "max.partition.fetch.bytes": 4 * 1024 * 1024, "fetch.max.bytes": 64 * 1024 * 1024,
            "session.timeout.ms": 10_000, "heartbeat.interval.ms": 2_000, "max.poll.interval.ms": 300_000,
            "fetch.queue.backoff.ms": FETCH_QUEUE_BACKOFF_MS}


#: partition errors that mean "ask again shortly": its leader is being elected or not yet known here
_LEADERLESS_ERRORS = ("NOT_LEADER_FOR_PARTITION", "NOT_LEADER_OR_FOLLOWER", "LEADER_NOT_AVAILABLE",
                      "FENCED_LEADER_EPOCH", "UNKNOWN_LEADER_EPOCH")

_REBALANCE_ERRORS = ("REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "_ASSIGNMENT_LOST",
                     "FENCED_INSTANCE_ID", "STALE_MEMBER_EPOCH")


class StreamConsumer:
    """A confluent-kafka consumer with the calls the worker and the registry feed make."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        from confluent_kafka import Consumer

        self._config = {**config, "error_cb": self._on_error, "logger": log}
        self._c = Consumer(self._config)
        self._asker: Any = None  # a client that never fetches, for offset questions (see _ask)
        self._fatal: Any = None

    # ------------------------------------------------------------- membership

    def subscribe(self, topics: Iterable[str], on_revoked: Revoked) -> None:
        """Join the group; partitions taken away (revoked or lost) go to ``on_revoked``."""
        def revoked(_: Any, parts: list[Any]) -> None:
            on_revoked({TP(p.topic, p.partition) for p in parts})

        self._c.subscribe(list(topics), on_revoke=revoked, on_lost=revoked)

    def assign(self, parts: Iterable[TP], *, beginning: bool = True) -> None:
        """Read ``parts`` without a group (the registry feed), from their beginning."""
        from confluent_kafka import OFFSET_BEGINNING, OFFSET_STORED, TopicPartition

        at = OFFSET_BEGINNING if beginning else OFFSET_STORED
        self._c.assign([TopicPartition(t, p, at) for t, p in parts])

    def assignment(self) -> set[TP]:
        return {TP(p.topic, p.partition) for p in self._c.assignment()}

    # ------------------------------------------------------------- reading

    def poll(self, max_records: int, timeout: float) -> dict[TP, list[Record]]:
        """Up to ``max_records`` messages: what is queued now, else wait up to ``timeout`` s for the first.

        Like kafka-python's ``poll``: returns as soon as anything is there (librdkafka's
        ``consume(n, timeout)`` would wait for ``n`` messages or the whole timeout).
        """
        if self._fatal is not None:
            from confluent_kafka import KafkaException

            raise KafkaException(self._fatal)
        msgs = self._c.consume(max_records, 0)
        if not msgs and timeout > 0:
            first = self._c.poll(timeout)
            if first is None:
                return {}
            msgs = [first, *self._c.consume(max_records - 1, 0)] if max_records > 1 else [first]
        return _by_partition(msgs)

    def highwater(self, tp: TP) -> int | None:
        """The partition's end offset as last seen in a fetch (no request), or None."""
        from confluent_kafka import KafkaException, TopicPartition

        try:
            _, high = self._c.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), cached=True)
        except KafkaException:
            return None
        return int(high) if high >= 0 else None

    def watermarks(self, tp: TP, timeout: float = 10.0) -> tuple[int, int]:
        """``(low, high)`` offsets of ``tp``, asked of the broker (again while it has no leader, up to ``timeout``)."""
        from confluent_kafka import KafkaException, TopicPartition

        retry = _LeaderRetry(timeout)
        while True:
            try:
                low, high = self._ask().get_watermark_offsets(TopicPartition(tp.topic, tp.partition),
                                                              timeout=retry.left())
                return int(low), int(high)
            except KafkaException as err:
                if not (err.args and retry.again(err.args[0], 1)):
                    raise

    def _ask(self) -> Any:
        """A second client, never assigned, that asks the broker about offsets.

        A consumer that is fetching has a fetch waiting on the broker (up to
        ``fetch.wait.max.ms``, 500 ms) and a broker answers one connection's requests
        in order: an offsets request behind it took 0.5 s (measured), on every
        registry catch-up. This client's connection has nothing else in flight.
        """
        if self._asker is None:
            from confluent_kafka import Consumer

            self._asker = Consumer(self._config)
        return self._asker

    def end_offsets(self, tps: Iterable[TP], timeout: float = 10.0) -> dict[TP, int]:
        """The end offset of each partition, in one request per leader (ListOffsets of "latest").

        A partition whose leader is moving or not yet known (a topic just created, a
        broker restarting) is asked again until ``timeout``; any other error raises.
        """
        from confluent_kafka import OFFSET_END, KafkaException, TopicPartition

        retry = _LeaderRetry(timeout)
        wanted = list(dict.fromkeys(tps))
        out: dict[TP, int] = {}
        while wanted:
            asked = [TopicPartition(t, n, OFFSET_END) for t, n in wanted]
            again: list[tuple[TP, Any]] = []
            for p in self._ask().offsets_for_times(asked, timeout=retry.left()):
                if p.error is None:
                    out[TP(p.topic, p.partition)] = int(p.offset)
                elif _leaderless(p.error):
                    again.append((TP(p.topic, p.partition), p.error))
                else:
                    raise KafkaException(p.error)
            if again and not retry.again(again[0][1], len(again)):
                raise KafkaException(again[0][1])
            wanted = [tp for tp, _ in again]
        return out

    def position(self, tp: TP) -> int | None:
        """The offset of the next message this consumer will return, or None before it returned any."""
        from confluent_kafka import TopicPartition

        got = self._c.position([TopicPartition(tp.topic, tp.partition)])[0]
        return int(got.offset) if got.offset >= 0 else None

    # ------------------------------------------------------------- offsets

    def commit(self, offsets: Mapping[TP, tuple[int, str]]) -> None:
        """Commit ``{tp: (next offset, metadata)}`` and wait for the broker; :class:`CommitFailed` on a rebalance."""
        from confluent_kafka import KafkaError, KafkaException, TopicPartition

        parts = [TopicPartition(tp.topic, tp.partition, offset, meta) for tp, (offset, meta) in offsets.items()]
        try:
            done = self._c.commit(offsets=parts, asynchronous=False)
        except KafkaException as err:
            if _rebalance(err.args[0] if err.args else None):
                raise CommitFailed(str(err)) from err
            raise
        for p in done or []:
            if p.error is not None:
                if _rebalance(p.error):
                    raise CommitFailed(str(p.error))
                raise KafkaException(p.error if isinstance(p.error, KafkaError) else KafkaError(KafkaError._FAIL))

    def committed(self, tps: Iterable[TP], timeout: float = 30.0) -> dict[TP, tuple[int | None, str | None]]:
        """The group's committed ``(offset, metadata)`` of each partition (``(None, None)``: nothing committed)."""
        from confluent_kafka import KafkaException, TopicPartition

        out: dict[TP, tuple[int | None, str | None]] = {}
        for p in self._c.committed([TopicPartition(t, n) for t, n in tps], timeout=timeout):
            if p.error is not None:
                raise KafkaException(p.error)
            try:
                meta: str | None = p.metadata
            except (UnicodeDecodeError, SystemError):  # not ours: someone committed bytes that are not UTF-8
                meta = None
            out[TP(p.topic, p.partition)] = (int(p.offset), meta) if p.offset >= 0 else (None, None)
        return out

    def seek(self, tp: TP, offset: int | None) -> None:
        """Read ``tp`` from ``offset`` next (None: from its beginning); messages fetched before are dropped."""
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        self._c.seek(TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING if offset is None else offset))

    def close(self) -> None:
        try:
            self._c.close()
        finally:
            if self._asker is not None:
                self._asker.close()

    # ------------------------------------------------------------- errors

    def _on_error(self, err: Any) -> None:
        """librdkafka's client-level errors (a broker down, authentication): logged; a fatal one stops polls."""
        if err.fatal():
            self._fatal = err
            log.error("event=kafka_fatal error=%s", err)
        else:
            log.warning("event=kafka_error error=%s", err)


def _leaderless(err: Any) -> bool:
    return hasattr(err, "name") and err.name() in _LEADERLESS_ERRORS


class _LeaderRetry:
    """Asking the broker again while a partition has no leader: 50 ms, doubling up to 1 s, within a budget."""

    def __init__(self, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        self.pause = 0.05

    def left(self) -> float:
        return max(self.deadline - time.monotonic(), 0.001)

    def again(self, err: Any, partitions: int) -> bool:
        """After ``err``: wait and say True to ask again, or False (not a leader error, or no time left)."""
        if not _leaderless(err) or time.monotonic() + self.pause >= self.deadline:
            return False
        log.info("event=offsets_retry reason=no_leader partitions=%d", partitions)
        time.sleep(self.pause)
        self.pause = min(self.pause * 2, 1.0)
        return True


def _rebalance(err: Any) -> bool:
    return err is not None and hasattr(err, "name") and err.name() in _REBALANCE_ERRORS


#: ``m.headers()`` through a call that always checks for a pending exception: CPython 3.11's
#: specialised call of a method without arguments only asserts it (release builds do not
#: check), so a ``headers()`` that failed on a key that is not UTF-8 would return its
#: half-built list (a NULL inside) with the error left pending, raised later elsewhere
_headers = operator.methodcaller("headers")


def _by_partition(msgs: list[Any]) -> dict[TP, list[Record]]:
    """Messages grouped by partition in order; a message that is an error is raised (an outage, the worker retries)."""
    grouped: dict[tuple[str, int], list[Record]] = {}
    for m in msgs:
        err = m.error()
        if err is not None:
            _message_error(err)
            continue
        topic, partition = m.topic(), m.partition()
        into = grouped.get((topic, partition))
        if into is None:
            grouped[(topic, partition)] = into = []
        try:  # once, and checked: after a failed call the message holds a broken list (kafka_records)
            headers = _headers(m)
        except (SystemError, UnicodeDecodeError) as failed:
            headers = undecodable_headers(failed)
        into.append(Record(topic, partition, m.offset(), m.key(), m.value(), headers))
    return {TP(t, p): v for (t, p), v in grouped.items()}


def _message_error(err: Any) -> None:
    from confluent_kafka import KafkaError, KafkaException

    if err.code() == KafkaError._PARTITION_EOF:
        return
    raise KafkaException(err)


def feed_config(settings: Settings, bootstrap: str, client_id: str) -> dict[str, Any]:
    """The registry feed's reader: assigned, never joins nor commits.

    librdkafka wants a ``group.id`` even then; the worker's own group is the one its
    ACLs allow (an assigned consumer neither joins it nor commits to it).
    """
    from greenshield.sdk.clients import librdkafka

    return {**librdkafka(bootstrap, client_id, settings.kafka_security),
            "group.id": settings.worker_group, "enable.auto.commit": False, "enable.auto.offset.store": False,
            "allow.auto.create.topics": False, "fetch.queue.backoff.ms": FETCH_QUEUE_BACKOFF_MS}
