"""The audit store's tables (SQLAlchemy Core), versioned by a one-row ``schema_version`` table.

Every row the audit log covers shares its id with its audit entry, so re-deriving a leaf is
a primary-key join; registry records are events of type ``registry``. Why strings an
enterprise controls are ``Text``, and what each schema version changed:
``docs/adr/0012-store-schema.md``.
"""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 7

metadata = sa.MetaData()
# a 64-bit key that is SQLite's rowid (INTEGER PRIMARY KEY): one B-tree per table, not two
RowKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
)

# --- the audit log: writers insert, the sequencer integrates (see greenshield.store.audit_log)
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", RowKey, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("entry", sa.LargeBinary, nullable=False),       # canonical entry bytes (the leaf data)
)
audit_runs = sa.Table(  # leaves [first_leaf, first_leaf + count) are the entries [first_id, first_id + count)
    "audit_runs", metadata,
    sa.Column("first_leaf", RowKey, primary_key=True, autoincrement=False),
    sa.Column("first_id", sa.BigInteger, nullable=False, unique=True),
    sa.Column("count", sa.Integer, nullable=False),
)
audit_nodes = sa.Table(  # perfect subtree hashes (level >= NODE_LEVEL), a cache for proofs
    "audit_nodes", metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
)
audit_state = sa.Table(
    "audit_state", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("tree_size", sa.BigInteger, nullable=False),
    sa.Column("last_id", sa.BigInteger, nullable=False),       # entries with id <= last_id are sequenced
    sa.Column("compact", sa.LargeBinary, nullable=False),      # MerkleAccumulator.to_bytes()
    sa.Column("checkpoint_size", sa.BigInteger, nullable=False),
    sa.Column("checkpoint_ms", sa.BigInteger, nullable=False),
)
checkpoints = sa.Table(
    "checkpoints", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),  # 1, 2, ... (verify: no gaps)
    sa.Column("origin", sa.String(100), nullable=False),
    sa.Column("tree_size", sa.BigInteger, nullable=False),
    sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("signature", sa.LargeBinary(64), nullable=False),
)
# the id allocator of SQLite (PostgreSQL uses the sequence audit_entry_seq)
audit_ids = sa.Table(
    "audit_ids", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("next_id", sa.BigInteger, nullable=False),
)
ENTRY_SEQUENCE = "audit_entry_seq"

