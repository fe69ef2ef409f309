"""The broker's jars: found tools (java, mvn) and a one-time Maven download into a cache directory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from greenshield.devtools.kafka_config import (
    DOWNLOAD_TIMEOUT,
    BrokerConfig,
    DownloadError,
    Log,
    MissingToolError,
    _quiet,
)
from greenshield.devtools.process import locked, tail_text

#: the POM that lists the broker jars (package data, so an installed package can fetch them too)
POM_PATH = Path(str(resources.files("greenshield.devtools") / "kafka" / "pom.xml"))

def maven_command(cfg: BrokerConfig, output_dir: Path, mvn: str = "mvn", pom: Path = POM_PATH) -> list[str]:
    return [
        mvn,
        "-B",
        "--no-transfer-progress",
        "-Dstyle.color=never",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={output_dir}",
        f"-Dkafka.version={cfg.version}",
    ]


# --------------------------------------------------------------------------- tools


def find_tools(path: str | None = None, *, need_mvn: bool = True) -> dict[str, str]:
    """Absolute paths of java (and mvn); :class:`MissingToolError` names what is missing."""
    names = ["java", "mvn"] if need_mvn else ["java"]
    found: dict[str, str] = {}
    missing: list[str] = []
    for name in names:
        where = shutil.which(name, path=path)
        if where is None:
            missing.append(name)
        else:
            found[name] = where
    if missing:
        raise MissingToolError(missing)
    return found


def java_major_version(java: str, env: Mapping[str, str] | None = None) -> int | None:
    """The major version ``java -version`` reports, or None when unreadable."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    if major == 1 and m.group(2):  # "1.8.0_392"
        major = int(m.group(2))
    return major


def _child_env(path: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return env


# --------------------------------------------------------------------------- jars


def jars_present(cfg: BrokerConfig) -> bool:
    return cfg.core_jar.is_file()


def ensure_jars(
    cfg: BrokerConfig,
    *,
    mvn: str,
    pom: Path = POM_PATH,
    env: Mapping[str, str] | None = None,
    log: Log = _quiet,
    timeout: float = DOWNLOAD_TIMEOUT,
) -> float | None:
    """Fetch the broker jars into ``cfg.libs_dir`` unless there; return seconds spent, or None.

    Maven writes into a temporary sibling directory that is renamed into place
    only when complete, so an interrupted download never leaves a half cache.
    """
    if jars_present(cfg):
        return None
    if not pom.is_file():
        raise DownloadError(
            f"the Maven POM for the broker jars is missing ({pom}); "
            "reinstall the greenshield package (the POM is its package data)"
        )
    version_dir = cfg.libs_dir.parent
    version_dir.mkdir(parents=True, exist_ok=True)
    with locked(version_dir / "download.lock"):
        if jars_present(cfg):  # another process fetched them while we waited
            return None
        for leftover in version_dir.glob(".libs-*"):  # from a killed download
            shutil.rmtree(leftover, ignore_errors=True)
        if cfg.libs_dir.exists():  # incomplete by the check above
            shutil.rmtree(cfg.libs_dir)
        tmp = Path(tempfile.mkdtemp(prefix=".libs-", dir=version_dir))
        cmd = maven_command(cfg, tmp, mvn=mvn, pom=pom)
        log(f"fetching Kafka {cfg.version} broker jars from Maven Central into {cfg.libs_dir} (once)")
        t0 = time.monotonic()
        try:
            try:
                proc = subprocess.run(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=timeout,
                    env=None if env is None else dict(env),
                    cwd=version_dir,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise DownloadError(
                    f"Maven did not finish fetching the Kafka jars within {timeout:.0f}s.\n"
                    f"Check access to https://repo.maven.apache.org and retry; the command was:\n"
                    f"  {' '.join(cmd)}"
                ) from None
            except OSError as e:
                raise DownloadError(f"could not run Maven ({cmd[0]}): {e}") from None
            if proc.returncode != 0:
                raise DownloadError(
                    f"Maven could not fetch the Kafka {cfg.version} broker jars "
                    f"(exit code {proc.returncode}). Last lines of its output:\n"
                    f"{tail_text(proc.stdout, 25)}\n"
                    f"Check access to https://repo.maven.apache.org (proxy settings go in "
                    f"~/.m2/settings.xml) and retry; the command was:\n  {' '.join(cmd)}"
                )
            wanted = [f"kafka_2.13-{cfg.version}.jar", "log4j-core-", "log4j-slf4j-impl-", "slf4j-api-"]
            names = [p.name for p in tmp.iterdir()]
            absent = [w for w in wanted if not any(n.startswith(w) for n in names)]
            if absent:
                raise DownloadError(f"Maven finished but these jars are missing: {', '.join(absent)}")
            os.rename(tmp, cfg.libs_dir)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return time.monotonic() - t0


