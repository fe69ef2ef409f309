"""Subcommands of the ``greenshield`` console script, one module each."""
