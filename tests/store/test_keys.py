"""Development keys in the data directory, made on first use; production mode needs every key configured."""

from __future__ import annotations

import dataclasses
import logging
import stat
import threading
from pathlib import Path

import pytest

from greenshield.translog import keys
from greenshield.settings import Secret, Settings


def dev(tmp_path: Path) -> Settings:
    return Settings.from_env({"GREENSHIELD_DATA_DIR": str(tmp_path / "var")})


class TestControlKey:
    def test_development_makes_one_private_key_file_and_says_where_once(
            self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """First use writes var/control.key (0600, not world- or group-readable) and logs its path; later uses
        (another process of the same data directory) read the same key and log nothing."""
        settings = dev(tmp_path)
        with caplog.at_level(logging.WARNING, logger="greenshield.keys"):
            first = keys.control_key(settings)
            second = keys.control_key(dev(tmp_path))
        path = tmp_path / "var" / keys.DEV_CONTROL_KEY
        assert first == second and len(first) == 64
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        created = [r.getMessage() for r in caplog.records if "development_key_created" in r.getMessage()]
        assert created == [f"event=development_key_created key=control path={path}"]
        assert first.decode() not in caplog.text
        assert sorted(p.name for p in path.parent.iterdir()) == [keys.DEV_CONTROL_KEY]  # no draft left behind

    def test_the_configured_key_wins_and_no_file_is_made(self, tmp_path: Path) -> None:
        settings = dataclasses.replace(dev(tmp_path), control_key=Secret("configured"))
        assert keys.control_key(settings) == b"configured"
        assert keys.with_control_key(settings) is settings
        assert not (tmp_path / "var").exists()

    def test_production_refuses_without_the_variable(self, tmp_path: Path) -> None:
        settings = Settings.from_env({"GREENSHIELD_DATA_DIR": str(tmp_path / "var"), "GREENSHIELD_PRODUCTION": "true"})
        with pytest.raises(keys.KeyConfigError, match="production mode needs a control key: set "
                                                      "GREENSHIELD_CONTROL_KEY"):
            keys.with_control_key(settings)
        assert not (tmp_path / "var").exists()

    def test_with_control_key_fills_the_settings(self, tmp_path: Path) -> None:
        """What the worker and replay use: the settings carry the data directory's key."""
        filled = keys.with_control_key(dev(tmp_path))
        assert filled.control_key.reveal().encode() == (tmp_path / "var" / keys.DEV_CONTROL_KEY).read_bytes().strip()

    def test_racing_first_uses_agree(self, tmp_path: Path) -> None:
        """Eight threads making the key at once all get the same whole key."""
        found: list[bytes] = []
        threads = [threading.Thread(target=lambda: found.append(keys.control_key(dev(tmp_path)))) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert len(set(found)) == 1 and len(found[0]) == 64


def test_the_hmac_key_file_is_private_too(tmp_path: Path) -> None:
    keys.hmac_key(dev(tmp_path))
    assert stat.S_IMODE((tmp_path / "var" / keys.DEV_HMAC_KEY).stat().st_mode) == 0o600
