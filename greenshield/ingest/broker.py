"""A local single-node Apache Kafka broker (KRaft) for development and tests.

No Docker needed: the official broker jars come from Maven Central (fetched once
with Maven into a cache directory, see ``deploy/kafka/pom.xml``) and run on the
local Java 17 as one process that is both broker and controller, listening on
loopback only.

Everything the broker writes lives in one data directory::

    <data dir>/server.properties   rendered broker config
    <data dir>/log4j2.properties   rendered logging config
    <data dir>/broker.log          the broker's own log (log4j2)
    <data dir>/broker.out          JVM stdout/stderr (crashes, GC warnings)
    <data dir>/broker.pid          pid of the running broker
    <data dir>/cluster.id          KRaft cluster id, kept across restarts
    <data dir>/kraft/              topic partitions and the metadata log

Only :func:`probe` talks Kafka; it imports kafka-python lazily.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from greenshield.settings import Settings

#: the POM that lists the broker jars (in a source checkout)
POM_PATH = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "pom.xml"

#: Debian/Ubuntu packages that provide each tool
PACKAGES: Mapping[str, str] = {"java": "openjdk-17-jre-headless", "mvn": "maven"}
INSTALL_HINT = "sudo apt-get install -y openjdk-17-jre-headless maven"
MIN_JAVA = 17

READY_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0
DOWNLOAD_TIMEOUT = 900.0

#: JVM flags for a 2-core box: small fixed heap floor, G1 with Kafka's own tuning, no JMX
JVM_OPTS: tuple[str, ...] = (
    "-Xms256m",
    "-Xmx1g",
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)

_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]", "*"})

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


class BrokerError(Exception):
    """The broker could not be started, checked or stopped; the message says why."""

    exit_code = 1


class MissingToolError(BrokerError):
    """java or mvn is not installed (or too old)."""

    exit_code = 2

    def __init__(self, missing: list[str], detail: str = "") -> None:
        self.missing = missing
        packages = " ".join(PACKAGES[m] for m in missing if m in PACKAGES) or " ".join(PACKAGES.values())
        what = " and ".join(f"`{m}`" for m in missing)
        msg = detail or f"{what} not found on PATH"
        super().__init__(
            f"{msg}; the local Kafka broker needs Java {MIN_JAVA}+ and Maven.\n"
            f"Install with:  sudo apt-get install -y {packages}"
        )


class DownloadError(BrokerError):
    """Maven could not fetch the broker jars."""

    exit_code = 2


class ProbeError(Exception):
    """The broker did not answer a client request."""


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class BrokerConfig:
    """Where and how the local broker runs. Paths are absolute."""

    data_dir: Path
    cache_dir: Path
    host: str = "127.0.0.1"
    port: int = 19092
    controller_port: int = 19093
    version: str = "4.0.2"
    node_id: int = 1
    offsets_partitions: int = 3
    secure: bool = False  # SASL/SCRAM on the client listener, the StandardAuthorizer, ACLs (see principals)

    def __post_init__(self) -> None:
        if self.host in _WILDCARD_HOSTS:
            raise BrokerError(
                f"refusing to bind the local broker to all interfaces ({self.host!r}); "
                "use a loopback address such as 127.0.0.1"
            )
        for name, port in (("port", self.port), ("controller port", self.controller_port)):
            if not 0 < port < 65536:
                raise BrokerError(f"{name} {port} is not a TCP port")
        if self.port == self.controller_port:
            raise BrokerError(f"broker and controller need different ports (both {self.port})")
        if not re.fullmatch(r"[0-9A-Za-z.\-]+", self.version):
            raise BrokerError(f"bad Kafka version {self.version!r}")
        object.__setattr__(self, "data_dir", Path(os.path.abspath(self.data_dir)))
        object.__setattr__(self, "cache_dir", Path(os.path.abspath(self.cache_dir)))

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        host: str | None = None,
        port: int | None = None,
        controller_port: int | None = None,
        data_dir: Path | None = None,
        secure: bool | None = None,
    ) -> BrokerConfig:
        """Settings plus CLI overrides. A port given without a controller port gets port + 1."""
        if controller_port is None:
            controller_port = port + 1 if port is not None else settings.kafka_controller_port
        where = data_dir if data_dir is not None else settings.kafka_dir
        if secure is None:  # down/status: whatever mode the data dir was made in
            secure = (where / SECURE_MARKER).exists()
        return cls(
            secure=secure,
            data_dir=where,
            cache_dir=settings.kafka_cache_dir,
            host=host if host is not None else settings.kafka_host,
            port=port if port is not None else settings.kafka_port,
            controller_port=controller_port,
            version=settings.kafka_version,
        )

    @property
    def bootstrap(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def libs_dir(self) -> Path:
        return self.cache_dir / self.version / "libs"

    @property
    def core_jar(self) -> Path:
        return self.libs_dir / f"kafka_2.13-{self.version}.jar"

    @property
    def server_properties(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log4j_config(self) -> Path:
        return self.data_dir / "log4j2.properties"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def stdout_file(self) -> Path:
        return self.data_dir / "broker.out"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def cluster_id_file(self) -> Path:
        return self.data_dir / "cluster.id"

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "kraft"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "greenshield.lock"

    @property
    def credentials_dir(self) -> Path:
        """Where ``--secure`` keeps the super user's and the principals' credentials files (mode 0600)."""
        return self.data_dir / "credentials"

    @property
    def admin_credentials(self) -> Path:
        return self.credentials_dir / "admin.json"

    def client_security(self) -> dict[str, str]:
        """The super user's client options on a secure broker (``{}`` on a plaintext one)."""
        if not self.secure:
            return {}
        from greenshield.settings import read_credentials

        try:
            return read_credentials(self.admin_credentials)[0]
        except ValueError as err:
            raise BrokerError(f"secure broker without its super user's credentials: {err}") from None


