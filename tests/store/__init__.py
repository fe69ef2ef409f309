"""Tests of the audit store: writes, the audit log, verification, tamper evidence."""
