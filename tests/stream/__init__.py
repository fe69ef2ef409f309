"""Tests of the stream pipeline on a real broker: the worker, its consumer and producer, faults."""
