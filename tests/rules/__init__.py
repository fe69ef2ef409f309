"""Tests of the rule core: parsing, each rule, packs, the check CLI."""
