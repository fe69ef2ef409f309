"""The transparency log's arithmetic: RFC 6962 Merkle trees, proofs, checkpoints, tiles, entry bytes, keys (no SQL)."""
