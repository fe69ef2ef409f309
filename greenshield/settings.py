"""The one typed settings object, read once from an environment mapping.

Each field is declared once, with its ``GREENSHIELD_*`` variable, type, default, secrecy
and a line of help (``docs/settings.md`` is the table of them); :meth:`Settings.from_env`
parses every variable by its field's type and names a bad one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenshield.errors import SettingsError


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


def _no_secret() -> Secret:
    return Secret("")


PREFIX = "GREENSHIELD_"
SECURITY_PREFIX = "GREENSHIELD_KAFKA_SECURITY_"  # GREENSHIELD_KAFKA_SECURITY_<OPTION>: kafka-python client options
CREDENTIALS = "GREENSHIELD_KAFKA_CREDENTIALS"


def setting(env: str, default: Any = None, help: str = "", *, factory: Callable[[], Any] | None = None,
            secret: bool = False, aliases: tuple[str, ...] = (),
            choices: tuple[str, ...] = (), case: Callable[[str], str] | None = None, minimum: int | None = None,
            maximum: int | None = None, source: str = "variable") -> Any:
    """A field of :class:`Settings`: its variable ``env`` (older names in ``aliases``), default and help.

    ``source`` is "variable" (read from ``env``), "prefix" (every ``env``-prefixed variable) or
    "credentials" (taken from the credentials file ``env`` names).
    """
    meta = {"env": env, "help": help, "secret": secret, "aliases": aliases, "choices": choices, "case": case,
            "minimum": minimum, "maximum": maximum, "source": source}
    shown = not secret or factory is _no_secret  # a Secret hides itself; other secrets stay out of repr
    if factory is not None:
        return field(default_factory=factory, metadata=meta, repr=shown)
    return field(default=default, metadata=meta, repr=shown)


def port(env: str, default: int, help: str) -> Any:
    return setting(env, default, help, minimum=0, maximum=65535)


def count(env: str, default: int, help: str) -> Any:
    return setting(env, default, help, minimum=1)


def span(env: str, default: int, help: str) -> Any:
    """A non-negative duration or size."""
    return setting(env, default, help, minimum=0)


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Build it with :meth:`from_env`; nothing else reads ``os.environ``."""

    data_dir: Path = setting("GREENSHIELD_DATA_DIR", Path("var"), "the development data directory (store, keys, "
                             "local broker)")
    production: bool = setting("GREENSHIELD_PRODUCTION", False, "refuse development fallbacks (keys generated "
                               "in the data directory)")
    kafka_host: str = setting("GREENSHIELD_KAFKA_HOST", "127.0.0.1", "the Kafka broker's host")
    kafka_port: int = port("GREENSHIELD_KAFKA_PORT", 19092, "the Kafka broker's port")
    kafka_controller_port: int = port("GREENSHIELD_KAFKA_CONTROLLER_PORT", 19093,
                                      "the local broker's KRaft controller port")
    kafka_version: str = setting("GREENSHIELD_KAFKA_VERSION", "4.0.2", "the local broker's Kafka version")
    kafka_cache_dir: Path = setting("GREENSHIELD_KAFKA_CACHE_DIR", Path.home() / ".cache" / "greenshield" / "kafka",
                                    "where the local broker's jars are downloaded once",
                                    aliases=("GREENSHIELD_KAFKA_CACHE",))
    kafka_security: Mapping[str, str] = setting(SECURITY_PREFIX, factory=dict, secret=True, source="prefix",
                                                help="kafka-python client options (SASL/TLS), one variable each: "
                                                     "GREENSHIELD_KAFKA_SECURITY_SASL_MECHANISM=SCRAM-SHA-512 ...")
    kafka_credentials: Path | None = setting(CREDENTIALS, None, "a principal's credentials file (`greenshield kafka "
                                             "acl` writes them): its SASL login, and for an enterprise its id and "
                                             "sender key")
    enterprise_id: str = setting(CREDENTIALS, "", "the enterprise the SDK and `send` sign as (from the credentials "
                                 "file)", source="credentials")
    enterprise_key: Secret = setting(CREDENTIALS, factory=_no_secret, secret=True, source="credentials",
                                     help="that enterprise's sender key (from the credentials file)")
    sender_key: Secret = setting("GREENSHIELD_SENDER_KEY", factory=_no_secret, secret=True,
                                 help="the master sender key (workers, system tools)")
    topic_prefix: str = setting("GREENSHIELD_TOPIC_PREFIX", "gs.", "prefix of every topic name")
    db_url: str = setting("GREENSHIELD_DB_URL", "", "SQLAlchemy URL of the store (default: "
                          "sqlite:///<GREENSHIELD_DATA_DIR>/greenshield.db)")
    hmac_key: Secret = setting("GREENSHIELD_HMAC_KEY", factory=_no_secret, secret=True,
                               help="the key of the ID numbers' keyed hashes")
    signing_key_file: Path | None = setting("GREENSHIELD_SIGNING_KEY_FILE", None,
                                            "the Ed25519 key signing checkpoints (PEM)")
    retention_days: int = span("GREENSHIELD_RETENTION_DAYS", 365, "`audit purge` erases personal data older "
                               "than this")
    checkpoint_every_entries: int = count("GREENSHIELD_CHECKPOINT_EVERY_ENTRIES", 10_000,
                                          "sign a checkpoint after this many new log entries")
    checkpoint_every_seconds: int = span("GREENSHIELD_CHECKPOINT_EVERY_SECONDS", 60,
                                         "or after this many seconds with new entries")
    trusted_checkpoint_file: Path | None = setting("GREENSHIELD_TRUSTED_CHECKPOINT", None,
                                                   "a checkpoint the auditor keeps outside the store "
                                                   "(`audit verify`)")
    log_level: str = setting("GREENSHIELD_LOG_LEVEL", "WARNING", "logging level", case=str.upper)
    risk_model_file: Path | None = setting("GREENSHIELD_RISK_MODEL", None,
                                           "the risk and credit model (TOML); unset: the shipped one")

    # the stream pipeline: topic layout, stream time, worker batching, metrics
    events_partitions: int = count("GREENSHIELD_EVENTS_PARTITIONS", 6, "partitions of the events topic")
    registry_partitions: int = count("GREENSHIELD_REGISTRY_PARTITIONS", 1, "partitions of the registry topic")
    violations_partitions: int = count("GREENSHIELD_VIOLATIONS_PARTITIONS", 6,
                                       "partitions of the violations topic")
    rejects_partitions: int = count("GREENSHIELD_REJECTS_PARTITIONS", 1, "partitions of the rejects topic")
    warnings_partitions: int = count("GREENSHIELD_WARNINGS_PARTITIONS", 1, "partitions of the warnings topic")
    topic_replication: int = count("GREENSHIELD_TOPIC_REPLICATION", 1, "replication factor of created topics")
    allowed_lateness_seconds: int = span("GREENSHIELD_ALLOWED_LATENESS_SECONDS", 600,
                                         "stream time trails the latest event time by this")
    backstop_idle_seconds: int = span("GREENSHIELD_BACKSTOP_IDLE_SECONDS", 60,
                                      "a partition idle this long (wall clock) lets its stream "
                                      "time follow the wall clock (0: off)")
    max_future_seconds: int = span("GREENSHIELD_MAX_FUTURE_SECONDS", 3600, "event time beyond wall clock + this "
                                   "does not move stream time (0: no cap)")
    release_after_seconds: int = span("GREENSHIELD_RELEASE_AFTER_SECONDS", 6 * 3600,
                                      "a quiet parcel whose deadlines have passed leaves memory "
                                      "after this much stream time")
    worker_batch_size: int = count("GREENSHIELD_WORKER_BATCH_SIZE", 5000, "records per worker batch at most")
    worker_batch_wait_ms: int = span("GREENSHIELD_WORKER_BATCH_WAIT_MS", 100, "how long a poll waits to fill a batch")
    worker_sequencer_thread: bool = setting("GREENSHIELD_WORKER_SEQUENCER_THREAD", True,
                                            "run the sequencer (Merkle integration, checkpoint signing) in a "
                                            "thread of its own")
    worker_writer_thread: str = setting("GREENSHIELD_WORKER_WRITER_THREAD", "auto", "overlap a batch's store "
                                        "transaction with the next poll (auto: where it was measured to win, "
                                        "docs/adr/0006-worker-loop.md)", choices=("auto", "on", "off"),
                                        case=str.lower)
    worker_group: str = setting("GREENSHIELD_WORKER_GROUP", "greenshield-worker", "the workers' consumer group")
    metrics_port: int = port("GREENSHIELD_METRICS_PORT", 9108, "the worker's Prometheus /metrics (0: off)")
    metrics_host: str = setting("GREENSHIELD_METRICS_HOST", "127.0.0.1",
                                "the /metrics bind address (0.0.0.0 in containers)")
    control_key: Secret = setting("GREENSHIELD_CONTROL_KEY", factory=_no_secret, secret=True,
                                  help="the key of replay's control records")

    # the regulator and auditor service: `greenshield serve`
    api_host: str = setting("GREENSHIELD_API_HOST", "127.0.0.1", "the service's bind address")
    api_port: int = port("GREENSHIELD_API_PORT", 8000, "the service's port")
    api_ingest_mode: str = setting("GREENSHIELD_API_INGEST_MODE", "embedded", "POST /v1/events: embedded "
                                   "(straight to the store) or streaming (Kafka)", case=str.lower)
    api_ingest_max_events: int = count("GREENSHIELD_API_INGEST_MAX_EVENTS", 1000, "events per POST /v1/events")
    api_ingest_max_bytes: int = count("GREENSHIELD_API_INGEST_MAX_BYTES", 1 << 20,
                                      "request body of POST /v1/events")
    api_metrics_port: int = port("GREENSHIELD_API_METRICS_PORT", 9109, "the service's Prometheus metrics (0: off)")
    api_threads: int = count("GREENSHIELD_API_THREADS", 8, "threads running the service's store queries")
    api_kafka_ack_seconds: int = span("GREENSHIELD_API_KAFKA_ACK_SECONDS", 30, "streaming POST /v1/events: wait "
                                      "this long for acks, then 503 + Retry-After")
    api_small_body_bytes: int = count("GREENSHIELD_API_SMALL_BODY_BYTES", 16 * 1024, "request body of every route "
                                      "but POST /v1/events (/login, lookups)")
    api_header_timeout_seconds: int = span("GREENSHIELD_API_HEADER_TIMEOUT_SECONDS", 10, "a request's headers "
                                           "must arrive within this, else 408 and closed")
    api_body_timeout_seconds: int = span("GREENSHIELD_API_BODY_TIMEOUT_SECONDS", 30, "its body within this (from "
                                         "the headers' arrival), else 408 and closed")
    api_keepalive_seconds: int = span("GREENSHIELD_API_KEEPALIVE_SECONDS", 5,
                                      "an idle keep-alive connection is closed after this")
    api_max_header_bytes: int = count("GREENSHIELD_API_MAX_HEADER_BYTES", 16 * 1024,
                                      "request line and headers at most")
    api_max_connections: int = count("GREENSHIELD_API_MAX_CONNECTIONS", 512,
                                     "concurrent connections: 503 beyond")
    risk_warm_seconds: int = span("GREENSHIELD_RISK_WARM_SECONDS", 30, "refresh the latest risk rankings at most "
                                  "this often, when the store changed (0: off)")

    # sharing with departments: `greenshield notifier` (Standard Webhooks delivery, docs/sharing.md)
    notifier_group: str = setting("GREENSHIELD_NOTIFIER_GROUP", "greenshield-notifier",
                                  "the notifiers' consumer group")
    notify_allow_local_http: bool = setting("GREENSHIELD_NOTIFY_ALLOW_LOCAL_HTTP", False,
                                            "dev/test: http:// callbacks to 127.0.0.1/localhost")
    notify_retry_base_ms: int = span("GREENSHIELD_NOTIFY_RETRY_BASE_MS", 1000,
                                     "the first retry's delay; doubles per attempt, with jitter")
    notify_retry_cap_ms: int = span("GREENSHIELD_NOTIFY_RETRY_CAP_MS", 300_000, "no retry waits longer")
    notify_max_attempts: int = count("GREENSHIELD_NOTIFY_MAX_ATTEMPTS", 20,
                                     "failed attempts before a message (and its subscription) is parked")
    notify_timeout_seconds: int = span("GREENSHIELD_NOTIFY_TIMEOUT_SECONDS", 10, "one delivery's HTTP request")
    notify_senders: int = count("GREENSHIELD_NOTIFY_SENDERS", 8,
                                "subscriptions delivered to at once (one message in flight each)")
    notify_store_wait_ms: int = span("GREENSHIELD_NOTIFY_STORE_WAIT_MS", 5000, "how long a violation read from "
                                     "Kafka waits for the worker's store commit")
    notifier_metrics_port: int = port("GREENSHIELD_NOTIFIER_METRICS_PORT", 9110,
                                      "the notifier's Prometheus /metrics (on the metrics host; 0: off)")

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
        """Read ``GREENSHIELD_*`` variables; raise :class:`SettingsError` (a ``ValueError``) naming a bad one."""
        env = os.environ if env is None else env
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.metadata["source"] != "variable":
                continue
            found = next(((name, env[name]) for name in (f.metadata["env"], *f.metadata["aliases"]) if name in env),
                         None)
            if found is not None:
                values[f.name] = _parse(f, hints[f.name], *found)
        if "db_url" not in values:
            values["db_url"] = f"sqlite:///{values.get('data_dir', cls.data_dir) / 'greenshield.db'}"
        security = {k[len(SECURITY_PREFIX):].lower(): v for k, v in env.items() if k.startswith(SECURITY_PREFIX)}
        creds = values.get("kafka_credentials")
        login, enterprise_id, enterprise_key = read_credentials(creds) if creds else ({}, "", "")
        values.update(kafka_security={**login, **security}, enterprise_id=enterprise_id,
                      enterprise_key=Secret(enterprise_key))
        return cls(**values)


