"""The pipeline's topics: their layout from settings, creation, and the checks the worker runs at start."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from greenshield.ingest.topics import TopicsError, admin_client, check_topics, create_topics, require_topics, topic_specs
from greenshield.settings import Settings

from .conftest import unique_settings


class TestTopicSpecs:
    def test_default_names_use_the_gs_prefix(self) -> None:
        """The four topics are gs.events.v1, gs.registry.v1, gs.violations.v1 and gs.rejects.v1."""
        names = [s.name for s in topic_specs(Settings())]
        assert names == ["gs.events.v1", "gs.registry.v1", "gs.violations.v1", "gs.rejects.v1"]

    def test_events_have_six_partitions_and_the_registry_is_compacted(self) -> None:
        """Defaults: 6 event partitions; the registry topic compacts instead of deleting."""
        specs = {s.role: s for s in topic_specs(Settings())}
        assert specs["events"].partitions == 6
        assert specs["registry"].configs["cleanup.policy"] == "compact"
        assert specs["events"].configs["cleanup.policy"] == "delete"

    def test_prefix_and_partitions_are_configurable(self) -> None:
        """GREENSHIELD_TOPIC_PREFIX and GREENSHIELD_EVENTS_PARTITIONS change names and sizes."""
        settings = Settings.from_env({"GREENSHIELD_TOPIC_PREFIX": "prov32.", "GREENSHIELD_EVENTS_PARTITIONS": "12"})
        specs = {s.role: s for s in topic_specs(settings)}
        assert specs["events"].name == "prov32.events.v1"
        assert specs["events"].partitions == 12

    def test_zero_partitions_is_a_configuration_error(self) -> None:
        """A topic of no partitions is refused when the specs are built."""
        with pytest.raises(ValueError, match="events_partitions"):
            topic_specs(dataclasses.replace(Settings(), events_partitions=0))


@pytest.mark.kafka
class TestTopicsOnTheBroker:
    def test_create_makes_every_topic_and_check_then_finds_nothing_wrong(self, kafka_bootstrap: str) -> None:
        """After create, check_topics reports no problem; a second create leaves them as they are."""
        settings = unique_settings(kafka_bootstrap)
        admin = admin_client(settings)
        specs = topic_specs(settings)
        try:
            assert set(create_topics(admin, specs).values()) == {"created"}
            assert check_topics(admin, specs) == []
            assert set(create_topics(admin, specs).values()) == {"exists"}
        finally:
            admin.delete_topics([s.name for s in specs])
            admin.close()

    def test_missing_topics_are_named_with_the_command_that_creates_them(self, kafka_bootstrap: str) -> None:
        """The worker's start check lists each missing topic and says to run `greenshield topics create`."""
        settings = unique_settings(kafka_bootstrap)
        admin = admin_client(settings)
        try:
            with pytest.raises(TopicsError) as err:
                require_topics(admin, topic_specs(settings))
        finally:
            admin.close()
        text = str(err.value)
        assert f"topic {settings.events_topic} (events) does not exist" in text
        assert f"topic {settings.registry_topic} (registry) does not exist" in text
        assert "greenshield topics create" in text

    def test_a_partition_count_that_differs_from_the_settings_is_reported(
            self, make_topics: Callable[..., Settings]) -> None:
        """Events created with 6 partitions but settings saying 3: the check says so."""
        settings = make_topics()
        admin = admin_client(settings)
        try:
            problems = check_topics(admin, topic_specs(dataclasses.replace(settings, events_partitions=3)))
        finally:
            admin.close()
        assert len(problems) == 1
        assert "has 6 partitions but the settings say 3" in problems[0]

    def test_a_registry_topic_that_is_not_compacted_is_reported(self, kafka_bootstrap: str) -> None:
        """A registry topic with cleanup.policy=delete would lose old versions: reported."""
        settings = unique_settings(kafka_bootstrap)
        admin = admin_client(settings)
        specs = topic_specs(settings)
        try:
            admin.create_topics({settings.registry_topic: {"num_partitions": 1, "replication_factor": 1,
                                                           "configs": {"cleanup.policy": "delete"}}},
                                wait_for_metadata=True)
            create_topics(admin, specs)
            problems = check_topics(admin, specs)
        finally:
            admin.delete_topics([s.name for s in specs])
            admin.close()
        assert problems == [f"topic {settings.registry_topic} has cleanup.policy=delete, needs compact"]
