"""Tests of the transparency log: tiles, checkpoints, and Go's sumdb/tlog client against them."""