SECURE_MARKER = "secure.mode"
ADMIN_USER = "admin"


def admin_password(cfg: BrokerConfig) -> str:
    """The super user's password, made (with its credentials file) on the first secure start."""
    from greenshield.ingest.principals import write_private

    path = cfg.admin_credentials
    if not path.exists():
        cfg.credentials_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(cfg.credentials_dir, 0o700)
        doc = {"v": 1, "principal": ADMIN_USER, "role": "admin", "bootstrap": cfg.bootstrap,
               "security": {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                            "sasl_plain_username": ADMIN_USER, "sasl_plain_password": secrets.token_urlsafe(24)}}
        write_private(path, json.dumps(doc, indent=2) + "\n")
    return cfg.client_security()["sasl_plain_password"]


def render_server_properties(cfg: BrokerConfig, password: str = "") -> str:
    """The broker config: one node that is broker and controller, loopback only.

    ``secure`` (with the super user's ``password``): clients log in with SCRAM-SHA-512
    on the client listener, the controller listener takes only the super user (PLAIN:
    the controller cannot read SCRAM credentials before its own metadata), and the
    StandardAuthorizer denies whatever no ACL allows.
    """
    host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    client = "SASL_PLAINTEXT" if cfg.secure else "PLAINTEXT"
    lines = [
        "# written by `greenshield kafka up`; edits are overwritten on the next start",
        "process.roles=broker,controller",
        f"node.id={cfg.node_id}",
        f"controller.quorum.voters={cfg.node_id}@{host}:{cfg.controller_port}",
        f"listeners={client}://{host}:{cfg.port},CONTROLLER://{host}:{cfg.controller_port}",
        f"advertised.listeners={client}://{host}:{cfg.port},CONTROLLER://{host}:{cfg.controller_port}",
        f"inter.broker.listener.name={client}",
        "controller.listener.names=CONTROLLER",
        f"listener.security.protocol.map=CONTROLLER:{client},{client}:{client}",
        *(_secure_lines(password) if cfg.secure else []),
        f"log.dirs={cfg.storage_dir}",
        "num.partitions=1",
        "default.replication.factor=1",
        "min.insync.replicas=1",
        # internal topics: a single replica, and few partitions (50 is slow on 2 cores)
        "offsets.topic.replication.factor=1",
        f"offsets.topic.num.partitions={cfg.offsets_partitions}",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        f"transaction.state.log.num.partitions={cfg.offsets_partitions}",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=false",  # topics are created (`greenshield topics create`), never guessed
        "delete.topic.enable=true",
        "num.network.threads=2",
        "num.io.threads=4",
        "num.recovery.threads.per.data.dir=1",
        "log.retention.hours=168",
        "log.segment.bytes=104857600",
        "",
    ]
    return "\n".join(lines)


