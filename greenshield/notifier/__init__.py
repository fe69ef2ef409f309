"""``greenshield notifier``: violations in from Kafka, signed webhooks out to departments."""
