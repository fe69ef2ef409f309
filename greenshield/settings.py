"""The one typed settings object, read once from an environment mapping."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class Secret:
    """A string that never shows itself in ``repr`` or ``str``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Build it with :meth:`from_env`; nothing else reads ``os.environ``."""

    data_dir: Path = Path("var")
    production: bool = False
    kafka_host: str = "127.0.0.1"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_version: str = "4.0.2"
    kafka_cache_dir: Path = Path.home() / ".cache" / "greenshield" / "kafka"
    # SASL/TLS client settings may hold passwords: kept out of repr
    kafka_security: Mapping[str, str] = field(default_factory=dict, repr=False)
    # a principal's credentials file (`greenshield kafka acl` writes them): its SASL login, and
    # for an enterprise its id and sender key (the SDK and `send` sign as that enterprise)
    kafka_credentials: Path | None = None
    enterprise_id: str = ""
    enterprise_key: Secret = field(default_factory=lambda: Secret(""))
    sender_key: Secret = field(default_factory=lambda: Secret(""))  # the master sender key (workers, system tools)
    topic_prefix: str = "gs."
    db_url: str = ""
    hmac_key: Secret = field(default_factory=lambda: Secret(""))
    signing_key_file: Path | None = None
    retention_days: int = 365
    checkpoint_every_entries: int = 10_000
    checkpoint_every_seconds: int = 60
    trusted_checkpoint_file: Path | None = None  # a checkpoint the auditor keeps outside the store
    log_level: str = "WARNING"
    risk_model_file: Path | None = None  # the risk and credit model (TOML); None: the shipped one

    # stream pipeline (issue 5): topic layout, stream time, worker batching, metrics
    events_partitions: int = 6
    registry_partitions: int = 1
    violations_partitions: int = 6
    rejects_partitions: int = 1
    warnings_partitions: int = 1
    topic_replication: int = 1
    allowed_lateness_seconds: int = 600
    backstop_idle_seconds: int = 60
    max_future_seconds: int = 3600  # event time beyond wall clock + this does not move stream time (0: no cap)
    release_after_seconds: int = 6 * 3600
    worker_batch_size: int = 5000
    worker_batch_wait_ms: int = 100
    # issue 16: the sequencer (Merkle integration, checkpoint signing, SQLite WAL checkpoints) in a thread of
    # its own, off the worker's loop; and a store-writer thread overlapping batch N's store transaction with
    # batch N+1's poll and decode ("auto": on where it was measured to win, see docs/adr/0006-worker-loop.md)
    worker_sequencer_thread: bool = True
    worker_writer_thread: str = "auto"  # auto | on | off
    worker_group: str = "greenshield-worker"
    metrics_port: int = 9108
    metrics_host: str = "127.0.0.1"  # the worker's /metrics bind address (0.0.0.0 in containers)
    control_key: Secret = field(default_factory=lambda: Secret(""))

    # regulator and auditor service (issue 6): `greenshield serve`
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_ingest_mode: str = "embedded"  # POST /v1/events: "embedded" (straight to the store) or "streaming" (Kafka)
    api_ingest_max_events: int = 1000  # events per POST /v1/events
    api_ingest_max_bytes: int = 1 << 20  # request body of POST /v1/events
    api_metrics_port: int = 9109  # the service's Prometheus metrics (0: off)
    api_threads: int = 8  # threads running the service's store queries
    # what one client can make the service hold (bodies, slow requests, connections)
    api_kafka_ack_seconds: int = 30  # streaming POST /v1/events: wait this long for acks, then 503 + Retry-After
    api_small_body_bytes: int = 16 * 1024  # request body of every route but POST /v1/events (/login, lookups)
    api_header_timeout_seconds: int = 10  # a request's headers must arrive within this, else 408 and closed
    api_body_timeout_seconds: int = 30  # its body within this (from the headers' arrival), else 408 and closed
    api_keepalive_seconds: int = 5  # an idle keep-alive connection is closed after this (uvicorn)
    api_max_header_bytes: int = 16 * 1024  # request line and headers at most (uvicorn's h11 limit)
    api_max_connections: int = 512  # concurrent connections (uvicorn's limit_concurrency): 503 beyond
    risk_warm_seconds: int = 30  # refresh the latest risk rankings at most this often, when the store changed (0: off)

    # sharing with departments: `greenshield notifier` (Standard Webhooks delivery, docs/sharing.md)
    notifier_group: str = "greenshield-notifier"
    notify_allow_local_http: bool = False  # dev/test: http:// callbacks to 127.0.0.1/localhost
    notify_retry_base_ms: int = 1000  # the first retry's delay; doubles per attempt, with jitter
    notify_retry_cap_ms: int = 300_000  # no retry waits longer
    notify_max_attempts: int = 20  # failed attempts before a message (and its subscription) is parked
    notify_timeout_seconds: int = 10  # one delivery's HTTP request
    notify_senders: int = 8  # subscriptions delivered to at once (one message in flight each)
    notify_store_wait_ms: int = 5000  # how long a violation read from Kafka waits for the worker's store commit
    notifier_metrics_port: int = 9110  # the notifier's Prometheus /metrics (on metrics_host; 0: off)

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.kafka_host}:{self.kafka_port}"

    @property
    def events_topic(self) -> str:
        return f"{self.topic_prefix}events.v1"

    @property
    def registry_topic(self) -> str:
        return f"{self.topic_prefix}registry.v1"

    @property
    def violations_topic(self) -> str:
        return f"{self.topic_prefix}violations.v1"

    @property
    def rejects_topic(self) -> str:
        return f"{self.topic_prefix}rejects.v1"

    @property
    def warnings_topic(self) -> str:
        return f"{self.topic_prefix}warnings.v1"

    @property
    def kafka_dir(self) -> Path:
        return self.data_dir / "kafka"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Read ``GREENSHIELD_*`` variables; raise ``ValueError`` naming a bad one."""
        env = os.environ if env is None else env
        d = cls()
        data_dir = Path(env.get("GREENSHIELD_DATA_DIR", str(d.data_dir)))
        security = {
            k[len("GREENSHIELD_KAFKA_SECURITY_"):].lower(): v
            for k, v in env.items()
            if k.startswith("GREENSHIELD_KAFKA_SECURITY_")
        }
        key_file = env.get("GREENSHIELD_SIGNING_KEY_FILE")
        creds_file = env.get("GREENSHIELD_KAFKA_CREDENTIALS")
        login, enterprise_id, enterprise_key = read_credentials(Path(creds_file)) if creds_file else ({}, "", "")
        security = {**login, **security}
        return cls(
            data_dir=data_dir,
            production=_bool(env, "GREENSHIELD_PRODUCTION", False),
            kafka_host=env.get("GREENSHIELD_KAFKA_HOST", d.kafka_host),
            kafka_port=_int(env, "GREENSHIELD_KAFKA_PORT", d.kafka_port),
            kafka_controller_port=_int(env, "GREENSHIELD_KAFKA_CONTROLLER_PORT", d.kafka_controller_port),
            kafka_version=env.get("GREENSHIELD_KAFKA_VERSION", d.kafka_version),
            kafka_cache_dir=Path(env.get("GREENSHIELD_KAFKA_CACHE", str(d.kafka_cache_dir))),
            kafka_security=security,
            kafka_credentials=Path(creds_file) if creds_file else None,
            enterprise_id=enterprise_id,
            enterprise_key=Secret(enterprise_key),
            sender_key=Secret(env.get("GREENSHIELD_SENDER_KEY", "")),
            topic_prefix=env.get("GREENSHIELD_TOPIC_PREFIX", d.topic_prefix),
            db_url=env.get("GREENSHIELD_DB_URL", f"sqlite:///{data_dir / 'greenshield.db'}"),
            hmac_key=Secret(env.get("GREENSHIELD_HMAC_KEY", "")),
            signing_key_file=Path(key_file) if key_file else None,
            retention_days=_int(env, "GREENSHIELD_RETENTION_DAYS", d.retention_days),
            events_partitions=_int(env, "GREENSHIELD_EVENTS_PARTITIONS", d.events_partitions),
            registry_partitions=_int(env, "GREENSHIELD_REGISTRY_PARTITIONS", d.registry_partitions),
            violations_partitions=_int(env, "GREENSHIELD_VIOLATIONS_PARTITIONS", d.violations_partitions),
            rejects_partitions=_int(env, "GREENSHIELD_REJECTS_PARTITIONS", d.rejects_partitions),
            warnings_partitions=_int(env, "GREENSHIELD_WARNINGS_PARTITIONS", d.warnings_partitions),
            topic_replication=_int(env, "GREENSHIELD_TOPIC_REPLICATION", d.topic_replication),
            allowed_lateness_seconds=_int(env, "GREENSHIELD_ALLOWED_LATENESS_SECONDS", d.allowed_lateness_seconds),
            backstop_idle_seconds=_int(env, "GREENSHIELD_BACKSTOP_IDLE_SECONDS", d.backstop_idle_seconds),
            max_future_seconds=_int(env, "GREENSHIELD_MAX_FUTURE_SECONDS", d.max_future_seconds),
            release_after_seconds=_int(env, "GREENSHIELD_RELEASE_AFTER_SECONDS", d.release_after_seconds),
            worker_batch_size=_int(env, "GREENSHIELD_WORKER_BATCH_SIZE", d.worker_batch_size),
            worker_batch_wait_ms=_int(env, "GREENSHIELD_WORKER_BATCH_WAIT_MS", d.worker_batch_wait_ms),
            worker_sequencer_thread=_bool(env, "GREENSHIELD_WORKER_SEQUENCER_THREAD", d.worker_sequencer_thread),
            worker_writer_thread=_choice(env, "GREENSHIELD_WORKER_WRITER_THREAD", d.worker_writer_thread,
                                         ("auto", "on", "off")),
            worker_group=env.get("GREENSHIELD_WORKER_GROUP", d.worker_group),
            metrics_port=_int(env, "GREENSHIELD_METRICS_PORT", d.metrics_port),
            metrics_host=env.get("GREENSHIELD_METRICS_HOST", d.metrics_host),
            control_key=Secret(env.get("GREENSHIELD_CONTROL_KEY", "")),
            api_host=env.get("GREENSHIELD_API_HOST", d.api_host),
            api_port=_int(env, "GREENSHIELD_API_PORT", d.api_port),
            api_ingest_mode=env.get("GREENSHIELD_API_INGEST_MODE", d.api_ingest_mode).lower(),
            api_ingest_max_events=_int(env, "GREENSHIELD_API_INGEST_MAX_EVENTS", d.api_ingest_max_events),
            api_ingest_max_bytes=_int(env, "GREENSHIELD_API_INGEST_MAX_BYTES", d.api_ingest_max_bytes),
            api_metrics_port=_int(env, "GREENSHIELD_API_METRICS_PORT", d.api_metrics_port),
            api_threads=_int(env, "GREENSHIELD_API_THREADS", d.api_threads),
            api_kafka_ack_seconds=_int(env, "GREENSHIELD_API_KAFKA_ACK_SECONDS", d.api_kafka_ack_seconds),
            api_small_body_bytes=_int(env, "GREENSHIELD_API_SMALL_BODY_BYTES", d.api_small_body_bytes),
            api_header_timeout_seconds=_int(env, "GREENSHIELD_API_HEADER_TIMEOUT_SECONDS",
                                            d.api_header_timeout_seconds),
            api_body_timeout_seconds=_int(env, "GREENSHIELD_API_BODY_TIMEOUT_SECONDS", d.api_body_timeout_seconds),
            api_keepalive_seconds=_int(env, "GREENSHIELD_API_KEEPALIVE_SECONDS", d.api_keepalive_seconds),
            api_max_header_bytes=_int(env, "GREENSHIELD_API_MAX_HEADER_BYTES", d.api_max_header_bytes),
            api_max_connections=_int(env, "GREENSHIELD_API_MAX_CONNECTIONS", d.api_max_connections),
            risk_warm_seconds=_int(env, "GREENSHIELD_RISK_WARM_SECONDS", d.risk_warm_seconds),
            checkpoint_every_entries=_int(env, "GREENSHIELD_CHECKPOINT_EVERY_ENTRIES", d.checkpoint_every_entries),
            checkpoint_every_seconds=_int(env, "GREENSHIELD_CHECKPOINT_EVERY_SECONDS", d.checkpoint_every_seconds),
            trusted_checkpoint_file=Path(trusted) if (trusted := env.get("GREENSHIELD_TRUSTED_CHECKPOINT")) else None,
            log_level=env.get("GREENSHIELD_LOG_LEVEL", d.log_level).upper(),
            risk_model_file=Path(model) if (model := env.get("GREENSHIELD_RISK_MODEL")) else None,
            notifier_group=env.get("GREENSHIELD_NOTIFIER_GROUP", d.notifier_group),
            notify_allow_local_http=_bool(env, "GREENSHIELD_NOTIFY_ALLOW_LOCAL_HTTP", d.notify_allow_local_http),
            notify_retry_base_ms=_int(env, "GREENSHIELD_NOTIFY_RETRY_BASE_MS", d.notify_retry_base_ms),
            notify_retry_cap_ms=_int(env, "GREENSHIELD_NOTIFY_RETRY_CAP_MS", d.notify_retry_cap_ms),
            notify_max_attempts=_int(env, "GREENSHIELD_NOTIFY_MAX_ATTEMPTS", d.notify_max_attempts),
            notify_timeout_seconds=_int(env, "GREENSHIELD_NOTIFY_TIMEOUT_SECONDS", d.notify_timeout_seconds),
            notify_senders=_int(env, "GREENSHIELD_NOTIFY_SENDERS", d.notify_senders),
            notify_store_wait_ms=_int(env, "GREENSHIELD_NOTIFY_STORE_WAIT_MS", d.notify_store_wait_ms),
            notifier_metrics_port=_int(env, "GREENSHIELD_NOTIFIER_METRICS_PORT", d.notifier_metrics_port),
        )