def _secure_lines(password: str) -> list[str]:
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,}", password):
        raise BrokerError("the super user's password must be 16+ URL-safe characters")
    jaas_plain = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
                  f'username="{ADMIN_USER}" password="{password}" user_{ADMIN_USER}="{password}";')
    jaas_scram = ("org.apache.kafka.common.security.scram.ScramLoginModule required "
                  f'username="{ADMIN_USER}" password="{password}";')
    return [
        "sasl.enabled.mechanisms=SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
        "sasl.mechanism.controller.protocol=PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        f"listener.name.controller.plain.sasl.jaas.config={jaas_plain}",
        f"listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config={jaas_scram}",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        f"super.users=User:{ADMIN_USER}",
        "allow.everyone.if.no.acl.found=false",
    ]


def render_log4j2(cfg: BrokerConfig) -> str:
    """log4j2 properties: everything to ``broker.log`` in the data dir (rolled at 50 MB)."""
    log = cfg.log_file
    return "\n".join(
        [
            "# written by `greenshield kafka up`",
            "status = warn",
            "name = greenshield-kafka",
            "appender.file.type = RollingFile",
            "appender.file.name = FILE",
            f"appender.file.fileName = {log}",
            f"appender.file.filePattern = {log}.%i",
            "appender.file.layout.type = PatternLayout",
            "appender.file.layout.pattern = [%d] %p %m (%c)%n",
            "appender.file.policies.type = Policies",
            "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
            "appender.file.policies.size.size = 50MB",
            "appender.file.strategy.type = DefaultRolloverStrategy",
            "appender.file.strategy.max = 3",
            "rootLogger.level = INFO",
            "rootLogger.appenderRef.file.ref = FILE",
            "logger.zk.name = org.apache.zookeeper",
            "logger.zk.level = WARN",
            "logger.request.name = kafka.request.logger",
            "logger.request.level = WARN",
            "",
        ]
    )


def java_command(cfg: BrokerConfig, java: str = "java") -> list[str]:
    """The command line of the broker process."""
    return [
        java,
        *JVM_OPTS,
        f"-Dlog4j2.configurationFile={cfg.log4j_config}",
        "-cp",
        f"{cfg.libs_dir}{os.sep}*",
        "kafka.Kafka",
        str(cfg.server_properties),
    ]


def format_command(cfg: BrokerConfig, cluster_id: str, java: str = "java", password: str = "") -> list[str]:
    """Format KRaft storage; ``-g`` leaves an already formatted directory alone.

    A secure broker's super user gets its SCRAM credential here, in the first metadata (KIP-900).
    """
    scram = ["--add-scram", f"SCRAM-SHA-512=[name={ADMIN_USER},password={password}]"] if cfg.secure else []
    return [
        java,
        "-Xmx512m",
        f"-Dlog4j2.configurationFile={cfg.log4j_config}",
        "-cp",
        f"{cfg.libs_dir}{os.sep}*",
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id,
        "-c",
        str(cfg.server_properties),
        "-g",
        *scram,
    ]


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


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (22 chars)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):  # Kafka avoids ids that look like a CLI flag
            return cid


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
            "`greenshield kafka up` runs from a source checkout of Green Shield"
        )
    version_dir = cfg.libs_dir.parent
    version_dir.mkdir(parents=True, exist_ok=True)
    with _locked(version_dir / "download.lock"):
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
                    f"{_tail_text(proc.stdout, 25)}\n"
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


# --------------------------------------------------------------------------- processes


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock held for the block (serialises up/down on one data dir)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_pid_file(cfg: BrokerConfig) -> int | None:
    """The pid recorded in the pid file; None when there is none (or it is garbage)."""
    try:
        text = cfg.pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    try:
        pid = int(text)
    except ValueError:
        return None
    return pid if pid > 0 else None


def _write_pid_file(cfg: BrokerConfig, pid: int) -> None:
    tmp = cfg.pid_file.with_suffix(".pid.tmp")
    tmp.write_text(f"{pid}\n")
    os.replace(tmp, cfg.pid_file)


