"""``greenshield serve``: the regulator and auditor service (API, dashboard) with uvicorn."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from greenshield.commands.startup import STARTUP_ERRORS, setup_logging
from greenshield.errors import USAGE_ERROR


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the API and dashboard (FastAPI + uvicorn)",
                       description="Serve /v1 (OpenAPI at /openapi.json, token needed), the regulator dashboard at / "
                                   "and the auditor page at /auditor. Tokens: `greenshield tokens create`.")
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the store (default: GREENSHIELD_DB_URL)")
    p.add_argument("--host", help="address to listen on (default: GREENSHIELD_API_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: GREENSHIELD_API_PORT, 8000)")
    p.add_argument("--ingest", choices=("embedded", "streaming"),
                   help="POST /v1/events: straight to the store, or to Kafka (default: GREENSHIELD_API_INGEST_MODE)")
    p.add_argument("--metrics-port", type=int, metavar="PORT",
                   help="Prometheus metrics port (default: GREENSHIELD_API_METRICS_PORT, 9109; 0: none)")
    p.add_argument("--no-topics-check", action="store_true",
                   help="streaming mode: start even if the Kafka topics are missing (a read-only service, e.g. the "
                        "embedded demo's dashboard; POST /v1/events then answers 503)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import uvicorn

    from greenshield.api.app import create_app
    from greenshield.api.limits import server_config
    from greenshield.settings import Settings

    try:
        settings = Settings.from_env()
        changes = {k: v for k, v in (("db_url", args.db), ("api_host", args.host), ("api_port", args.port),
                                     ("api_ingest_mode", args.ingest), ("api_metrics_port", args.metrics_port))
                   if v is not None}
        settings = dataclasses.replace(settings, **changes)
        setup_logging(settings.log_level)
        if settings.api_ingest_mode == "streaming" and not getattr(args, "no_topics_check", False):
            check_streaming_topics(settings)
        app = create_app(settings)
    except STARTUP_ERRORS + (RuntimeError,) as err:
        print(f"greenshield serve: {err}", file=sys.stderr)
        return USAGE_ERROR
    if settings.api_metrics_port:
        app.state.service.metrics.serve(settings.api_metrics_port, settings.api_host)
    print(f"greenshield serve: http://{settings.api_host}:{settings.api_port}/ ({settings.api_ingest_mode} ingest)",
          file=sys.stderr)
    uvicorn.Server(server_config(app, settings)).run()
    return 0


def check_streaming_topics(settings: Any) -> None:
    """Streaming ingest publishes events, registry records and rejects: their topics must exist as specified."""
    from greenshield.stream.topics import ensure_topics

    ensure_topics(settings, ("events", "registry", "rejects"), client_id="greenshield-serve")
