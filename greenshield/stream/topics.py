"""The pipeline's five topics: their layout, creating them, and checking them before use.

Names come from ``Settings.topic_prefix``, partition counts from the settings too;
:func:`check_topics` reports a mismatch instead of guessing. Each topic's key, partitions
and cleanup, and why: ``docs/adr/0018-topics.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from greenshield.errors import StreamError
from greenshield.settings import Settings


@dataclass(frozen=True)
class TopicSpec:
    """One topic as the pipeline needs it."""

    role: str
    name: str
    partitions: int
    key: str
    configs: Mapping[str, str] = field(default_factory=dict)

    def request(self, replication: int) -> dict[str, Any]:
        """The options ``KafkaAdminClient.create_topics`` takes for this topic."""
        return {"num_partitions": self.partitions, "replication_factor": replication,
                "configs": dict(self.configs)}


class TopicsError(StreamError):
    """The topics are missing or not laid out as the pipeline needs; the message says how to fix it."""


def topic_specs(settings: Settings) -> tuple[TopicSpec, ...]:
    """The four topics of the pipeline, as the settings name and size them."""
    for name in ("events_partitions", "registry_partitions", "violations_partitions", "rejects_partitions"):
        if getattr(settings, name) < 1:
            raise ValueError(f"{name}={getattr(settings, name)}: a topic needs at least one partition")
    return (
        TopicSpec("events", settings.events_topic, settings.events_partitions, "waybill_no",
                  {"cleanup.policy": "delete"}),
        TopicSpec("registry", settings.registry_topic, settings.registry_partitions,
                  "<entity>:<id>@<UTC instant>", {"cleanup.policy": "compact"}),
        TopicSpec("violations", settings.violations_topic, settings.violations_partitions, "waybill_no",
                  {"cleanup.policy": "delete"}),
        TopicSpec("rejects", settings.rejects_topic, settings.rejects_partitions, "<topic>:<partition>",
                  {"cleanup.policy": "delete"}),
        TopicSpec("warnings", settings.warnings_topic, settings.warnings_partitions, "<subject_kind>:<subject_id>"),
    )


def create_topics(admin: Any, specs: Iterable[TopicSpec], replication: int = 1) -> dict[str, str]:
    """Create what is missing; returns ``{name: "created" | "exists"}``. Existing topics are left alone."""
    from kafka.errors import TopicAlreadyExistsError

    wanted = {s.name: s.request(replication) for s in specs}
    result = admin.create_topics(wanted, raise_errors=False, wait_for_metadata=False)
    outcome: dict[str, str] = {}
    for topic in result["topics"]:
        code = topic["error_code"]
        if code == 0:
            outcome[topic["name"]] = "created"
        elif code == TopicAlreadyExistsError.errno:
            outcome[topic["name"]] = "exists"
        else:
            raise TopicsError(f"cannot create topic {topic['name']}: {topic.get('error_message') or code}")
    created = [name for name, what in outcome.items() if what == "created"]
    if created:
        admin.wait_for_topics(created, timeout_ms=60_000)
    return outcome


def check_topics(admin: Any, specs: Iterable[TopicSpec]) -> list[str]:
    """Everything wrong with the topics, one sentence each; empty when all is well."""
    from kafka.admin import ConfigResource, ConfigResourceType

    specs = list(specs)
    described = {t["name"]: t for t in admin.describe_topics([s.name for s in specs])}
    problems: list[str] = []
    present: list[TopicSpec] = []
    for spec in specs:
        topic = described.get(spec.name)
        if topic is None or topic["error_code"] != 0:
            problems.append(f"topic {spec.name} ({spec.role}) does not exist")
            continue
        present.append(spec)
        have = len(topic["partitions"])
        if spec.role in ("events", "registry") and have != spec.partitions:
            problems.append(
                f"topic {spec.name} has {have} partitions but the settings say {spec.partitions}; "
                "per-parcel state is partitioned like the events, so set GREENSHIELD_"
                f"{spec.role.upper()}_PARTITIONS={have} (never change the count of a live topic)")
    if present:
        resources = [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in present]
        configs = admin.describe_configs(resources, config_filter="all").get("topic", {})
        for spec in present:
            want = spec.configs.get("cleanup.policy")
            have_policy = configs.get(spec.name, {}).get("cleanup.policy", {}).get("value")
            if want is not None and have_policy is not None and set(want.split(",")) != set(have_policy.split(",")):
                problems.append(f"topic {spec.name} has cleanup.policy={have_policy}, needs {want} (fix: "
                                f"kafka-configs.sh --alter --entity-type topics --entity-name {spec.name} "
                                f"--add-config cleanup.policy={want})")
    return problems


def require_topics(admin: Any, specs: Iterable[TopicSpec], fix: str = "greenshield topics create") -> None:
    """Raise :class:`TopicsError` listing every problem, with the command that fixes the usual one."""
    problems = check_topics(admin, specs)
    if problems:
        hint = f"\nCreate missing topics with `{fix}` (existing topics are left alone)."
        raise TopicsError("the pipeline's topics are not ready:\n  - " + "\n  - ".join(problems) + hint)


def fix_command(settings: Settings, bootstrap: str | None = None) -> str:
    """The ``greenshield topics create`` line that makes the topics these settings name."""
    prefix = f"GREENSHIELD_TOPIC_PREFIX={settings.topic_prefix} " if settings.topic_prefix != "gs." else ""
    return f"{prefix}greenshield topics create --bootstrap {bootstrap or settings.kafka_bootstrap}"


def ensure_topics(settings: Settings, roles: Iterable[str], bootstrap: str | None = None,
                  client_id: str = "greenshield-topics-check") -> None:
    """A command's start check: the topics of ``roles`` exist as specified, else :class:`TopicsError`.

    The local broker never creates a topic on first use (``auto.create.topics.enable=false``),
    and a production broker should not either: a send to a missing topic must fail here,
    naming it and the command that creates it, not make one with the wrong layout.
    """
    from kafka.errors import KafkaError

    wanted = set(roles)
    specs = [s for s in topic_specs(settings) if s.role in wanted]
    address = bootstrap or settings.kafka_bootstrap
    try:
        admin = admin_client(settings, bootstrap, client_id)
    except KafkaError as err:
        raise TopicsError(f"cannot reach Kafka at {address} to check the topics: {err!r}") from None
    try:
        require_topics(admin, specs, fix_command(settings, bootstrap))
    except KafkaError as err:
        raise TopicsError(f"cannot check the topics at {address}: {err!r}") from None
    finally:
        admin.close()


def admin_client(settings: Settings, bootstrap: str | None = None, client_id: str = "greenshield-admin") -> Any:
    """A kafka-python admin client for ``bootstrap`` (default: the settings' broker)."""
    from kafka import KafkaAdminClient

    from greenshield.sdk.clients import common

    return KafkaAdminClient(**common(bootstrap or settings.kafka_bootstrap, client_id, settings.kafka_security),
                            request_timeout_ms=30_000)
