"""Publishing a transaction's output (violation changes, rejects), every message acknowledged before its commit."""

from __future__ import annotations

from typing import Any

from greenshield.errors import StreamError
from greenshield.settings import Settings
from greenshield.stream.decode import Reject, reject_message, violation_message

PUBLISH_TIMEOUT = 60.0


class PublishError(StreamError, RuntimeError):
    """An output message was not acknowledged; the batch is retried."""


def publish(producer: Any, settings: Settings, changes: list[dict[str, Any]], rejects: list[Reject]) -> None:
    """Send ``changes`` and ``rejects`` to their topics and wait for every delivery (raises :class:`PublishError`)."""
    if not changes and not rejects:
        return
    futures = []
    for change in changes:
        key, value = violation_message(change)
        futures.append(producer.send(settings.violations_topic, key=key, value=value))
    for r in rejects:
        key, value = reject_message(r)
        futures.append(producer.send(settings.rejects_topic, key=key, value=value))
    producer.flush(timeout=PUBLISH_TIMEOUT)  # every delivery reported (acks=all), or the timeout
    failed = [f for f in futures if not f.is_done or f.failed()]
    if failed:
        raise PublishError(f"{len(failed)} output message(s) not acknowledged: {failed[0].exception!r}")
