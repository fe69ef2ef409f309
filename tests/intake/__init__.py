"""Tests of intake: classification of files, the entry points."""
