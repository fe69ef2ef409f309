"""The enterprise SDK: validate, sign, key and send parcel events to Kafka."""
