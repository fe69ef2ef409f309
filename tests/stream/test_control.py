"""The replay control message: signed by the system's key, bound to its partition, forward only."""

from __future__ import annotations

import pytest

from greenshield.stream.control import ControlError, decode_advance, encode_advance, is_control
from greenshield.rules.timestamps import parse_instant

KEY = b"system-control-key"


def signed(partition: int = 3, as_of: str = "2026-11-13T00:00:00+08:00") -> tuple[bytes, list[tuple[str, bytes]]]:
    _, value, headers = encode_advance(KEY, as_of, partition, "2026-11-29T00:00:00Z")
    return value, headers


class TestControl:
    def test_a_signed_message_advances_its_partition(self) -> None:
        """The worker reads back the instant it was told."""
        value, headers = signed()
        assert is_control(headers)
        advance = decode_advance(KEY, value, headers, 3)
        assert advance.as_of == parse_instant("2026-11-13T00:00:00+08:00")

    def test_another_key_cannot_send_one(self) -> None:
        """A message signed with any other key (an enterprise's guess) is refused."""
        _, value, headers = encode_advance(b"enterprise-guess", "2026-11-13T00:00:00Z", 3, "x")
        with pytest.raises(ControlError, match="signature"):
            decode_advance(KEY, value, headers, 3)

    def test_a_tampered_instant_breaks_the_signature(self) -> None:
        """Changing as_of after signing is detected."""
        value, headers = signed()
        with pytest.raises(ControlError, match="signature"):
            decode_advance(KEY, value.replace(b"2026-11-13", b"2027-11-13"), headers, 3)

    def test_a_message_for_another_partition_is_refused(self) -> None:
        """Each partition gets its own message; copying one elsewhere does nothing."""
        value, headers = signed(partition=3)
        with pytest.raises(ControlError, match="partition 3 arrived on 4"):
            decode_advance(KEY, value, headers, 4)

    def test_a_worker_without_a_key_refuses_every_control_message(self) -> None:
        """No GREENSHIELD_CONTROL_KEY on the worker: nothing can move its clock."""
        value, headers = signed()
        with pytest.raises(ControlError, match="no control key"):
            decode_advance(b"", value, headers, 3)

    def test_sending_needs_a_key(self) -> None:
        """replay without a control key fails before sending anything."""
        with pytest.raises(ValueError, match="GREENSHIELD_CONTROL_KEY"):
            encode_advance(b"", "2026-11-13T00:00:00Z", 0, "x")


class TestHostileHeaders:
    """Whatever a producer puts in the headers or the value is a ControlError (one reject), never another
    exception (issue 14: a null or non-ASCII gs-signature killed every worker)."""

    @pytest.mark.parametrize("headers", [
        [("gs-control", b"advance-v1"), ("gs-signature", None)],                 # was AttributeError
        [("gs-control", b"advance-v1"), ("gs-signature", b"\xff\xfe" * 32)],     # was TypeError (compare_digest)
        [("gs-control", b"advance-v1"), ("gs-signature", "not bytes")],
        [("gs-control", b"advance-v1")],
        [("gs-control", None), ("gs-signature", b"00")],
        [("gs-control", b"\xff" * 5000)],
        [("gs-control", b"advance-v1"), ("gs-signature", b"00"), 17, ("x",), None],
    ])
    def test_odd_headers_are_a_control_error(self, headers: list) -> None:  # type: ignore[type-arg]
        value, _ = signed()
        with pytest.raises(ControlError) as err:
            decode_advance(KEY, value, headers, 3)
        assert len(str(err.value)) < 200

    def test_a_duplicated_signature_header_is_refused_even_when_valid(self) -> None:
        """Two gs-signature headers: which one counts is ambiguous, so neither does."""
        value, headers = signed()
        with pytest.raises(ControlError, match="2 gs-signature headers"):
            decode_advance(KEY, value, headers + [headers[1]], 3)

    @pytest.mark.parametrize("value", [None, b"", b"{", b"[]", b"\xff\xfe", b'{"v": 1}'])
    def test_null_truncated_or_foreign_values_are_a_control_error(self, value: bytes | None) -> None:
        _, headers = signed()
        with pytest.raises(ControlError):
            decode_advance(KEY, value, headers, 3)

    def test_a_replayed_message_still_verifies(self) -> None:
        """Replays are harmless (the clock only moves forward), so not a reject: decided in the module docstring."""
        value, headers = signed()
        assert decode_advance(KEY, value, headers, 3) == decode_advance(KEY, value, headers, 3)

    def test_is_control_is_total(self) -> None:
        assert not is_control([17, None, ("a",), (b"gs-control", b"x")])
        assert is_control([("gs-control", None)])
        assert not is_control(None) and not is_control(42)  # type: ignore[arg-type]
