"""The audit store: schema, writes, the sequencer that integrates and signs, verify, queries, retention."""
