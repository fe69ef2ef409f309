"""Development tools: a local Kafka broker, process supervision. Not part of the production image."""
