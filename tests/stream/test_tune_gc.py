"""The worker process collects garbage less often than CPython's default, and the command sets it."""

from __future__ import annotations

import gc

from greenshield.stream.gc_tuning import GC_THRESHOLDS, tune_gc


def test_tune_gc_sets_the_worker_thresholds() -> None:
    """After tune_gc the young generation is collected every 50,000 allocations, not 700."""
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > 700 and gc.isenabled()
    finally:
        gc.set_threshold(*saved)


def test_the_worker_command_tunes_the_collector() -> None:
    """`greenshield worker` calls tune_gc before it starts consuming."""
    import inspect

    from greenshield.commands import worker

    source = inspect.getsource(worker.run)
    assert "tune_gc()" in source and source.index("tune_gc()") < source.index("worker.start()")
