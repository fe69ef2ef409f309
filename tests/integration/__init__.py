"""Integration tests: a private Kafka broker, the SQLAlchemy round trip."""
