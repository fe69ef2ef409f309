"""The decoder as it was before issue 16 (commit f08d641), frozen: the oracle the fast decoder is compared with.

Only ``parse``, ``privacy``, ``dedup`` and ``timestamps`` are copies; the modules they import
that issue 16 did not change (formats, documents, model) are the live ones.
"""
