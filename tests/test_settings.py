"""The one settings object: read from a mapping, secrets never shown."""

from __future__ import annotations

import pytest

from greenshield.settings import Settings


class TestSettings:
    def test_secrets_never_appear_in_repr(self) -> None:
        """HMAC key, control key and Kafka SASL password stay out of repr and str."""
        s = Settings.from_env({"GREENSHIELD_HMAC_KEY": "hmac-s3cret", "GREENSHIELD_CONTROL_KEY": "ctl-s3cret",
                               "GREENSHIELD_KAFKA_SECURITY_SASL_PLAIN_PASSWORD": "sasl-s3cret"})
        text = repr(s) + str(s)
        for secret in ("hmac-s3cret", "ctl-s3cret", "sasl-s3cret"):
            assert secret not in text
        assert s.kafka_security["sasl_plain_password"] == "sasl-s3cret"
        assert s.hmac_key.reveal() == "hmac-s3cret"

    def test_a_bad_integer_names_the_variable(self) -> None:
        """A malformed number says which variable and what it holds."""
        with pytest.raises(ValueError, match="GREENSHIELD_KAFKA_PORT='x'"):
            Settings.from_env({"GREENSHIELD_KAFKA_PORT": "x"})
