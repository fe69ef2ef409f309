"""Every exception class under ``greenshield/`` derives from ``GreenShieldError``; the CLI exits with its code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from greenshield import cli
from greenshield.errors import USAGE_ERROR, GreenShieldError, SettingsError

# exceptions that must not derive from the root, and why:
EXEMPT = {
    # an HTTP response in the making: raised from the ASGI `receive` so that Starlette answers 413/408 and closes
    # the connection; it must stay a plain starlette HTTPException (its handler, not ours, renders it)
    "greenshield.api.limits.BodyRefused",
}


_WALK = """
import importlib, json, pkgutil, sys
import greenshield
from greenshield.errors import GreenShieldError
found = {}
for info in pkgutil.walk_packages(greenshield.__path__, "greenshield."):
    if info.name.endswith("__main__"):
        continue
    module = importlib.import_module(info.name)
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == info.name:
            found[f"{info.name}.{value.__qualname__}"] = issubclass(value, GreenShieldError)
json.dump(found, sys.stdout)
"""


def _exception_classes() -> dict[str, bool]:
    """Every exception class defined in a module of the package: whether it derives from the root.

    The walk imports every module, so it runs in a process of its own (tests that hide a module, as the Docker
    image lacks ``greenshield.devtools``, would otherwise find it imported).
    """
    done = subprocess.run([sys.executable, "-c", _WALK], capture_output=True, text=True, check=True, timeout=120)
    found: dict[str, bool] = json.loads(done.stdout)
    return found


def test_every_exception_class_derives_from_the_root() -> None:
    classes = _exception_classes()
    assert len(classes) >= 25  # the walk did find the package's modules
    strays = sorted(name for name, rooted in classes.items() if not rooted and name not in EXEMPT)
    assert strays == []
    assert EXEMPT <= set(classes)  # an exemption names a class that still exists


def test_stdlib_bases_kept() -> None:
    from greenshield.translog.keys import KeyConfigError
    from greenshield.store.database import SchemaError
    from greenshield.rules.dedup import CanonicalError
    from greenshield.rules.timestamps import TimestampError

    assert issubclass(CanonicalError, ValueError) and issubclass(TimestampError, ValueError)
    assert issubclass(SchemaError, RuntimeError) and issubclass(KeyConfigError, RuntimeError)
    assert issubclass(SettingsError, ValueError) and SettingsError.exit_code == USAGE_ERROR
    assert GreenShieldError.exit_code == 1


class _Boom(GreenShieldError):
    exit_code = 7


@pytest.mark.parametrize(("error", "code"), [(GreenShieldError("it broke"), 1), (_Boom("it broke"), 7)])
def test_cli_reports_a_green_shield_error_once(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                error: GreenShieldError, code: int) -> None:
    import greenshield.commands.check as check

    def fail(args: object) -> int:
        raise error

    monkeypatch.setattr(check, "run", fail)
    assert cli.main(["check", "-"]) == code
    out, err = capsys.readouterr()
    assert out == "" and err == "error: it broke\n"
