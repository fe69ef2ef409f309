"""The store writer's thread: on PostgreSQL by default, inline on SQLite, and correct either way."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from greenshield.ingest.worker import Batch, Inline, writer_thread
from greenshield.settings import Settings

from .helpers import WorkerThread, advance, batch_verdict, open_violations, sample_lines, send_valid, stored_events, wait_until

Pipeline = Callable[..., tuple[Settings, str]]


class TestChoice:
    def test_auto_gives_postgresql_a_writer_thread_and_sqlite_none(self) -> None:
        """auto: a thread on PostgreSQL (the server works while Python decodes), none on SQLite."""
        auto = Settings.from_env({})
        assert auto.worker_writer_thread == "auto"
        assert writer_thread(auto, sqlite=False) and not writer_thread(auto, sqlite=True)

    def test_on_and_off_override_auto(self) -> None:
        """GREENSHIELD_WORKER_WRITER_THREAD=on|off decides for either store; case and spaces do not matter."""
        on = Settings.from_env({"GREENSHIELD_WORKER_WRITER_THREAD": " ON "})
        off = Settings.from_env({"GREENSHIELD_WORKER_WRITER_THREAD": "off"})
        assert writer_thread(on, sqlite=True) and writer_thread(on, sqlite=False)
        assert not writer_thread(off, sqlite=True) and not writer_thread(off, sqlite=False)

    def test_another_value_is_refused_by_name(self) -> None:
        with pytest.raises(ValueError, match="GREENSHIELD_WORKER_WRITER_THREAD='sometimes': expected one of auto, on, off"):
            Settings.from_env({"GREENSHIELD_WORKER_WRITER_THREAD": "sometimes"})


class TestInline:
    def test_a_job_runs_at_once_and_its_error_comes_back_through_the_future(self) -> None:
        """Inline runs the job before submit returns; a failure is kept for the caller, as a thread's would be."""
        ran: list[Batch] = []
        done = Inline().submit(ran.append, Batch())
        assert done.done() and done.result() is None and len(ran) == 1

        def fail(_: Batch) -> None:
            raise RuntimeError("store down")

        failed = Inline().submit(fail, Batch())
        assert failed.done() and isinstance(failed.exception(), RuntimeError)


@pytest.mark.kafka
def test_sqlite_with_a_writer_thread_still_ends_with_the_batch_verdict(pipeline: Pipeline) -> None:
    """Forced on for SQLite (where auto leaves it off), the two threads give the same verdict, every event once."""
    settings, db = pipeline()
    settings = dataclasses.replace(settings, worker_writer_thread="on")
    lines = sample_lines()
    want = batch_verdict(lines)
    with WorkerThread(settings, db) as running:
        assert isinstance(running.worker._writer, ThreadPoolExecutor)
        send_valid(settings, lines)
        advance(settings)
        assert wait_until(lambda: open_violations(db) == want), open_violations(db) ^ want
    assert stored_events(db) == len(lines)
