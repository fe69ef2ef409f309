"""The stream worker and its Kafka parts: consumer, partitions, watermark, registry feed, control, topics."""