def _remove_pid_file(cfg: BrokerConfig) -> None:
    with contextlib.suppress(FileNotFoundError):
        cfg.pid_file.unlink()


def pid_alive(pid: int) -> bool:
    """True while ``pid`` is a live process (zombies count as dead and are reaped if ours)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    state = stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else ""
    if state in ("Z", "X"):
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


def is_our_broker(pid: int, cfg: BrokerConfig) -> bool:
    """True when ``pid`` is alive and is the broker of this data dir (guards against pid reuse)."""
    if not pid_alive(pid):
        return False
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no procfs at all: trust the pid file
    except OSError:
        return False
    args = raw.decode(errors="replace").split("\0")
    return "kafka.Kafka" in args and str(cfg.server_properties) in args


def _port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
            raise BrokerError(f"cannot bind {host}:{port}: {e.strerror}") from None
    return False


def stop_process(pid: int, timeout: float = STOP_TIMEOUT) -> bool:
    """SIGTERM ``pid`` (Kafka's controlled shutdown), SIGKILL after ``timeout``; True if killed."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, timeout):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not _wait_gone(pid, 15.0):
        raise BrokerError(f"process {pid} survived SIGKILL")
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _tail_text(text: str, lines: int) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def log_tail(cfg: BrokerConfig, lines: int = 40) -> str:
    """The last lines of the broker log and of the JVM's own output, for error messages."""
    parts = []
    for path in (cfg.log_file, cfg.stdout_file):
        try:
            text = path.read_text(errors="replace")
        except FileNotFoundError:
            continue
        if text.strip():
            parts.append(f"--- last {lines} lines of {path} ---\n{_tail_text(text, lines)}")
    return "\n".join(parts) if parts else f"(no broker log in {cfg.data_dir})"


# --------------------------------------------------------------------------- probing


@contextlib.contextmanager
def _kafka_logs_silenced() -> Iterator[None]:
    """kafka-python logs every refused connection; a probe expects those."""
    logger = logging.getLogger("kafka")
    old = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(old)


def probe(bootstrap: str, *, timeout: float = 10.0, roundtrip: bool = False, group: bool = False,
          security: Mapping[str, str] | None = None) -> None:
    """Ask the broker at ``bootstrap`` for cluster metadata; raise :class:`ProbeError` if it fails.

    ``roundtrip`` also creates and deletes a throw-away topic (the controller
    works); ``group`` also looks up a group coordinator, which creates the
    offsets topic so the first consumer group does not wait for it.
    """
    host, _, port_text = bootstrap.rpartition(":")
    host = host.strip("[]")
    try:
        socket.create_connection((host, int(port_text)), timeout=min(timeout, 3.0)).close()
    except (OSError, ValueError) as e:
        raise ProbeError(f"cannot connect to {bootstrap}: {e}") from None

    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    ms = max(1000, int(timeout * 1000))
    with _kafka_logs_silenced():
        try:
            from greenshield.ingest.clients import security_options

            admin = KafkaAdminClient(
                **security_options(security or {}),
                bootstrap_servers=bootstrap,
                client_id="greenshield-probe",
                request_timeout_ms=ms,
                bootstrap_timeout_ms=ms,
                reconnect_backoff_max_ms=1000,
            )
        except (KafkaError, OSError) as e:
            raise ProbeError(f"no Kafka answer from {bootstrap}: {e!r}") from None
        try:
            meta = admin.describe_cluster()
            if not meta.get("brokers"):
                raise ProbeError(f"{bootstrap} reports no brokers yet")
            if roundtrip:
                topic = f"greenshield-probe-{uuid.uuid4().hex[:12]}"
                admin.create_topics(
                    {topic: {"num_partitions": 1, "replication_factor": 1}},
                    timeout_ms=ms,
                    wait_for_metadata=True,
                )
                admin.delete_topics([topic], timeout_ms=ms)
            if group:
                admin.describe_groups(["greenshield-probe"])
        except KafkaError as e:
            raise ProbeError(f"{bootstrap} did not serve a request: {e!r}") from None
        finally:
            admin.close()


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class BrokerStatus:
    state: str  # "running" | "unhealthy" | "stopped"
    pid: int | None
    bootstrap: str
    detail: str = ""

    @property
    def healthy(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class UpResult:
    pid: int
    bootstrap: str
    already_running: bool
    download_seconds: float | None = None
    startup_seconds: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DownResult:
    pid: int | None
    stopped: bool
    forced: bool = False
    detail: str = ""


def status(cfg: BrokerConfig, *, timeout: float = 10.0) -> BrokerStatus:
    """Running (pid alive and answering), unhealthy (alive, not answering) or stopped."""
    pid = read_pid_file(cfg)
    if pid is None:
        return BrokerStatus("stopped", None, cfg.bootstrap, f"no pid file at {cfg.pid_file}")
    if not is_our_broker(pid, cfg):
        return BrokerStatus(
            "stopped", None, cfg.bootstrap, f"stale pid file {cfg.pid_file}: pid {pid} is not this broker"
        )
    try:
        probe(cfg.bootstrap, timeout=timeout, security=cfg.client_security())
    except ProbeError as e:
        return BrokerStatus("unhealthy", pid, cfg.bootstrap, f"{e}; log: {cfg.log_file}")
    return BrokerStatus("running", pid, cfg.bootstrap)


def _looks_like_broker_dir(path: Path) -> bool:
    if not path.exists():
        return True
    entries = {p.name for p in path.iterdir()} - {"greenshield.lock"}
    known = {"server.properties", "kraft", "cluster.id", "broker.log", "broker.pid"}
    return not entries or bool(entries & known)


def _wipe(cfg: BrokerConfig) -> None:
    if not _looks_like_broker_dir(cfg.data_dir):
        raise BrokerError(f"--fresh: {cfg.data_dir} does not look like a broker data dir; not wiping it")
    for entry in cfg.data_dir.iterdir():
        if entry == cfg.lock_file:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def up(
    cfg: BrokerConfig,
    *,
    path: str | None = None,
    fresh: bool = False,
    ready_timeout: float = READY_TIMEOUT,
    pom: Path = POM_PATH,
    log: Log = _quiet,
) -> UpResult:
    """Start the broker unless a healthy one runs; block until a client can use it.

    ``path`` is the PATH to find java and mvn on (default: the environment's).
    """
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    with _locked(cfg.lock_file):
        pid = read_pid_file(cfg)
        if pid is not None:
            if is_our_broker(pid, cfg):
                try:
                    _wait_until_ready(cfg, None, min(ready_timeout, 30.0), roundtrip=False)
                except BrokerError as e:
                    raise BrokerError(
                        f"a broker (pid {pid}) runs in {cfg.data_dir} but does not answer: {e}\n"
                        "Stop it with `greenshield kafka down` and start again."
                    ) from None
                if fresh:
                    raise BrokerError(f"--fresh: a broker (pid {pid}) is running in {cfg.data_dir}; stop it first")
                return UpResult(pid, cfg.bootstrap, already_running=True)
            log(f"removing stale pid file {cfg.pid_file} (pid {pid} is not running this broker)")
            _remove_pid_file(cfg)
        if fresh:
            _wipe(cfg)

        for port in (cfg.port, cfg.controller_port):
            if _port_in_use(cfg.host, port):
                raise BrokerError(
                    f"{cfg.host}:{port} is already in use by another process; "
                    "pick other ports with --port/--controller-port"
                )

        need_mvn = not jars_present(cfg)
        tools = find_tools(path, need_mvn=need_mvn)
        env = _child_env(path)
        major = java_major_version(tools["java"], env)
        if major is not None and major < MIN_JAVA:
            raise MissingToolError(["java"], detail=f"{tools['java']} is Java {major}, too old")

        download_seconds = None
        if need_mvn:
            download_seconds = ensure_jars(cfg, mvn=tools["mvn"], pom=pom, env=env, log=log)

        formatted = (cfg.storage_dir / "meta.properties").exists()
        was_secure = (cfg.data_dir / SECURE_MARKER).exists()
        if formatted and was_secure != cfg.secure:
            made, asked = ("with", "without") if was_secure else ("without", "with")
            raise BrokerError(f"{cfg.data_dir} was made {made} --secure; it cannot start {asked} it. "
                              "Start it as it was made, or wipe it with --fresh (topics and offsets are lost)")
        password = admin_password(cfg) if cfg.secure else ""
        _write_private_text(cfg.server_properties, render_server_properties(cfg, password))
        cfg.log4j_config.write_text(render_log4j2(cfg))
        if cfg.cluster_id_file.exists():
            cluster_id = cfg.cluster_id_file.read_text().strip()
        else:
            cluster_id = new_cluster_id()
            cfg.cluster_id_file.write_text(cluster_id + "\n")

        t0 = time.monotonic()
        if not (cfg.storage_dir / "meta.properties").exists():
            log(f"formatting KRaft storage in {cfg.storage_dir}")
        fmt = subprocess.run(
            format_command(cfg, cluster_id, tools["java"], password),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            cwd=cfg.data_dir,
            timeout=120,
            check=False,
        )
        if fmt.returncode != 0:
            raise BrokerError(
                f"formatting KRaft storage failed (exit {fmt.returncode}):\n"
                f"{_tail_text(fmt.stdout + fmt.stderr, 30)}\n{log_tail(cfg, 20)}"
            )
        if cfg.secure:
            (cfg.data_dir / SECURE_MARKER).write_text("SASL/SCRAM + StandardAuthorizer\n")

        with open(cfg.stdout_file, "ab") as out:
            proc = subprocess.Popen(
                java_command(cfg, tools["java"]),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cfg.data_dir,
                env=env,
                start_new_session=True,  # Ctrl-C on the CLI must not kill it
                close_fds=True,
            )
        _write_pid_file(cfg, proc.pid)
        log(f"started broker pid {proc.pid}; waiting for it to answer at {cfg.bootstrap}")
        try:
            _wait_until_ready(cfg, proc, ready_timeout, roundtrip=True)
        except BaseException:
            if proc.poll() is None:
                with contextlib.suppress(BrokerError):
                    stop_process(proc.pid, 20.0)
            with contextlib.suppress(ChildProcessError):
                proc.wait(timeout=5)
            _remove_pid_file(cfg)
            raise
        startup = time.monotonic() - t0
        pid = proc.pid
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            del proc  # the broker outlives us on purpose
        return UpResult(pid, cfg.bootstrap, False, download_seconds, startup)


def _write_private_text(path: Path, text: str) -> None:
    """Write a file only its owner can read (a secure broker's properties hold the super user's password)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def _wait_until_ready(
    cfg: BrokerConfig, proc: subprocess.Popen[bytes] | None, timeout: float, *, roundtrip: bool
) -> None:
    deadline = time.monotonic() + timeout
    last = "no attempt yet"
    while True:
        if proc is not None and proc.poll() is not None:
            raise BrokerError(
                f"the broker exited with code {proc.returncode} while starting.\n{log_tail(cfg)}"
            )
        remaining = deadline - time.monotonic()
        try:
            probe(cfg.bootstrap, timeout=max(1.0, min(remaining, 15.0)), roundtrip=roundtrip, group=roundtrip,
                  security=cfg.client_security())
            return
        except ProbeError as e:
            last = str(e)
        if time.monotonic() >= deadline:
            raise BrokerError(
                f"the broker did not answer at {cfg.bootstrap} within {timeout:.0f}s (last error: {last}).\n"
                f"{log_tail(cfg)}"
            )
        time.sleep(0.5)


def down(cfg: BrokerConfig, *, timeout: float = STOP_TIMEOUT, log: Log = _quiet) -> DownResult:
    """Stop the broker of this data dir by its pid and remove the pid file."""
    if not cfg.data_dir.is_dir():
        return DownResult(None, False, detail=f"no broker data dir at {cfg.data_dir}")
    with _locked(cfg.lock_file):
        pid = read_pid_file(cfg)
        if pid is None:
            return DownResult(None, False, detail=f"no broker running (no pid file at {cfg.pid_file})")
        if not is_our_broker(pid, cfg):
            _remove_pid_file(cfg)
            return DownResult(None, False, detail=f"removed stale pid file {cfg.pid_file} (pid {pid} was not running)")
        log(f"stopping broker pid {pid} (controlled shutdown)")
        forced = stop_process(pid, timeout)
        _remove_pid_file(cfg)
        return DownResult(pid, True, forced=forced)
