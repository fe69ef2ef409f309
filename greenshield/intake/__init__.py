"""One intake for ``check``, ``run``, the worker and ``POST /v1/events``: lines in, a batch of decisions out.

Pure (no store, no Kafka): :mod:`~greenshield.intake.lines` reads a line into a
candidate (BOM, blank lines, parse and validate, keyed digest; redaction on demand),
:mod:`~greenshield.intake.classify` decides each candidate against the keys already
known (new, exact duplicate, conflicting duplicate), :mod:`~greenshield.intake.decisions`
holds the decision types. The store writes a batch of decisions
(:func:`greenshield.store.batches.store_batch`); entry points load, call, store, commit.
"""
