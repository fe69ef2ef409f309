"""Poison rows: a batch the store refused is bisected until each refused row is alone, and becomes a reject.

Why and how the search is bounded: docs/adr/0008-stream-worker.md ("Failures and poison rows").
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from greenshield.rules.model import Rejection
from greenshield.store.failures import from_store, refusal
from greenshield.stream.batch import Outcome, item_kind
from greenshield.stream.decode import Candidate, Reject
from greenshield.stream.failures import content_error

log = logging.getLogger("greenshield.worker")

Items = list[Candidate | Reject]


def store_batch(items: Items, commit: Callable[[Items], Outcome], repair: Callable[[], None],
                failed: BaseException | None = None) -> Outcome:
    """Commit ``items``; on a content error, bisect them and turn each row the store refuses into a reject.

    ``commit``: one store transaction for some items; ``repair``: run after each rolled-back
    transaction; ``failed``: the first transaction already ran (in the writer thread) and failed so.
    """
    if failed is None:
        try:
            return commit(items)
        except Exception as err:
            failed = err
    if not content_error(failed):
        raise failed
    first = failed
    log.warning("event=batch_refused error=%s items=%d; bisecting to find the row(s)",
                refusal(first), len(items))
    repair()
    total, refused = Outcome(), Items()
    mid = len(items) // 2
    for half in (items[:mid], items[mid:]):
        _bisect(half, commit, repair, total, refused)
    if not from_store(first) and len(refused) == len(items):
        log.error("event=batch_all_internal items=%d error=%s", len(items), refusal(first))
    if refused:
        last = commit(refused)
        last.refused = len(refused)
        total.merge(last)
    return total


def _bisect(items: Items, commit: Callable[[Items], Outcome], repair: Callable[[], None], total: Outcome,
            refused: Items) -> None:
    if not items:
        return
    try:
        total.merge(commit(items))
        return
    except Exception as err:
        if not content_error(err):
            raise
        repair()
        if len(items) == 1:
            refused.append(refused_reject(items[0], err))
            return
    mid = len(items) // 2
    _bisect(items[:mid], commit, repair, total, refused)
    _bisect(items[mid:], commit, repair, total, refused)


def refused_reject(item: Candidate | Reject, err: BaseException) -> Reject:
    """The reject that replaces a row the store refused (no payload: it may be what was refused)."""
    database = from_store(err)
    what = "row" if isinstance(item, Candidate) else "reject"
    reason = f"store refused the {what}: {refusal(err)}" if database else f"internal: {refusal(err)}"
    log.warning("event=row_refused topic=%s partition=%d offset=%d error=%s", item.topic, item.partition,
                item.offset, refusal(err), exc_info=not database)
    if isinstance(item, Candidate):
        return Reject(item.topic, item.partition, item.offset, Rejection(reason, None, item.key), 0, None,
                      item_kind(item), item.item.enterprise_id, internal=not database)
    return Reject(item.topic, item.partition, item.offset, Rejection(reason), item.size, item.sha256,
                  item.type, item.enterprise, internal=not database)
