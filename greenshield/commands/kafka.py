"""``greenshield kafka up|down|status``: a local single-node Kafka broker for development and tests."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from greenshield.commands.startup import STARTUP_ERRORS
from greenshield.errors import USAGE_ERROR


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "kafka",
        help="run a local single-node Kafka broker (no Docker; needs Java 17 and Maven)",
        description=(
            "Run a real Apache Kafka broker (KRaft, broker+controller in one JVM) on loopback. "
            "The broker jars are fetched once from Maven Central into GREENSHIELD_KAFKA_CACHE_DIR "
            "(default ~/.cache/greenshield/kafka)."
        ),
    )
    actions = parser.add_subparsers(dest="kafka_action", metavar="ACTION")
    actions.required = True
    up = actions.add_parser("up", help="start the broker (no-op when a healthy one runs) and print its address")
    down = actions.add_parser("down", help="stop the broker this data dir's pid file names")
    status = actions.add_parser("status", help="report running/unhealthy/stopped; exit 0 only when healthy")
    acl = actions.add_parser(
        "acl", help="make the pipeline's principals (SCRAM users) and their ACLs on a secure broker",
        description="Create or update the SCRAM users and ACLs of the system principals (worker, registry-feed, "
                    "api, tools) and of each --enterprise, and write one credentials file per principal "
                    "(mode 0600). Re-running keeps existing passwords. Needs the super user: the local secure "
                    "broker's credentials/admin.json, or GREENSHIELD_KAFKA_CREDENTIALS for another broker.")
    acl.add_argument("--enterprise", action="append", default=[], metavar="E1234567",
                     help="an enterprise to admit (repeatable): it may write its own events, nothing else")
    acl.add_argument("--no-system", action="store_true", help="leave the system principals alone")
    acl.add_argument("--credentials-dir", type=Path,
                     help="where the credentials files go (default: the broker data dir's credentials/)")
    acl.add_argument("--bootstrap", help="broker address (default: the local broker's)")
    for p in (up, down, status, acl):
        p.add_argument("--host", help="listen/advertise address (default: GREENSHIELD_KAFKA_HOST or 127.0.0.1)")
        p.add_argument("--port", type=int, help="client port (default: GREENSHIELD_KAFKA_PORT or 19092)")
        p.add_argument(
            "--controller-port",
            type=int,
            help="KRaft controller port (default: --port + 1, else GREENSHIELD_KAFKA_CONTROLLER_PORT or 19093)",
        )
        p.add_argument(
            "--data-dir",
            type=Path,
            help="the broker's data directory (default: $GREENSHIELD_DATA_DIR/kafka, i.e. var/kafka)",
        )
    up.add_argument("--fresh", action="store_true", help="wipe the data dir first (topics and offsets are lost)")
    up.add_argument("--secure", action="store_true",
                    help="SASL/SCRAM logins, the StandardAuthorizer and the pipeline's ACLs; credentials files "
                         "are made in the data dir's credentials/ (see `greenshield kafka acl`)")
    up.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness (default 120)")
    down.add_argument("--timeout", type=float, default=60.0, help="seconds before SIGTERM becomes SIGKILL (default 60)")
    status.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for an answer (default 10)")
    parser.set_defaults(func=run)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from greenshield.settings import Settings

    try:
        from greenshield.devtools import kafka_broker as broker
    except ImportError:  # an installation without the development tools (the Docker image)
        if args.kafka_action != "acl":
            _err(f"error: `greenshield kafka {args.kafka_action}` runs a local development broker, and this "
                 "installation has no greenshield.devtools (the Docker image leaves it out)")
            return USAGE_ERROR
        return _acl(args, Settings.from_env(), None)
    try:
        settings = Settings.from_env()
        cfg = broker.BrokerConfig.from_settings(
            settings,
            host=args.host,
            port=args.port,
            controller_port=args.controller_port,
            data_dir=args.data_dir,
            secure=True if getattr(args, "secure", False) else None,
        )
    except STARTUP_ERRORS as e:  # a bad setting or option, a broker that cannot be set up (BrokerError)
        _err(f"error: {e}")
        return USAGE_ERROR

    action: str = args.kafka_action
    if action == "acl":
        return _acl(args, settings, cfg)
    try:
        if action == "up":
            res = broker.up(cfg, fresh=args.fresh, ready_timeout=args.timeout, log=_err)
            if res.already_running:
                _err(f"Kafka broker already running (pid {res.pid}) at {res.bootstrap}")
            else:
                if res.download_seconds is not None:
                    _err(f"fetched broker jars in {res.download_seconds:.1f}s")
                _err(
                    f"Kafka {cfg.version} broker ready at {res.bootstrap} "
                    f"(pid {res.pid}, started in {res.startup_seconds or 0:.1f}s; log {cfg.log_file})"
                )
            if cfg.secure:
                files = _system_principals(settings, cfg)
                _err(f"secure broker: super user {cfg.admin_credentials}; principals' credentials in "
                     f"{cfg.credentials_dir} ({len(files)} system files; add enterprises with "
                     "`greenshield kafka acl --enterprise E1234567`)")
            print(res.bootstrap, flush=True)
            return 0
        if action == "down":
            d = broker.down(cfg, timeout=args.timeout, log=_err)
            if d.stopped:
                how = "killed after the shutdown timeout" if d.forced else "stopped"
                _err(f"Kafka broker pid {d.pid} {how}")
            else:
                _err(d.detail)
            return 0
        st = broker.status(cfg, timeout=args.timeout)
        line = f"{st.state}"
        if st.pid is not None:
            line += f" pid {st.pid}"
        line += f" at {st.bootstrap}"
        if st.detail:
            line += f" ({st.detail})"
        print(line, flush=True)
        return 0 if st.healthy else 1
    except broker.BrokerError as e:
        _err(f"error: {e}")
        return e.exit_code


def _system_principals(settings: Any, cfg: Any, enterprises: list[str] | None = None, system: bool = True,
                       directory: Path | None = None, bootstrap: str | None = None) -> list[Path]:
    from greenshield.stream import principals
    from greenshield.stream.topics import admin_client
    from greenshield.translog.keys import sender_key

    if cfg is None:  # no local broker to default to: the configured broker, its login, a given directory
        if directory is None:
            raise ValueError("--credentials-dir is required without a local broker")
        admin = admin_client(settings, bootstrap or settings.kafka_bootstrap, "greenshield-acl")
        try:
            return principals.apply(admin, _wanted(principals, enterprises, system), settings, directory,
                                    sender_key(settings) if enterprises else b"")
        finally:
            admin.close()
    wanted = _wanted(principals, enterprises, system)
    master = sender_key(settings) if enterprises else b""
    # the local secure broker's own super user, unless another broker is named (then the configured login)
    security = cfg.client_security() if cfg.secure and bootstrap is None else dict(settings.kafka_security)
    admin = admin_client(dataclasses.replace(settings, kafka_security=security), bootstrap or cfg.bootstrap,
                         "greenshield-acl")
    try:
        return principals.apply(admin, wanted, settings, directory or cfg.credentials_dir, master)
    finally:
        admin.close()


def _wanted(principals: Any, enterprises: list[str] | None, system: bool) -> list[Any]:
    wanted = [principals.system(role) for role in principals.SYSTEM_ROLES] if system else []
    return wanted + [principals.enterprise(e) for e in enterprises or []]


def _acl(args: argparse.Namespace, settings: Any, cfg: Any) -> int:
    from greenshield.sdk.clients import kafka_errors

    if cfg is None and not settings.kafka_security:
        _err("error: GREENSHIELD_KAFKA_CREDENTIALS names no super user for the broker")
        return USAGE_ERROR
    if cfg is not None and not settings.kafka_security and not cfg.secure:
        _err(f"error: {cfg.data_dir} holds no secure broker (start one with `greenshield kafka up --secure`), "
             "and GREENSHIELD_KAFKA_CREDENTIALS names no super user for another one")
        return USAGE_ERROR
    try:
        files = _system_principals(settings, cfg, args.enterprise, not args.no_system, args.credentials_dir,
                                   args.bootstrap)
    except STARTUP_ERRORS as e:  # PrincipalError, KeyConfigError, BrokerError, a bad file or value
        _err(f"error: {e}")
        return USAGE_ERROR
    except kafka_errors() as e:
        _err(f"error: the broker refused: {e!r}")
        return 1
    for path in files:
        print(path, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m greenshield.commands.kafka up|down|status``: the same, without the other subcommands."""
    parser = argparse.ArgumentParser(prog="greenshield")
    register(parser.add_subparsers(dest="command", required=True))
    rest = list(sys.argv[1:] if argv is None else argv)
    if rest[:1] == ["kafka"]:  # so it can stand in for the `greenshield` script
        rest = rest[1:]
    args = parser.parse_args(["kafka", *rest])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
