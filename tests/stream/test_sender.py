"""The sender check: an event is signed by its own enterprise, and nothing else passes (pure, no broker)."""

from __future__ import annotations

import hmac

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenshield.stream.decode import Candidate, Context, Reject, decode_message
from greenshield.sdk.sender import SenderError, Signer, Verifier, enterprise_key, signature

from . import hostile_corpus as hc

MASTER = b"test-master-sender-key"
A, B = "E3100001", "E3200001"


def _value(enterprise: str = A) -> bytes:
    return orjson.dumps(hc.acceptance(enterprise_id=enterprise))


class TestSignature:
    def test_it_is_rfc2104_hmac_sha256_over_domain_sender_and_value(self) -> None:
        key = enterprise_key(MASTER, A)
        value = _value()
        want = hmac.digest(key, b"gs-sender-v1\x00" + A.encode() + b"\x00" + value, "sha256").hex().encode()
        assert signature(key, A, value) == want

    def test_each_enterprise_has_its_own_key_and_the_master_is_not_one(self) -> None:
        keys = {enterprise_key(MASTER, e) for e in (A, B, "E3300001")}
        assert len(keys) == 3 and MASTER not in keys
        assert enterprise_key(b"another master", A) != enterprise_key(MASTER, A)

    @pytest.mark.parametrize("bad", ["e3100001", "E310000", "E31000011", "", "E3100001\n"])
    def test_a_key_is_only_for_an_enterprise_id(self, bad: str) -> None:
        with pytest.raises(ValueError, match="E \\+ 7 digits"):
            enterprise_key(MASTER, bad)


class TestVerifier:
    def test_its_own_enterprise_passes(self) -> None:
        value = _value()
        assert Verifier(MASTER).check(Signer.system(MASTER).headers(A, value), value, A) == (None, A)

    def test_an_enterprise_key_signs_what_the_master_verifies(self) -> None:
        """The SDK holds only its derived key; the worker only the master."""
        value = _value()
        headers = Signer.for_enterprise(A, enterprise_key(MASTER, A)).headers(A, value)
        assert Verifier(MASTER).check(headers, value, A) == (None, A)

    def test_signed_by_b_claiming_a_is_a_mismatch_labelled_b(self) -> None:
        value = _value(A)
        headers = Signer.system(MASTER).headers(B, value)
        reason, who = Verifier(MASTER).check(headers, value, A)
        assert reason is not None and reason.startswith("enterprise_mismatch: signed by E3200001")
        assert who == B

    def test_b_naming_a_with_its_own_key_does_not_verify(self) -> None:
        value = _value(A)
        forged = [("gs-sender", A.encode()), ("gs-sender-sig", signature(enterprise_key(MASTER, B), A, value))]
        reason, who = Verifier(MASTER).check(forged, value, A)
        assert reason is not None and "does not verify" in reason and who == "unknown"

    def test_a_changed_value_does_not_verify(self) -> None:
        value = _value(A)
        headers = Signer.system(MASTER).headers(A, value)
        reason, _ = Verifier(MASTER).check(headers, value.replace(b"passed", b"failed"), A)
        assert reason is not None and "does not verify" in reason

    @pytest.mark.parametrize("headers, says", [
        ([], "not signed"),
        ([("gs-sender", A.encode())], "no gs-sender-sig"),
        ([("gs-sender-sig", b"0" * 64)], "no gs-sender header"),
        ([("gs-sender", A.encode()), ("gs-sender", A.encode()), ("gs-sender-sig", b"0" * 64)], "more than once"),
        ([("gs-sender", None), ("gs-sender-sig", b"0" * 64)], "not an enterprise id"),
        ([("gs-sender", "E3100001é".encode()), ("gs-sender-sig", b"0" * 64)], "not an enterprise id"),
        ([("gs-sender", A.encode()), ("gs-sender-sig", b"0" * 63)], "not 64 lowercase hex"),
        ([("gs-sender", A.encode()), ("gs-sender-sig", None)], "not 64 lowercase hex"),
    ])
    def test_malformed_headers_are_a_mismatch_never_an_exception(self, headers: list, says: str) -> None:
        reason, who = Verifier(MASTER).check(headers, _value(), A)
        assert reason is not None and reason.startswith("enterprise_mismatch:") and says in reason
        assert who == "unknown"

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.tuples(st.sampled_from(["gs-sender", "gs-sender-sig", "x"]),
                              st.one_of(st.none(), st.binary(max_size=80))), max_size=5))
    def test_any_headers_give_an_answer(self, headers: list) -> None:
        reason, who = Verifier(MASTER).check(headers, _value(), A)
        assert reason is not None or who == A


class TestSigner:
    def test_an_enterprise_signer_refuses_another_enterprise(self) -> None:
        signer = Signer.for_enterprise(B, enterprise_key(MASTER, B))
        with pytest.raises(SenderError, match="enterprise_mismatch: this producer speaks for E3200001"):
            signer.headers(A, _value(A))

    def test_a_signer_is_one_enterprise_or_the_system(self) -> None:
        with pytest.raises(ValueError):
            Signer(enterprise_id=A, key=b"k", master=b"m")
        with pytest.raises(ValueError):
            Signer()
        with pytest.raises(ValueError):
            Signer.for_enterprise("A1", b"k")


class TestDecode:
    """The worker's decode with the check on: a candidate, or one reject that takes nobody's key."""

    CTX = Context(b"hmac", "gs.registry.v1", "gs.events.v1", sender=Verifier(MASTER))

    def test_a_signed_event_is_a_candidate(self) -> None:
        value = _value()
        got = decode_message("gs.events.v1", 0, 7, None, value, Signer.system(MASTER).headers(A, value), self.CTX)
        assert isinstance(got, Candidate) and got.key[0] == A

    def test_a_forged_event_is_the_proven_senders_reject_not_the_victims(self) -> None:
        value = _value(A)
        got = decode_message("gs.events.v1", 0, 7, None, value, Signer.system(MASTER).headers(B, value), self.CTX)
        assert isinstance(got, Reject) and got.rejection.reason.startswith("enterprise_mismatch")
        assert got.enterprise == B and got.rejection.key is not None and got.rejection.key[0] == B

    def test_an_unsigned_event_is_nobodys_reject(self) -> None:
        got = decode_message("gs.events.v1", 0, 7, None, _value(A), [], self.CTX)
        assert isinstance(got, Reject) and got.enterprise == "unknown" and got.rejection.key is None

    def test_a_contract_reject_keeps_its_reason(self) -> None:
        """What the contract rejects says why, signed or not (the sender check comes after validation)."""
        got = decode_message("gs.events.v1", 0, 7, None, b'{"v": 1}', [], self.CTX)
        assert isinstance(got, Reject) and not got.rejection.reason.startswith("enterprise_mismatch")

    def test_registry_records_are_not_signed(self) -> None:
        """Who writes the registry topic is the broker's ACL (only the registry feed), not a signature."""
        record = orjson.dumps(hc.templates()["registry"])
        got = decode_message("gs.registry.v1", 0, 1, None, record, [], self.CTX)
        assert isinstance(got, Candidate)