# --- the data the log covers
events = sa.Table(
    "events", metadata,
    sa.Column("entry_id", RowKey, primary_key=True, autoincrement=False),
    sa.Column("enterprise_id", sa.String(8), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("occurred_at", sa.Text, nullable=False),
    sa.Column("at_s", sa.BigInteger, nullable=False),
    sa.Column("at_frac", sa.Text, nullable=False),
    sa.Column("waybill_no", sa.String(32)),
    sa.Column("site_id", sa.String(9)),
    sa.Column("staff_id", sa.String(9)),
    sa.Column("inspector_id", sa.String(9)),
    sa.Column("device_id", sa.String(9)),       # machine_id of an xray, vehicle_id of a depart/arrive
    sa.Column("other_site_id", sa.String(9)),   # to_site_id / from_site_id
    sa.Column("result", sa.String(16)),
    sa.Column("customer_id", sa.String(9)),     # contract_customer_id of an acceptance
    sa.Column("entity", sa.String(20)),         # registry records
    sa.Column("entity_id", sa.String(32)),      # a person record's decision reference is up to 32 chars
    sa.Column("status", sa.String(12)),
    sa.Column("sender_complete", sa.Boolean, nullable=False),
    sa.Column("sender_document_ok", sa.Boolean, nullable=False),
    sa.Column("sender_id_hash", sa.String(64)),  # HMAC of contract §6, for lookups
    sa.Column("sender_commitment", sa.String(64)),
    sa.Column("person_id_hash", sa.String(64)),  # a staff or person record's person, the HMAC of §6 (§8.2)
    sa.Column("digest", sa.LargeBinary(16)),     # keyed digest of the original content (duplicates)
    sa.Column("doc", sa.Text, nullable=False),   # the redacted event, canonical JSON
    sa.Column("purged", sa.Boolean, nullable=False),
    sa.Column("source", sa.String(400), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("enterprise_id", "event_id", name="uq_events_key"),
    sa.Index("ix_events_waybill", "waybill_no", "enterprise_id"),
    sa.Index("ix_events_staff", "staff_id", "at_s"),
    sa.Index("ix_events_at", "at_s"),
)


def _sparse_index(name: str, *columns: str) -> sa.Index:
    """An index of rows whose first column is set; a query naming a value of it implies that (both databases)."""
    where = events.c[columns[0]].is_not(None)
    return sa.Index(name, *(events.c[c] for c in columns), sqlite_where=where, postgresql_where=where)


# in the sample day's parcel events: inspector 8%, device 63%, sender 7%, customer 2%, person and
# entity only registry records (see docs/adr/0004-bulk-store.md for each index's insert cost)
SPARSE_INDEXES = (
    _sparse_index("ix_events_inspector", "inspector_id"),
    _sparse_index("ix_events_device", "device_id", "at_s"),
    _sparse_index("ix_events_sender", "sender_id_hash"),
    _sparse_index("ix_events_person", "person_id_hash"),
    _sparse_index("ix_events_customer", "customer_id"),
    _sparse_index("ix_events_entity", "entity", "entity_id"),
)
violations = sa.Table(
    "violations", metadata,  # one row per (enterprise_id, waybill_no, rule_id), contract §8.1
    sa.Column("enterprise_id", sa.String(8), primary_key=True),
    sa.Column("waybill_no", sa.String(32), primary_key=True),
    sa.Column("rule_id", sa.String(8), primary_key=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("occurred_at", sa.String(20), nullable=False),  # contract §5 form, UTC "Z"
    sa.Column("doc", sa.Text, nullable=False),                # the latest change's record
    sa.Column("change_id", sa.BigInteger, nullable=False),    # violation_changes.id of that change
    sa.Index("ix_violations_status", "status"),
    sa.Index("ix_violations_waybill", "waybill_no"),
    sa.Index("ix_violations_rule", "rule_id"),
    sa.Index("ix_violations_at", "occurred_at"),
)
violation_changes = sa.Table(
    "violation_changes", metadata,
    sa.Column("id", RowKey, primary_key=True, autoincrement=False),
    sa.Column("enterprise_id", sa.String(8), nullable=False),
    sa.Column("waybill_no", sa.String(32), nullable=False),
    sa.Column("rule_id", sa.String(8), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("doc", sa.Text, nullable=False),  # canonical JSON: §5 fields + status + as_of
    sa.UniqueConstraint("enterprise_id", "waybill_no", "rule_id", "seq", name="uq_violation_changes"),
)
queries = sa.Table(
    "queries", metadata,
    sa.Column("id", RowKey, primary_key=True, autoincrement=False),
    sa.Column("doc", sa.Text, nullable=False),  # canonical JSON: command, parameters, time, result count
)
rejects = sa.Table(
    "rejects", metadata,
    sa.Column("entry_id", RowKey, primary_key=True, autoincrement=False),  # its audit entry (kind "reject")
    sa.Column("source", sa.String(400), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("enterprise_id", sa.Text),
    sa.Column("event_id", sa.Text),
    sa.Column("payload", sa.Text),  # masked (contract §6); NULL when the line did not parse
    sa.Column("stored_s", sa.BigInteger, nullable=False),  # wall clock at intake, for retention
    sa.Column("sender_commitment", sa.String(64)),  # binds the payload's sender fields (purge erases them)
    sa.Column("purged", sa.Boolean, nullable=False),
    sa.UniqueConstraint("source", "position", name="uq_rejects_where"),
)
# --- risk and credit (greenshield.store.credit_log): each row is a leaf of kind grade / warning / sanction
grades = sa.Table(
    "grades", metadata,  # an enterprise's credit grade for a period; a recomputation that differs is seq + 1
    sa.Column("id", RowKey, primary_key=True, autoincrement=False),
    sa.Column("enterprise_id", sa.String(8), nullable=False),
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("grade", sa.String(1), nullable=False),
    sa.Column("doc", sa.Text, nullable=False),  # canonical JSON: score, indexes, inputs, model, as_of
    sa.UniqueConstraint("enterprise_id", "period", "seq", name="uq_grades"),
)
warnings = sa.Table(
    "warnings", metadata,  # 预警: a source's level rose, or an enterprise's grade fell to C or D
    sa.Column("id", RowKey, primary_key=True, autoincrement=False),
    sa.Column("subject_kind", sa.String(16), nullable=False),  # a risk kind, or "credit"
    sa.Column("subject_id", sa.String(64), nullable=False),    # a sender only as its keyed hash
    sa.Column("at", sa.String(20), nullable=False),            # the as_of (UTC "Z") or the period
    sa.Column("level", sa.String(8), nullable=False),          # blue..red, or the grade C / D
    sa.Column("enterprise_id", sa.String(8)),                  # whose it is, when one enterprise's
    sa.Column("doc", sa.Text, nullable=False),
    sa.UniqueConstraint("subject_kind", "subject_id", "at", "level", name="uq_warnings"),
    sa.Index("ix_warnings_enterprise", "enterprise_id"),
)
sanctions = sa.Table(
    "sanctions", metadata,  # a sanction the regulator records (no free text: a reason code and a reference)
    sa.Column("id", RowKey, primary_key=True, autoincrement=False),
    sa.Column("enterprise_id", sa.String(8), nullable=False),
    sa.Column("decision_ref", sa.String(32), nullable=False, unique=True),
    sa.Column("at_s", sa.BigInteger, nullable=False),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Index("ix_sanctions_enterprise", "enterprise_id", "at_s"),
)
# --- sharing (greenshield.share): every delivery attempt to a department's subscription is a leaf
deliveries = sa.Table(
    "deliveries", metadata,  # every delivery attempt, a leaf of kind "delivery"
    sa.Column("id", RowKey, primary_key=True, autoincrement=False),
    sa.Column("subscription_id", sa.String(20), nullable=False),
    sa.Column("message_id", sa.String(40), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("outcome", sa.String(10), nullable=False),       # delivered | failed | parked
    sa.Column("doc", sa.Text, nullable=False),  # canonical JSON: the keys, token, callback, body hash, status, error
    sa.Index("ix_deliveries_message", "subscription_id", "message_id"),
)
run_state = sa.Table(  # the embedded pipeline's clock
    "run_state", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("as_of_s", sa.BigInteger, nullable=False),
    sa.Column("as_of_frac", sa.Text, nullable=False),
    sa.Column("events_seen", sa.BigInteger, nullable=False),  # events with entry_id <= it are evaluated
)
