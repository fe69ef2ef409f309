"""Sharing with departments: scopes, subscriptions, Standard Webhooks delivery (the ``greenshield notifier``)."""
