"""The development tools ship as package data and stay out of the production image."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import greenshield
from greenshield import devtools
from greenshield.commands import kafka as kafka_command
from greenshield.devtools import kafka_jars

ROOT = Path(__file__).resolve().parents[2]


def test_the_broker_pom_is_package_data() -> None:
    package = Path(greenshield.__file__).resolve().parent
    assert kafka_jars.POM_PATH.is_file()
    assert kafka_jars.POM_PATH.resolve().is_relative_to(package)


@pytest.mark.slow
def test_an_installed_wheel_carries_the_pom(tmp_path: Path) -> None:
    """``greenshield kafka up`` from an installed package finds its POM (it used to climb out of the package)."""
    src = tmp_path / "src"  # a copy: building in the checkout would leave build/ there
    shutil.copytree(ROOT / "greenshield", src / "greenshield", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(src)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 and "No module named" in done.stderr:
        pytest.skip(f"cannot build a wheel here: {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("greenshield-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "greenshield/devtools/kafka/pom.xml" in names
    assert not [n for n in names if n.startswith("tests/")]


def test_the_docker_context_leaves_devtools_out() -> None:
    lines = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().splitlines()
    assert "!greenshield/" in lines
    assert lines.index("greenshield/devtools/") > lines.index("!greenshield/")  # later lines win


def test_kafka_up_without_devtools_says_so(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "greenshield.devtools.kafka_broker", None)  # import fails, as in the image
    monkeypatch.delattr(devtools, "kafka_broker", raising=False)  # imported by another test module: hide it too
    assert kafka_command.main(["up"]) == 2
    assert "has no greenshield.devtools" in capsys.readouterr().err


def test_kafka_acl_without_devtools_needs_the_configured_super_user(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "greenshield.devtools.kafka_broker", None)
    monkeypatch.delattr(devtools, "kafka_broker", raising=False)
    for name in ("GREENSHIELD_KAFKA_CREDENTIALS",):
        monkeypatch.delenv(name, raising=False)
    assert kafka_command.main(["acl", "--credentials-dir", "/nonexistent"]) == 2
    assert "GREENSHIELD_KAFKA_CREDENTIALS" in capsys.readouterr().err
