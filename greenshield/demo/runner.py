"""``greenshield demo``: set up, start the pipeline's processes, stream a simulated day, show it, stop by pid.

Kafka mode::

    broker        the one answering at the settings' address, else `greenshield kafka up` (stopped at the end)
    topics        gs.demo-<run>.{events,registry,violations,rejects}.v1, this run's own (deleted at the end)
    worker        greenshield worker --db sqlite:///<data dir>/greenshield.db     (child process)
    service       greenshield serve  --db ... --ingest streaming                  (child process)
    this process  the simulated day through the producer SDK, the display

Embedded mode: no broker, topics or worker; this process stores the day through
:mod:`greenshield.demo.embedded` and the service is its only child. The children's
settings, and why the worker has no wall-clock backstop: docs/adr/0025-demo-stream-time.md.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from types import FrameType
from typing import IO, Any

from greenshield.demo.options import DemoOptions
from greenshield.demo.orchestrator import (
    STORE_FILE,
    BrokerUse,
    DemoError,
    DemoState,
    command_name,
    ensure_broker,
    greenshield_argv,
    http_ok,
    log_has,
    prepare_data_dir,
    stop_broker,
    wait_until,
)
from greenshield.demo.progress import Counters, Progress, StoreView
from greenshield.devtools.process import Children, free_port, port_free, start_time

ENTERPRISES = ("E3100001", "E3100002", "E3200001", "E3300001", "E3300002")  # the simulated network's


class Stop:
    """SIGINT/SIGTERM: the first asks the demo to stop; a second one to hurry (shorter waits)."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.hurry = threading.Event()
        self._saved: dict[int, Any] = {}

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._saved[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.requested.is_set():
            self.hurry.set()
        self.requested.set()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Demo:
    def __init__(self, options: DemoOptions, out: IO[str] | None = None) -> None:
        self.o = options
        self._saving = threading.Lock()  # the display thread saves the state too (the first violation)
        self._owns_dir = False
        self.out = out or sys.stdout
        self.stop = Stop()
        self.counters = Counters()
        self.children = Children(on_change=self._save)
        self.data_dir = options.data_dir
        self.abs_dir = options.data_dir.resolve()
        self.db_url = f"sqlite:///{self.abs_dir / STORE_FILE}"
        self.shown_db = f"sqlite:///{options.data_dir / STORE_FILE}"  # as the user typed the dir
        self.run_id = secrets.token_hex(3)
        self.state = DemoState(self.run_id, options.mode, os.getpid(), start_time(os.getpid()),
                               db_url=self.db_url, started_at=_now())
        self.broker: BrokerUse | None = None
        self.progress: Progress | None = None
        self.view: StoreView | None = None
        self.topics_made = False
        self.settings: Any = None
        self.env: dict[str, str] = {}
        self.gs = command_name()
        self.started = time.monotonic()
        self.audit: Any = None  # embedded mode: this process's open audit store

    # ----------------------------------------------------------------- output

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress.note(message)
        else:
            print(message, file=self.out, flush=True)

    def _save(self) -> None:
        with self._saving:
            self._save_locked()

    def _save_locked(self) -> None:
        self.state.children = [c.record() for c in self.children.children]
        if self.progress is not None and self.progress.first_violation is not None:
            self.state.first_violation_seconds = round(self.progress.first_violation, 1)
        self.state.events_sent = self.counters.sent
        if self._owns_dir:  # never over another run's state file
            self.state.save(self.abs_dir)

    # ----------------------------------------------------------------- the run

    def run(self) -> int:
        o = self.o
        self.stop.install()
        status = 0
        ended = "stopped"
        try:
            earlier = DemoState.load(self.abs_dir)
            prepare_data_dir(self.abs_dir, self.say)
            self._owns_dir = True
            self._save()
            self._settings()
            self.say(f"绿盾 Green Shield demo, {o.mode} mode: a simulated Double 11 day in Shanghai, Jiangsu and "
                     f"Zhejiang\n  {o.parcels:,} parcels at {o.rate:,.0f} events/s, faults {o.fault_rate:.0%}, noise "
                     f"{o.noise_rate:.0%}, seed {o.seed}; "
                     + (f"streams for {o.duration:.0f}s" if o.duration is not None else
                        f"the day takes about {o.parcels * 11 / o.rate / 60:.0f} min, then the dashboard stays up")
                     + f"\n  data in {self.data_dir} (store {self.shown_db})")
            tokens = self._store()
            if not o.embedded:
                self._kafka(earlier.broker if earlier else None)
            self._serve()
            self._greet(tokens)
            ended = self._stream()
        except DemoError as err:
            self.say(f"greenshield demo: {err}")
            status = 1
        except KeyboardInterrupt:
            pass
        finally:
            self._shutdown(ended)
            self.stop.restore()
        return status

    def _settings(self) -> None:
        from greenshield.settings import Secret, Settings
        from greenshield.translog.keys import KeyConfigError, control_key, sender_key

        o = self.o
        try:
            base = Settings.from_env()
            # the data directory's (or the configured) key: a later `replay` on the demo's data agrees with it
            control = control_key(dataclasses.replace(base, data_dir=self.abs_dir)).decode()
            sender = sender_key(dataclasses.replace(base, data_dir=self.abs_dir)).decode()
        except (ValueError, KeyConfigError, OSError) as err:
            raise DemoError(str(err)) from None
        changes: dict[str, Any] = {
            "data_dir": self.abs_dir, "db_url": self.db_url, "topic_prefix": f"gs.demo-{self.run_id}.",
            "worker_group": f"greenshield-demo-{self.run_id}", "control_key": Secret(control),
            "sender_key": Secret(sender), "backstop_idle_seconds": 0}
        env = {"GREENSHIELD_DATA_DIR": str(self.abs_dir), "GREENSHIELD_DB_URL": self.db_url,
               "GREENSHIELD_TOPIC_PREFIX": changes["topic_prefix"], "GREENSHIELD_WORKER_GROUP": changes["worker_group"],
               "GREENSHIELD_CONTROL_KEY": control, "GREENSHIELD_SENDER_KEY": sender,
               "GREENSHIELD_BACKSTOP_IDLE_SECONDS": "0"}
        if o.bootstrap:
            host, _, port = o.bootstrap.split(",")[0].rpartition(":")
            if not host or not port.isdigit():
                raise DemoError(f"--bootstrap {o.bootstrap!r}: expected HOST:PORT")
            changes.update(kafka_host=host.strip("[]"), kafka_port=int(port))
        self.settings = dataclasses.replace(base, **changes)
        env.update(GREENSHIELD_KAFKA_HOST=self.settings.kafka_host, GREENSHIELD_KAFKA_PORT=str(self.settings.kafka_port))
        self.env = {**os.environ, **env}
        self.state.topic_prefix = "" if o.embedded else self.settings.topic_prefix

    def _store(self) -> dict[str, str]:
        """Create the store and the keys before any child opens them; issue the demo's tokens."""
        from greenshield.store import stats, tokens
        from greenshield.store.database import SchemaError
        from greenshield.store.pipeline import open_audit
        from greenshield.translog.keys import KeyConfigError

        try:
            audit = open_audit(self.settings)
        except (KeyConfigError, SchemaError, OSError, ValueError) as err:
            raise DemoError(f"cannot open the store {self.shown_db}: {err}") from None
        tokens.ensure_tables(audit.store)
        stats.ensure_tables(audit.store)
        issued = {role: tokens.create(audit.store, role, None, "greenshield demo")[1] for role in ("regulator", "auditor")}
        if self.o.embedded:
            self.audit = audit
        else:
            audit.close()  # the worker is the store's pipeline
            self.audit = None
        return issued

    def _kafka(self, earlier_broker: dict[str, Any] | None) -> None:
        from greenshield.sdk.clients import kafka_errors
        from greenshield.stream.topics import TopicsError, admin_client, create_topics, topic_specs

        o, s = self.o, self.settings
        if o.bootstrap:
            self.broker = BrokerUse(o.bootstrap, False)
            self.say(f"Kafka: using the broker at {o.bootstrap} (--bootstrap); the demo leaves it running")
        else:
            self.broker = ensure_broker(s, self.env, self.stop.requested.is_set, self.say, sys.stderr, earlier_broker)
        self.state.bootstrap = self.broker.bootstrap
        self.state.broker = dataclasses.asdict(self.broker)
        self._save()
        if self.stop.requested.is_set():
            raise KeyboardInterrupt
        try:
            admin = admin_client(s, self.broker.bootstrap, "greenshield-demo-admin")
            try:
                create_topics(admin, topic_specs(s), s.topic_replication)
            finally:
                admin.close()
        except kafka_errors() + (TopicsError,) as err:
            raise DemoError(f"cannot create the topics at {self.broker.bootstrap}: {err}") from None
        self.topics_made = True
        self.say(f"Kafka: topics {s.topic_prefix}{{events,registry,violations,rejects}}.v1 created")
        worker = self.children.spawn(
            "worker", greenshield_argv("worker", "--db", self.db_url, "--bootstrap", self.broker.bootstrap,
                                       "--metrics-port", "0"),
            self.env, self.abs_dir / "logs" / "worker.log")
        wait_until(log_has(worker.log, "greenshield worker: consuming"), 120, "the worker was starting", worker,
                   self.children, self.stop.requested.is_set)
        self.say(f"worker: pid {worker.pid}, group {s.worker_group} (log {self.data_dir}/logs/worker.log)")

    def _serve(self) -> None:
        o, s = self.o, self.settings
        port = o.port
        if port is None:
            port = s.api_port
            if not port_free(o.host, port):
                taken, port = port, free_port(o.host)
                self.say(f"port {taken} is taken; the service uses {port} (choose one with --port)")
        elif port == 0:
            port = free_port(o.host)
        elif not port_free(o.host, port):
            raise DemoError(f"{o.host}:{port} is already in use; choose another --port (0: any free port)")
        serve = self.children.spawn(
            "service", greenshield_argv("serve", "--db", self.db_url, "--host", o.host, "--port", str(port),
                                        "--ingest", "streaming", "--metrics-port", "0",
                                        *(("--no-topics-check",) if self.o.embedded else ())),
            self.env, self.abs_dir / "logs" / "serve.log")
        base = f"http://{o.host}:{port}"
        wait_until(http_ok(f"{base}/healthz"), 60, "the service was starting", serve, self.children,
                   self.stop.requested.is_set)
        self.state.dashboard = f"{base}/"
        self._save()
        self.say(f"service: pid {serve.pid} at {base}/ (log {self.data_dir}/logs/serve.log)")

    def _greet(self, tokens: dict[str, str]) -> None:
        url = self.state.dashboard
        self.say(f"\nDashboard  {url}\n  sign in with this regulator token (paste it into the form):\n"
                 f"  regulator token: {tokens['regulator']}\n"
                 f"Auditor page  {url}auditor\n  auditor token: {tokens['auditor']}\n")

    def _stream(self) -> str:
        from greenshield.demo.streaming import EmbeddedSink, KafkaSink, Sink, stream_day
        from greenshield.rules.pack import default_pack
        from greenshield.simulate import Simulation

        o = self.o
        sim = Simulation(o.parcels, o.seed, o.fault_rate, None, o.noise_rate)
        sink: Sink
        if o.embedded:
            from greenshield.demo.embedded import EmbeddedPipeline

            sink = EmbeddedSink(EmbeddedPipeline(self.audit, default_pack(), source=f"demo:seed={o.seed}"))
        else:
            assert self.broker is not None
            sink = KafkaSink(self.settings, self.broker.bootstrap, self.counters)
        self.sink = sink
        self.view = StoreView(self.db_url)
        self.progress = Progress(self.counters, self.view, self.out, mode=o.mode, parcels=o.parcels, rate=o.rate,
                                 dashboard=self.state.dashboard, started=self.started)
        self.progress.on_first_violation = lambda _: self._save()
        self.state.state = "running"
        self._save()
        self.counters.phase = "streaming the day"
        self.progress.start()
        until = time.monotonic() + o.duration if o.duration is not None else None
        ended = stream_day(sim.timed_lines(), sim.start_ms, sink, self.counters, o.rate, self.stop.requested,
                           until)
        self._save()
        if ended == "stopped":
            return ended
        self.counters.phase = "finalising"
        sink.finish(self.counters.sim_ms, self.stop.requested)
        if self.stop.requested.is_set():
            return "stopped"
        if ended == "day complete" and o.duration is None:
            self.counters.phase = "the day is complete; Ctrl-C stops"
            self.stop.requested.wait()
            return "stopped"
        self.counters.phase = "stopping"
        self.say("the day is complete" if ended == "day complete" else f"--duration {o.duration:g}s has passed")
        return ended

    # ----------------------------------------------------------------- stopping

    def _shutdown(self, ended: str) -> None:
        hurry = self.stop.hurry.is_set
        self.state.state = "stopping"
        self._save()
        if self.progress is not None:
            self.counters.phase = "stopping"
            self.progress.stop()
            self.progress = None
        sink = getattr(self, "sink", None)
        if sink is not None:
            try:
                sink.close()
            except Exception as err:
                self.say(f"closing the producer: {err!r}")
        self.children.stop_all(30.0, self.say, hurry)
        audit = getattr(self, "audit", None)
        if audit is not None:  # embedded: the verdict up to the last stored event, then the closing checkpoint
            try:
                if ended == "stopped" and not hurry() and sink is not None:
                    sink.finish(None, threading.Event())
            finally:
                done = audit.close()
            self.say(f"audit log: {done.tree_size:,} entries, checkpoint signed")
        if self.topics_made and self.broker is not None:
            self._delete_topics()
        if self.broker is not None and self.broker.ours:
            stop_broker(self.broker, self.env, self.say)
        first = None
        if self.view is not None:
            try:
                figures = self.view.figures()
                sample = self.view.sample_waybill()
            finally:
                self.view.close()
            first = self.state.first_violation_seconds
            refused = f", {self.counters.refused:,} refused by the SDK" if not self.o.embedded else ""
            self.say(f"\n{self.counters.sent:,} lines sent{refused}; {figures.events:,} events stored, "
                     f"{figures.open_total:,} open violations, {figures.rejects:,} rejected lines"
                     + (f"; the first violation was stored {first:.0f}s after the start" if first is not None else ""))
        else:
            sample = None
        self.state.state = "stopped"
        self.state.stopped_at = _now()
        self._save()
        if self.view is not None:
            self._next_steps(sample)

    def _delete_topics(self) -> None:
        from greenshield.stream.topics import admin_client, topic_specs

        try:
            admin = admin_client(self.settings, self.broker.bootstrap if self.broker else None, "greenshield-demo-admin")
            try:
                admin.delete_topics([spec.name for spec in topic_specs(self.settings)])
            finally:
                admin.close()
        except Exception as err:  # best effort: the names are this run's own
            self.say(f"could not delete the demo's topics: {err!r}")

    def _next_steps(self, waybill: str | None) -> None:
        gs, db = self.gs, self.shown_db
        lines = [f"\nThe data stays in {self.data_dir}. Try:",
                 f"  export GREENSHIELD_DATA_DIR={self.data_dir}   # the demo's keys (HMAC, checkpoint signing)",
                 f"  {gs} violations --db {db} --open"]
        if waybill:
            lines.append(f"  {gs} trace {waybill} --db {db}")
        lines += [f"  {gs} violations --db {db} --enterprise {ENTERPRISES[0]} --open   # one enterprise's view",
                  f"  {gs} audit verify --db {db}",
                  f"  {gs} serve --db {db} --ingest streaming   # the dashboard again; the tokens above still work"]
        self.say("\n".join(lines))


def run(options: DemoOptions) -> int:
    return Demo(options).run()
