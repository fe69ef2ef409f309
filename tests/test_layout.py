"""The layout of docs/architecture.md holds: import rules (.importlinter), module sizes, short docstrings."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "greenshield"
MAX_LINES = 400
MAX_DOCSTRING_LINES = 15


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter over the package found in ``root``, with the contracts of ``root/.importlinter``."""
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is a test dependency (pip install -e .[test])"
    return subprocess.run([lint, "--no-cache", "--config", str(root / ".importlinter")], cwd=root,
                          capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(root), "PATH": ""})


def test_every_import_rule_holds() -> None:
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "4 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(("module", "line", "contract", "found"), [
    ("rules/engine.py", "import sqlalchemy", "The pure core imports no I/O library",
     "greenshield.rules.engine -> sqlalchemy"),
    ("translog/merkle.py", "import socket", "The pure core imports no I/O library",
     "greenshield.translog.merkle -> socket"),
    ("api/models.py", "import sqlalchemy", "SQL only in store/", "greenshield.api.models -> sqlalchemy"),
    ("store/schema.py", "import kafka", "Kafka only in stream/, sdk/ and devtools/",
     "greenshield.store.schema -> kafka"),
    ("store/rows.py", "import greenshield.stream.topics", "Every import points down the layers",
     "greenshield.store.rows -> greenshield.stream.topics"),
    ("rules/view.py", "from greenshield.translog import merkle", "Every import points down the layers",
     "greenshield.rules.view -> greenshield.translog.merkle"),
])
def test_a_module_that_breaks_a_rule_is_caught(tmp_path: Path, module: str, line: str, contract: str,
                                               found: str) -> None:
    """The rules can fail: a copy of the package with one forbidden import breaks that contract, naming it."""
    shutil.copytree(PACKAGE, tmp_path / "greenshield", ignore=shutil.ignore_patterns("__pycache__", "web"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    target = tmp_path / "greenshield" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # planted\n", encoding="utf-8")
    done = _lint_imports(tmp_path)
    assert done.returncode != 0
    broken = done.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken and found in broken, done.stdout[-3000:]


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_over_the_line_limit() -> None:
    long = {str(p.relative_to(ROOT)): n for p in _modules() if (n := len(p.read_text(encoding="utf-8").splitlines()))
            > MAX_LINES}
    assert long == {}


def test_module_docstrings_are_short() -> None:
    """A module says what it holds in a few lines; the reasoning lives in docs/adr/."""
    long = {}
    for path in _modules():
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")), clean=False)
        if doc and len(doc.splitlines()) > MAX_DOCSTRING_LINES:
            long[str(path.relative_to(ROOT))] = len(doc.splitlines())
    assert long == {}


def test_every_package_folder_is_in_the_architecture_table() -> None:
    table = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    folders = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    assert len(folders) >= 12
    missing = [f for f in folders if f"`{f}/`" not in table]
    assert missing == []


def test_test_helpers_are_not_in_the_package() -> None:
    assert sorted(str(p.relative_to(ROOT)) for p in PACKAGE.rglob("testing.py")) == []
