"""Tests of sharing: subscriptions, webhook delivery, the notifier and its metrics."""
