"""The local Kafka broker's configuration: where it runs, its server and log4j2 files, its command lines."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from greenshield.errors import DevtoolsError
from greenshield.settings import Settings

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


class BrokerError(DevtoolsError):
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


class ProbeError(DevtoolsError):
    """The broker did not answer a client request."""


# --------------------------------------------------------------------------- config


class _InDataDir:
    """A path attribute of a :class:`BrokerConfig`: the entry of this name in its data dir."""

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, cfg: None, owner: type[BrokerConfig]) -> _InDataDir: ...

    @overload
    def __get__(self, cfg: BrokerConfig, owner: type[BrokerConfig]) -> Path: ...

    def __get__(self, cfg: BrokerConfig | None, owner: type[BrokerConfig]) -> Path | _InDataDir:
        return self if cfg is None else cfg.data_dir / self.name


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

    # the broker's files and directories, all in its data dir
    server_properties = _InDataDir("server.properties")
    log4j_config = _InDataDir("log4j2.properties")
    log_file = _InDataDir("broker.log")
    stdout_file = _InDataDir("broker.out")
    pid_file = _InDataDir("broker.pid")
    cluster_id_file = _InDataDir("cluster.id")
    storage_dir = _InDataDir("kraft")
    lock_file = _InDataDir("greenshield.lock")
    credentials_dir = _InDataDir("credentials")  # ``--secure``: the credentials files (mode 0600)

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
    from greenshield.stream.principals import write_private

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


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (22 chars)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):  # Kafka avoids ids that look like a CLI flag
            return cid


