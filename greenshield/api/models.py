"""Response shapes, for the OpenAPI document (handlers return plain dicts of these shapes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    status: int
    message: str


class Error(BaseModel):
    error: ErrorBody


class Violation(BaseModel):
    """Contract §5, plus the violation's status."""

    model_config = ConfigDict(extra="allow")
    waybill_no: str
    rule_id: str
    enterprise_id: str
    severity: str
    occurred_at: str = Field(description="UTC, whole seconds, with Z")
    evidence: list[str]
    message: str
    rule_pack: str = Field(description="name@version")
    status: Literal["open", "retracted"]


class ViolationPage(BaseModel):
    items: list[Violation]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class EventRate(BaseModel):
    total: int = Field(description="events and registry records stored")
    per_second: float = Field(description="stored per second over the last minute (wall clock)")


class RuleCount(BaseModel):
    rule_id: str
    system: str
    open: int
    retracted: int


class EnterpriseCount(BaseModel):
    enterprise_id: str
    open: int
    parcels: int


class HourCount(BaseModel):
    hour: str
    open: int


class PrefectureCount(BaseModel):
    prefecture: str | None = Field(description="GB/T 2260 code of the origin's prefecture city; null: no acceptance")
    name: str
    parcels: int
    open: int
    violating_parcels: int


class SystemRate(BaseModel):
    system: str = Field(description="rule-id prefix, e.g. RN")
    label: str
    parcels: int
    violating_parcels: int
    compliance_rate: float | None = Field(description="share of accepted parcels with no open violation of it")


class Stats(BaseModel):
    scope: dict[str, str | None]
    events: EventRate
    violations: dict[str, int]
    by_rule: list[RuleCount]
    by_enterprise: list[EnterpriseCount]
    by_hour: list[HourCount]
    by_prefecture: list[PrefectureCount]
    systems: list[SystemRate]


class ParcelTrace(BaseModel):
    """One parcel of a waybill: one enterprise's events (contract §3.1 order) and violations (contract §8.1)."""

    enterprise_id: str
    events: list[dict[str, Any]]
    violations: list[Violation]


class Trace(BaseModel):
    """A trace: events in contract §3.1 order (sender masked), waybills, legs or violations by kind of trace.

    A waybill's trace also has ``parcels``, one per enterprise with events of that waybill
    (contract §8.1); its ``events`` and ``violations`` are theirs, parcel after parcel.
    """

    model_config = ConfigDict(extra="allow")
    events: list[dict[str, Any]] = []
    parcels: list[ParcelTrace] | None = Field(default=None, description="a waybill's trace only: its parcels, "
                                              "by enterprise (an enterprise token sees only its own)")


class SenderQuery(BaseModel):
    """A sender, named by document type and number; the number is only hashed (HMAC), never kept or logged."""

    model_config = ConfigDict(extra="forbid")
    id_type: str = Field(min_length=1, max_length=40)
    id_number: str = Field(min_length=1, max_length=64)


class Checkpoint(BaseModel):
    origin: str
    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    signature: str


class Checkpoints(BaseModel):
    tree_size: int = Field(description="leaves sequenced so far (may run ahead of the latest checkpoint)")
    checkpoints: list[Checkpoint]


class PublicKey(BaseModel):
    key_id: str
    pem: str
    raw_base64: str
    verifier_key: str = Field(description="C2SP signed-note verifier key")


class LeafEntry(BaseModel):
    kind: str
    base64: str = Field(description="the leaf's data: leaf_hash = SHA-256(0x00 || data)")


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]
    root_hash: str
    checkpoint: Checkpoint
    entry: LeafEntry


class ConsistencyProof(BaseModel):
    model_config = ConfigDict(extra="allow")
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


class IngestResult(BaseModel):
    index: int = Field(description="0-based position in the batch")
    status: Literal["accepted", "duplicate", "rejected", "rolled_back"]
    event_id: str | None
    enterprise_id: str | None
    reason: str | None


class IngestAnswer(BaseModel):
    mode: Literal["rollback", "proceed"]
    delivery: Literal["store", "kafka"]
    committed: bool = Field(description="false: a rollback batch with a rejection; nothing was stored")
    counts: dict[str, int]
    results: list[IngestResult]


class Health(BaseModel):
    status: str


class RiskSource(BaseModel):
    """One ranked source: its score (weighted violations per 1,000 parcels, shrunk toward the regional rate)."""

    model_config = ConfigDict(extra="allow")
    rank: int
    kind: str
    source: str = Field(description="the source's id; a sender's is the keyed hash of its document (contract §6)")
    enterprise_id: str | None = Field(description="the enterprise whose parcels these all are, else null")
    score: float
    interval: list[float] = Field(description="central credible interval, per 1,000 parcels")
    level: Literal["blue", "yellow", "orange", "red"] | None
    parcels: int
    violations: dict[str, int] = Field(description="incidents by rule (PROHIBITED: a prohibited item found)")
    trend: dict[str, Any] = Field(description="the previous window's score and level, and the direction")
    violation_ids: list[str]


class RiskReport(BaseModel):
    kind: str
    as_of: str
    window: str
    model: str
    regional_rate: float = Field(description="the kind's rate over the region, per 1,000 parcels")
    sources: int
    results: list[RiskSource]
    snapshot: bool = Field(False, description="served from the warm snapshot of the latest rankings")
    computed_for_entry: int | None = Field(None, description="the audit log's last entry id when it was computed")


class Grade(BaseModel):
    """An enterprise's credit for a period (docs/credit.md), stored as an audit-log leaf."""

    model_config = ConfigDict(extra="allow")
    enterprise_id: str
    period: str
    as_of: str
    score: float
    grade: Literal["A", "B", "C", "D"]
    indexes: dict[str, float]
    inputs: dict[str, Any]
    model: str
    seq: int
    audit_entry: int | None = Field(description="its leaf: prove it with /v1/audit/proof/{n}")


class Grades(BaseModel):
    period: str
    grades: list[Grade]


class Warning(BaseModel):
    """预警: a source's level rose, or an enterprise's grade fell to C or D."""

    model_config = ConfigDict(extra="allow")
    subject_kind: str
    subject_id: str
    at: str = Field(description="the as_of of a risk warning, the period of a credit one")
    level: str
    previous_level: str | None
    reason: Literal["level_rose", "grade_fell"]
    enterprise_id: str | None
    audit_entry: int | None


class Warnings(BaseModel):
    items: list[Warning]


class SanctionIn(BaseModel):
    """A sanction the regulator records: no free text (a reason code and its decision reference)."""

    model_config = ConfigDict(extra="forbid")
    enterprise_id: str = Field(pattern=r"^E[0-9]{7}$")
    decision_ref: str = Field(pattern=r"^[A-Za-z0-9-]{1,32}$", description="the regulator's decision reference")
    occurred_at: str = Field(max_length=40, description="RFC 3339, with an offset")
    points: int = Field(ge=1, le=100, description="points deducted from the period's credit score")
    reason_code: str = Field(pattern=r"^[a-z0-9_.-]{1,40}$")


class SanctionAnswer(BaseModel):
    entry_id: int
    created: bool
