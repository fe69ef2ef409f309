"""The sharing side tables: department scopes, subscriptions, the notifier's outbox and cursors.

Operational state beside the audit schema, like the API tokens (:mod:`greenshield.store.tokens`): its own
:class:`~sqlalchemy.MetaData` and version row (``sharing_version``), created on first use by
:func:`ensure_tables`. What was *sent* is audited: every delivery attempt is a leaf of the audit log
(``deliveries`` in :mod:`greenshield.store.schema`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from greenshield.store.schema import RowKey
from greenshield.store.side_tables import ensure_versioned_tables, version_table

if TYPE_CHECKING:
    from greenshield.store.database import Store

SHARING_VERSION = 1

metadata = sa.MetaData()
sharing_version = version_table("sharing_version", metadata)
token_scopes = sa.Table(
    "token_scopes", metadata,  # what a department token may receive (greenshield.share.scope), set at issue
    sa.Column("token_id", sa.String(12), primary_key=True),
    sa.Column("scope", sa.Text, nullable=False),  # canonical JSON
)
subscriptions = sa.Table(
    "subscriptions", metadata,
    sa.Column("id", sa.String(20), primary_key=True),
    sa.Column("token_id", sa.String(12), nullable=False),      # the department's token
    sa.Column("callback", sa.Text, nullable=False),
    sa.Column("filter", sa.Text, nullable=False),              # canonical JSON, inside the token's scope
    sa.Column("secret", sa.Text, nullable=False),              # whsec_...: the sender signs with it
    sa.Column("state", sa.String(10), nullable=False),         # active | paused | parked | deleted
    sa.Column("reason", sa.Text),                              # why parked
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.Index("ix_subscriptions_token", "token_id"),
)
outbox = sa.Table(
    "outbox", metadata,  # one row per (subscription, message), sent in id order per subscription
    sa.Column("id", RowKey, primary_key=True),
    sa.Column("subscription_id", sa.String(20), nullable=False),
    sa.Column("message_id", sa.String(40), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False),                # the exact JSON sent, fixed at enqueue
    sa.Column("state", sa.String(10), nullable=False),         # pending | delivered | parked | dropped
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_ms", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("subscription_id", "message_id", name="uq_outbox_message"),
    sa.Index("ix_outbox_queue", "subscription_id", "state", "id"),
)
notifier_cursors = sa.Table(
    "notifier_cursors", metadata,  # the notifier's read position in stored feeds (blacklistings, warnings)
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)


def ensure_tables(store: Store) -> None:
    """Create the sharing tables if this store has none yet (safe to race with another process)."""
    ensure_versioned_tables(store, metadata, sharing_version, SHARING_VERSION, subscriptions, "sharing")