def variables() -> list[dict[str, Any]]:
    """Every setting's variable, default, secrecy and help, in declaration order (``docs/settings.md``)."""
    rows = []
    for f in dataclasses.fields(Settings):
        m = f.metadata
        if m["source"] == "credentials":
            continue  # read from the file that GREENSHIELD_KAFKA_CREDENTIALS names
        default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
        rows.append({"env": m["env"] + ("<OPTION>" if m["source"] == "prefix" else ""), "field": f.name,
                     "aliases": m["aliases"], "default": default, "secret": m["secret"], "help": m["help"],
                     "choices": m["choices"]})
    return rows


def markdown_table() -> str:
    """The table of ``docs/settings.md`` (a test keeps the two equal)."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for row in variables():
        default = row["default"]
        if isinstance(default, Secret) or row["secret"] or default in (None, "", {}):
            shown = "(unset)"
        elif isinstance(default, Path) and str(default).startswith(str(Path.home())):
            shown = f"`~/{default.relative_to(Path.home())}`"
        elif isinstance(default, bool):
            shown = f"`{str(default).lower()}`"
        else:
            shown = f"`{default}`"
        notes = [row["help"]]
        if row["choices"]:
            notes.append(f"one of {', '.join(row['choices'])}")
        if row["aliases"]:
            notes.append(f"also read from the older name {', '.join(f'`{a}`' for a in row['aliases'])}")
        if row["secret"]:
            notes.append("secret: never shown")
        lines.append(f"| `{row['env']}` | {shown} | {'; '.join(notes)} |")
    return "\n".join(lines) + "\n"


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _parse(f: dataclasses.Field[Any], kind: Any, name: str, raw: str) -> Any:
    """``raw`` (the value of variable ``name``) as field ``f``'s type, checked against its bounds and choices."""
    m = f.metadata
    where = f"{name}={raw!r}"
    if typing.get_origin(kind) in (typing.Union, types.UnionType):  # Path | None: unset when empty
        if raw == "":
            return None
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
    if kind is bool:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise SettingsError(f"{where}: expected true or false")
    if kind is int:
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{where}: expected an integer") from None
        if m["minimum"] is not None and value < m["minimum"]:
            raise SettingsError(f"{where}: expected at least {m['minimum']}")
        if m["maximum"] is not None and value > m["maximum"]:
            raise SettingsError(f"{where}: expected at most {m['maximum']}")
        return value
    if kind is Secret:
        return Secret(raw)
    if kind is Path:
        return Path(raw)
    text = m["case"](raw) if m["case"] else raw
    if m["choices"] and text not in m["choices"]:
        raise SettingsError(f"{where}: expected one of {', '.join(m['choices'])}")
    return text


def read_credentials(path: Path) -> tuple[dict[str, str], str, str]:
    """``(security options, enterprise id, sender key)`` of a credentials file (the last two "" for a system principal).

    The file: ``{"principal", "security": {kafka-python SASL options}, ["enterprise_id", "sender_key"]}``.
    """
    where = f"{CREDENTIALS}={path}"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise SettingsError(f"{where}: cannot read the credentials file ({type(err).__name__}: {err})") from None
    security = doc.get("security") if isinstance(doc, dict) else None
    if not isinstance(security, dict) or not all(isinstance(v, str) for v in security.values()):
        raise SettingsError(f"{where}: not a credentials file (no \"security\" object of strings)")
    enterprise_id, key = doc.get("enterprise_id", ""), doc.get("sender_key", "")
    if not isinstance(enterprise_id, str) or not isinstance(key, str) or bool(enterprise_id) != bool(key):
        raise SettingsError(f"{where}: an enterprise's credentials need both enterprise_id and sender_key (strings)")
    return dict(security), enterprise_id, key
