"""The one settings object: read from a mapping, secrets never shown."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import pytest

from greenshield.errors import SettingsError
from greenshield.settings import Secret, Settings, markdown_table


class TestSettings:
    def test_secrets_never_appear_in_repr(self) -> None:
        """HMAC key, control key and Kafka SASL password stay out of repr and str."""
        s = Settings.from_env({"GREENSHIELD_HMAC_KEY": "hmac-s3cret", "GREENSHIELD_CONTROL_KEY": "ctl-s3cret",
                               "GREENSHIELD_KAFKA_SECURITY_SASL_PLAIN_PASSWORD": "sasl-s3cret"})
        text = repr(s) + str(s)
        for secret in ("hmac-s3cret", "ctl-s3cret", "sasl-s3cret"):
            assert secret not in text
        assert s.kafka_security["sasl_plain_password"] == "sasl-s3cret"
        assert s.hmac_key.reveal() == "hmac-s3cret"

    def test_a_bad_integer_names_the_variable(self) -> None:
        """A malformed number says which variable and what it holds."""
        with pytest.raises(ValueError, match="GREENSHIELD_KAFKA_PORT='x'"):
            Settings.from_env({"GREENSHIELD_KAFKA_PORT": "x"})


class TestDeclaredOnce:
    """Each field is declared once with its variable; the generic reader and the docs follow the declarations."""

    def test_every_field_has_an_environment_name(self) -> None:
        names = []
        for f in dataclasses.fields(Settings):
            assert f.metadata["env"].startswith("GREENSHIELD_"), f.name
            assert f.metadata["help"], f.name
            if f.metadata["source"] == "variable":
                names.append(f.metadata["env"])
        assert len(names) == len(set(names))  # no variable read for two fields
        assert len(names) >= 60

    def test_secrets_are_marked(self) -> None:
        hints = typing.get_type_hints(Settings)
        for f in dataclasses.fields(Settings):
            if hints[f.name] is Secret:
                assert f.metadata["secret"], f.name
        assert dataclasses.fields(Settings)[0].metadata["secret"] is False

    def test_every_variable_is_read_into_its_field(self) -> None:
        """A value for each variable lands in its field, parsed by the field's type."""
        hints = typing.get_type_hints(Settings)
        env: dict[str, str] = {}
        expected: dict[str, object] = {}
        for i, f in enumerate(dataclasses.fields(Settings)):
            if f.metadata["source"] != "variable":
                continue
            kind = hints[f.name]
            if kind is bool:
                raw, want = ("off", False) if f.default is True else ("yes", True)
            elif kind is int:
                raw, want = str(100 + i), 100 + i
            elif kind is Secret:
                raw, want = f"secret-{i}", f"secret-{i}"
            elif f.metadata["choices"]:
                raw, want = f.metadata["choices"][-1].upper(), f.metadata["choices"][-1]
            elif f.name == "kafka_credentials":
                continue  # a file to read: test_credentials_file covers it
            elif kind in (Path, Path | None):
                raw, want = f"/tmp/p{i}", Path(f"/tmp/p{i}")
            else:
                raw, want = f"v{i}", f"v{i}".upper() if f.name == "log_level" else f"v{i}"
            env[f.metadata["env"]], expected[f.name] = raw, want
        s = Settings.from_env(env)
        for name, want in expected.items():
            got = getattr(s, name)
            assert (got.reveal() if isinstance(got, Secret) else got) == want, name

    def test_credentials_file(self, tmp_path: Path) -> None:
        creds = tmp_path / "e.json"
        creds.write_text(json.dumps({"principal": "E1234567", "security": {"sasl_plain_username": "u"},
                                     "enterprise_id": "E1234567", "sender_key": "k" * 64}))
        s = Settings.from_env({"GREENSHIELD_KAFKA_CREDENTIALS": str(creds),
                               "GREENSHIELD_KAFKA_SECURITY_SECURITY_PROTOCOL": "SASL_PLAINTEXT"})
        assert s.kafka_credentials == creds and s.enterprise_id == "E1234567"
        assert s.enterprise_key.reveal() == "k" * 64
        assert dict(s.kafka_security) == {"sasl_plain_username": "u", "security_protocol": "SASL_PLAINTEXT"}
        creds.write_text("{}")
        with pytest.raises(SettingsError, match="GREENSHIELD_KAFKA_CREDENTIALS=.*not a credentials file"):
            Settings.from_env({"GREENSHIELD_KAFKA_CREDENTIALS": str(creds)})

    def test_defaults_without_environment(self) -> None:
        def plain(settings: Settings) -> dict[str, object]:
            return {k: v.reveal() if isinstance(v, Secret) else v for k, v in vars(settings).items()}

        assert plain(Settings.from_env({})) == plain(dataclasses.replace(Settings(), db_url="sqlite:///var/greenshield.db"))
        data = Settings.from_env({"GREENSHIELD_DATA_DIR": "/srv/gs"})
        assert data.db_url == "sqlite:////srv/gs/greenshield.db" and data.data_dir == Path("/srv/gs")
        assert Settings.from_env({"GREENSHIELD_SIGNING_KEY_FILE": ""}).signing_key_file is None

    def test_the_drifted_cache_name_reads_both(self) -> None:
        assert Settings.from_env({"GREENSHIELD_KAFKA_CACHE_DIR": "/a"}).kafka_cache_dir == Path("/a")
        assert Settings.from_env({"GREENSHIELD_KAFKA_CACHE": "/b"}).kafka_cache_dir == Path("/b")
        both = {"GREENSHIELD_KAFKA_CACHE_DIR": "/a", "GREENSHIELD_KAFKA_CACHE": "/b"}
        assert Settings.from_env(both).kafka_cache_dir == Path("/a")  # the current name wins

    @pytest.mark.parametrize(("name", "raw", "problem"), [
        ("GREENSHIELD_PRODUCTION", "maybe", "expected true or false"),
        ("GREENSHIELD_WORKER_SEQUENCER_THREAD", "2", "expected true or false"),
        ("GREENSHIELD_API_THREADS", "1.5", "expected an integer"),
        ("GREENSHIELD_API_PORT", "70000", "expected at most 65535"),
        ("GREENSHIELD_METRICS_PORT", "-1", "expected at least 0"),
        ("GREENSHIELD_WORKER_BATCH_SIZE", "0", "expected at least 1"),
        ("GREENSHIELD_WORKER_WRITER_THREAD", "sometimes", "expected one of auto, on, off"),
    ])
    def test_a_bad_value_names_the_variable_and_the_problem(self, name: str, raw: str, problem: str) -> None:
        with pytest.raises(SettingsError) as caught:
            Settings.from_env({name: raw})
        assert str(caught.value) == f"{name}={raw!r}: {problem}"
        assert isinstance(caught.value, ValueError) and caught.value.exit_code == 2

    def test_a_bad_value_is_one_line_from_the_cli(self, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
        from greenshield import cli

        monkeypatch.setenv("GREENSHIELD_RETENTION_DAYS", "a year")
        assert cli.main(["audit", "purge", "--db", "sqlite://"]) == 2
        err = capsys.readouterr().err
        assert err == "greenshield audit purge: GREENSHIELD_RETENTION_DAYS='a year': expected an integer\n"

    def test_docs_list_every_variable(self) -> None:
        doc = (Path(__file__).parents[1] / "docs" / "settings.md").read_text()
        marker = "<!-- generated: settings table -->\n"
        assert doc.split(marker, 1)[1] == markdown_table()  # regenerate: see docs/settings.md
        for f in dataclasses.fields(Settings):
            assert f"`{f.metadata['env']}" in doc, f.name
            for alias in f.metadata["aliases"]:
                assert f"`{alias}`" in doc