def read_credentials(path: Path) -> tuple[dict[str, str], str, str]:
    """``(security options, enterprise id, sender key)`` of a credentials file (the last two "" for a system principal).

    The file: ``{"principal", "security": {kafka-python SASL options}, ["enterprise_id", "sender_key"]}``.
    """
    where = f"GREENSHIELD_KAFKA_CREDENTIALS={path}"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{where}: cannot read the credentials file ({type(err).__name__}: {err})") from None
    security = doc.get("security") if isinstance(doc, dict) else None
    if not isinstance(security, dict) or not all(isinstance(v, str) for v in security.values()):
        raise ValueError(f"{where}: not a credentials file (no \"security\" object of strings)")
    enterprise_id, key = doc.get("enterprise_id", ""), doc.get("sender_key", "")
    if not isinstance(enterprise_id, str) or not isinstance(key, str) or bool(enterprise_id) != bool(key):
        raise ValueError(f"{where}: an enterprise's credentials need both enterprise_id and sender_key (strings)")
    return dict(security), enterprise_id, key


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected an integer") from None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{name}={raw!r}: expected true or false")


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = env.get(name)
    if raw is None:
        return default
    if raw.lower() not in allowed:
        raise ValueError(f"{name}={raw!r}: expected one of {', '.join(allowed)}")
    return raw.lower()
