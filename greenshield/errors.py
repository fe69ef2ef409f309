"""The root of Green Shield's exceptions, one subclass per package, and the exit codes.

Every exception the package defines derives from :class:`GreenShieldError` (and keeps
its standard-library base, so ``except ValueError`` still catches it). The console
script catches the root once and exits with the error's ``exit_code``.
"""

from __future__ import annotations

USAGE_ERROR = 2  # exit status of a bad command line or configuration (argparse's own)


class GreenShieldError(Exception):
    """Any failure Green Shield itself reports; ``exit_code`` is the console script's exit status for it."""

    exit_code: int = 1


class SettingsError(GreenShieldError, ValueError):
    """A ``GREENSHIELD_*`` variable or credentials file that cannot be used; the message names it."""

    exit_code = USAGE_ERROR


class RulesError(GreenShieldError):
    """``greenshield.rules``: the rule core (parsing, timestamps, canonical forms, split checks)."""


class TranslogError(GreenShieldError):
    """``greenshield.translog``: Merkle proofs, checkpoints, tiles and keys."""


class StoreError(GreenShieldError):
    """``greenshield.store``: the audit store's database and schema."""


class StreamError(GreenShieldError):
    """``greenshield.stream``: the stream worker, topics, control messages and principals."""


class SdkError(GreenShieldError):
    """``greenshield.sdk``: the enterprise producer and its signatures."""


class ShareError(GreenShieldError):
    """``greenshield.share``: subscriptions of departments and their delivery."""


class EpcisError(GreenShieldError):
    """``greenshield.epcis``: the EPCIS / GS1 Digital Link mapping."""


class DevtoolsError(GreenShieldError):
    """``greenshield.devtools``: the local broker and process supervision."""
