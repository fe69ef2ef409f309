"""``greenshield tokens create|revoke|list`` and ``greenshield serve``'s argument handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenshield import cli
from greenshield.store import tokens
from greenshield.store.database import Store


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GREENSHIELD_DATA_DIR", str(tmp_path / "var"))
    return f"sqlite:///{tmp_path / 'tokens.db'}"


class TestTokens:
    def test_create_prints_the_token_last_and_stores_its_hash(self, db: str, capsys: pytest.CaptureFixture[str]) -> None:
        assert cli.main(["tokens", "create", "--role", "enterprise", "--enterprise", "E3100001", "--db", db]) == 0
        token = capsys.readouterr().out.strip().splitlines()[-1]
        assert token.startswith("gs_")
        store = Store.open(db)
        try:
            with store.read() as conn:
                found = tokens.lookup(conn, token)
            assert found is not None and found.role == "enterprise" and found.enterprise_id == "E3100001"
        finally:
            store.close()

    def test_revoke_by_id_and_list(self, db: str, capsys: pytest.CaptureFixture[str]) -> None:
        cli.main(["tokens", "create", "--role", "auditor", "--label", "Ms Audit", "--db", db])
        out = capsys.readouterr().out
        ident = out.split("id ")[1].split(";")[0]
        assert cli.main(["tokens", "revoke", ident, "--db", db]) == 0
        assert cli.main(["tokens", "revoke", "000000000000", "--db", db]) == 1
        capsys.readouterr()
        assert cli.main(["tokens", "list", "--db", db]) == 0
        listing = capsys.readouterr().out
        assert ident in listing and "revoked" in listing and "Ms Audit" in listing and "gs_" not in listing

    def test_a_registrar_token_is_created_unscoped(self, db: str, capsys: pytest.CaptureFixture[str]) -> None:
        """`--role registrar`: the registry feed's identity, not scoped to an enterprise; the CLI offers every
        role the store knows."""
        from greenshield.commands.tokens import ROLES

        assert ROLES == tokens.ROLES
        assert cli.main(["tokens", "create", "--role", "registrar", "--label", "registry feed", "--db", db]) == 0
        token = capsys.readouterr().out.strip().splitlines()[-1]
        store = Store.open(db)
        try:
            with store.read() as conn:
                found = tokens.lookup(conn, token)
            assert found is not None and found.role == "registrar" and found.enterprise_id is None
        finally:
            store.close()

    @pytest.mark.parametrize("argv", [["--role", "enterprise"], ["--role", "regulator", "--enterprise", "E3100001"],
                                      ["--role", "registrar", "--enterprise", "E3100001"],
                                      ["--role", "enterprise", "--enterprise", "3100001"]])
    def test_bad_grants_exit_2(self, db: str, argv: list[str]) -> None:
        assert cli.main(["tokens", "create", *argv, "--db", db]) == 2


class TestServe:
    def test_a_bad_ingest_mode_is_refused_before_starting(self, db: str, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GREENSHIELD_API_INGEST_MODE", "carrier-pigeon")
        assert cli.main(["serve", "--db", db]) == 2
