"""The pipeline's topics: their layout from settings, creation, and the checks the worker runs at start."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from greenshield.stream.topics import TopicsError, admin_client, check_topics, create_topics, require_topics, topic_specs
from greenshield.settings import Settings

from .conftest import unique_settings

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample-day.jsonl"


class TestTopicSpecs:
    def test_default_names_use_the_gs_prefix(self) -> None:
        """The topics are gs.events.v1, gs.registry.v1, gs.violations.v1, gs.rejects.v1 and gs.warnings.v1."""
        names = [s.name for s in topic_specs(Settings())]
        assert names == ["gs.events.v1", "gs.registry.v1", "gs.violations.v1", "gs.rejects.v1", "gs.warnings.v1"]

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
        assert len(problems) == 1
        assert problems[0].startswith(f"topic {settings.registry_topic} has cleanup.policy=delete, needs compact")
        assert "--add-config cleanup.policy=compact" in problems[0]  # and says how to fix it


def _env(monkeypatch: pytest.MonkeyPatch, settings: Settings, **more: str) -> None:
    for name, value in {"GREENSHIELD_KAFKA_HOST": settings.kafka_host,
                        "GREENSHIELD_KAFKA_PORT": str(settings.kafka_port),
                        "GREENSHIELD_TOPIC_PREFIX": settings.topic_prefix, **more}.items():
        monkeypatch.setenv(name, value)


def _exists(settings: Settings, name: str) -> bool:
    admin = admin_client(settings)
    try:
        return bool(admin.describe_topics([name])[0]["error_code"] == 0)
    finally:
        admin.close()


@pytest.mark.kafka
class TestCommandsCheckTopicsAtStart:
    """Issue 14: send, replay, the worker and streaming serve refuse (exit 2) before topics exist, naming them
    and the command that creates them; nothing is created by a first send (the broker would guess the layout)."""

    def _run(self, command: str, argv: list[str]) -> int:
        import argparse
        import importlib

        module = importlib.import_module(f"greenshield.commands.{command}")
        parser = argparse.ArgumentParser()
        module.register(parser.add_subparsers())
        return int(module.run(parser.parse_args([command, *argv])))

    def _assert_named(self, err: str, settings: Settings, roles: tuple[str, ...]) -> None:
        for role in roles:
            assert f"topic {getattr(settings, role + '_topic')} ({role}) does not exist" in err
        assert f"GREENSHIELD_TOPIC_PREFIX={settings.topic_prefix} greenshield topics create --bootstrap " in err

    @pytest.mark.parametrize("command", ["send", "replay"])
    def test_send_and_replay_before_topics_create(self, command: str, kafka_bootstrap: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
        settings = unique_settings(kafka_bootstrap)
        _env(monkeypatch, settings, GREENSHIELD_CONTROL_KEY="k" * 32)
        data = tmp_path / "day.jsonl"
        data.write_bytes(SAMPLE.read_bytes())
        extra = ["--as-of", "2026-11-12T00:00:00Z"] if command == "replay" else []
        assert self._run(command, [str(data), "--no-progress", *extra]) == 2
        self._assert_named(capsys.readouterr().err, settings, ("events", "registry"))
        assert not _exists(settings, settings.registry_topic) and not _exists(settings, settings.events_topic)

    def test_the_worker_command_before_topics_create(self, kafka_bootstrap: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
        settings = unique_settings(kafka_bootstrap)
        _env(monkeypatch, settings, GREENSHIELD_HMAC_KEY="h" * 32, GREENSHIELD_DATA_DIR=str(tmp_path / "var"))
        assert self._run("worker", ["--db", f"sqlite:///{tmp_path / 'w.db'}", "--metrics-port", "0"]) == 2
        self._assert_named(capsys.readouterr().err, settings, ("events", "registry", "violations", "rejects"))

    def test_streaming_serve_before_topics_create(self, kafka_bootstrap: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
        settings = unique_settings(kafka_bootstrap)
        _env(monkeypatch, settings, GREENSHIELD_API_INGEST_MODE="streaming", GREENSHIELD_HMAC_KEY="h" * 32,
             GREENSHIELD_DATA_DIR=str(tmp_path / "var"))
        assert self._run("serve", ["--db", f"sqlite:///{tmp_path / 's.db'}", "--metrics-port", "0"]) == 2
        self._assert_named(capsys.readouterr().err, settings, ("events", "registry", "rejects"))

    def test_send_after_topics_create_is_accepted(self, make_topics: Callable[..., Settings], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
        settings = make_topics()
        _env(monkeypatch, settings)
        data = tmp_path / "day.jsonl"
        data.write_bytes(SAMPLE.read_bytes())
        assert self._run("send", [str(data), "--no-progress"]) == 0
