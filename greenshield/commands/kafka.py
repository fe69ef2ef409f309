"""``greenshield kafka up|down|status``: a local single-node Kafka broker for development and tests."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "kafka",
        help="run a local single-node Kafka broker (no Docker; needs Java 17 and Maven)",
        description=(
            "Run a real Apache Kafka broker (KRaft, broker+controller in one JVM) on loopback. "
            "The broker jars are fetched once from Maven Central into GREENSHIELD_KAFKA_CACHE "
            "(default ~/.cache/greenshield/kafka)."
        ),
    )
    actions = parser.add_subparsers(dest="kafka_action", metavar="ACTION")
    actions.required = True
    up = actions.add_parser("up", help="start the broker (no-op when a healthy one runs) and print its address")
    down = actions.add_parser("down", help="stop the broker this data dir's pid file names")
    status = actions.add_parser("status", help="report running/unhealthy/stopped; exit 0 only when healthy")
    for p in (up, down, status):
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
    up.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness (default 120)")
    down.add_argument("--timeout", type=float, default=60.0, help="seconds before SIGTERM becomes SIGKILL (default 60)")
    status.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for an answer (default 10)")
    parser.set_defaults(func=run)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from greenshield.ingest import broker
    from greenshield.settings import Settings

    try:
        settings = Settings.from_env()
        cfg = broker.BrokerConfig.from_settings(
            settings,
            host=args.host,
            port=args.port,
            controller_port=args.controller_port,
            data_dir=args.data_dir,
        )
    except ValueError as e:
        _err(f"error: {e}")
        return 2
    except broker.BrokerError as e:
        _err(f"error: {e}")
        return 2

    action: str = args.kafka_action
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
