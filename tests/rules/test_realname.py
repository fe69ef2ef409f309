"""实名收寄 real-name posting: RN-1, RN-2, RN-3 (contract §3.2, §7 `sender`)."""

from __future__ import annotations

import pytest
from tests.rules.builders import (
    ABSENT, CUSTOMER, VALID_RESIDENT_ID, acceptance, at, check, journey, registry, replace, sender, utc,
    wrong_check,
)

# ---------------------------------------------------------------------------------------- RN-1

RN1_CASES = [
    # id, acceptance keyword arguments, RN-1 expected
    ("complete-sender", {}, False),
    ("no-sender-no-customer", {"sender": ABSENT}, True),
    ("null-sender-is-missing", {"sender": None}, True),
    ("empty-sender-object", {"sender": {}}, True),
    ("name-missing", {"sender": sender(name=ABSENT)}, True),
    ("id-type-missing", {"sender": sender(id_type=ABSENT)}, True),
    ("id-number-missing", {"sender": sender(id_number=ABSENT)}, True),
    ("verified-by-missing", {"sender": sender(verified_by=ABSENT)}, True),
    ("name-null", {"sender": sender(name=None)}, True),
    ("name-blank", {"sender": sender(name="   ")}, True),
    ("name-ideographic-space-only", {"sender": sender(name="\u3000")}, True),
    ("name-not-a-string", {"sender": sender(name=12345)}, True),
    ("id-number-not-a-string", {"sender": sender(id_number=310101199003071230)}, True),
    ("id-number-blank", {"sender": sender(id_number="\t ")}, True),
    ("id-type-blank", {"sender": sender(id_type="")}, True),
    ("verified-by-unknown", {"sender": sender(verified_by="phone_call")}, True),
    ("verified-by-wrong-case", {"sender": sender(verified_by="Manual")}, True),
    ("verified-by-padded-is-trimmed", {"sender": sender(verified_by="  manual\u3000")}, False),
    ("verified-by-face-match", {"sender": sender(verified_by="face_match")}, False),
    ("verified-by-e-id", {"sender": sender(verified_by="e_id")}, False),
    ("verified-by-manual", {"sender": sender(verified_by="manual")}, False),
    ("customer-exempts", {"sender": ABSENT, "contract_customer_id": CUSTOMER}, False),
    ("incomplete-sender-with-customer-exempts", {"sender": sender(name=""), "contract_customer_id": CUSTOMER},
     False),
    ("null-customer-is-missing", {"sender": ABSENT, "contract_customer_id": None}, True),
]


class TestRN1:
    """RN-1: an acceptance with neither a complete sender nor a contract customer."""

    @pytest.mark.parametrize("kwargs, flagged", [c[1:] for c in RN1_CASES], ids=[c[0] for c in RN1_CASES])
    def test_acceptance_without_complete_sender_or_customer_is_flagged(self, kwargs, flagged):
        """RN-1 holds exactly when the sender is incomplete (by §7's reading) and no customer is named."""
        out = check(replace(journey(), "acc", acceptance("acc", at(0), **kwargs)))
        assert out.rejections == []
        assert ("RN-1" in out.rules()) is flagged

    def test_incomplete_sender_is_never_a_rejection(self):
        """A sender with a non-string name is a defect of the sender, never a reason to reject the line."""
        out = check([acceptance("acc", at(0), sender={"name": ["x"], "id_type": 1, "id_number": None})])
        assert out.rejections == [] and out.stats.accepted >= 1
        assert "RN-1" in out.rules()

    def test_violation_is_at_the_acceptance_with_its_event_id(self):
        """RN-1's occurred_at is the acceptance's time in UTC and its evidence names the acceptance."""
        out = check(replace(journey(), "acc", acceptance("acc", at(0, 0, 7, frac="9"), sender=ABSENT)))
        v = out["RN-1"]
        assert out.when("RN-1") == utc(0, 0, 7)
        assert v.evidence == ("acc",)
        assert v.severity == "high"

    def test_second_acceptance_without_sender_is_flagged_at_its_time(self):
        """When only a later acceptance lacks a sender, RN-1 points at that one."""
        events = journey() + [acceptance("acc2", at(6), sender=ABSENT, site="S31000003")]
        out = check(events)
        assert out["RN-1"].evidence == ("acc2",)
        assert out.when("RN-1") == utc(6)


# ---------------------------------------------------------------------------------------- RN-2

class TestRN2:
    """RN-2: a complete sender whose document type is unknown or number ill-formed (details: test_documents)."""

    CASES = [
        ("well-formed", sender(), False),
        ("bad-check-char", sender(id_number=wrong_check(VALID_RESIDENT_ID[:17])), True),
        ("unknown-type", sender(id_type="driving_licence"), True),
        ("incomplete-sender-is-rn1-not-rn2", sender(id_type="driving_licence", verified_by="nobody"), False),
    ]

    @pytest.mark.parametrize("snd, flagged", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
    def test_complete_sender_with_bad_document_is_flagged(self, snd, flagged):
        """RN-2 looks only at complete senders, and flags an unknown type or an ill-formed number."""
        out = check(replace(journey(), "acc", acceptance("acc", at(0), sender=snd)))
        assert ("RN-2" in out.rules()) is flagged

    def test_bad_document_with_contract_customer_is_still_flagged(self):
        """A complete sender with a bad document is RN-2 even when a contract customer is named too."""
        snd = sender(id_type="passport", id_number="ab12")
        out = check(replace(journey(), "acc", acceptance("acc", at(0), sender=snd, contract_customer_id=CUSTOMER)))
        assert out.rules() == {"RN-2"}

    def test_violation_is_at_the_acceptance(self):
        """RN-2's occurred_at and evidence are the acceptance's; its severity is medium."""
        out = check(replace(journey(), "acc", acceptance("acc", at(0, 1), sender=sender(id_type="other"))))
        assert out.when("RN-2") == utc(0, 1)
        assert out["RN-2"].evidence == ("acc",)
        assert out["RN-2"].severity == "medium"


# ---------------------------------------------------------------------------------------- RN-3

RN3_CASES = [
    # id, registry records of the customer, sender, RN-3 expected
    ("active-customer", [registry("contract_customer", "C20000001")], ABSENT, False),
    ("unregistered-customer", [], ABSENT, True),
    ("suspended-customer", [registry("contract_customer", "C20000001", "suspended")], ABSENT, True),
    ("revoked-customer", [registry("contract_customer", "C20000001", "revoked")], ABSENT, True),
    ("blacklisted-customer", [registry("contract_customer", "C20000001", "blacklisted")], ABSENT, True),
    ("active-exactly-at-acceptance", [registry("contract_customer", "C20000001", "active", at(0))], ABSENT, False),
    ("active-one-second-later", [registry("contract_customer", "C20000001", "active", at(0, 0, 1))], ABSENT, True),
    ("active-a-fraction-later", [registry("contract_customer", "C20000001", "active", at(0, frac="001"))],
     ABSENT, True),
    ("suspended-exactly-at-acceptance",
     [registry("contract_customer", "C20000001"), registry("contract_customer", "C20000001", "suspended", at(0))],
     ABSENT, True),
    ("suspended-after-acceptance",
     [registry("contract_customer", "C20000001"),
      registry("contract_customer", "C20000001", "suspended", at(0, 0, 1))], ABSENT, False),
    ("reinstated-before-acceptance",
     [registry("contract_customer", "C20000001", "suspended", at(-48)),
      registry("contract_customer", "C20000001", "active", at(-1))], ABSENT, False),
    ("registered-by-another-enterprise",
     [registry("contract_customer", "C20000001", enterprise="E2000002")], ABSENT, False),
    ("complete-sender-so-no-reliance", [], sender(), False),
    ("incomplete-sender-relies-on-customer", [], sender(name=""), True),
]


class TestRN3:
    """RN-3: the acceptance relies on a contract customer that is not active at its time."""

    @pytest.mark.parametrize("records, snd, flagged", [c[1:] for c in RN3_CASES], ids=[c[0] for c in RN3_CASES])
    def test_reliance_on_inactive_customer_is_flagged(self, records, snd, flagged):
        """RN-3 holds when no complete sender is given and the customer is not active at the acceptance."""
        acc = acceptance("acc", at(0), sender=snd, contract_customer_id="C20000001")
        out = check(records + replace(journey(), "acc", acc))
        assert ("RN-3" in out.rules()) is flagged
        assert "RN-1" not in out.rules()

    def test_late_registry_record_still_counts(self):
        """A customer's registry record that comes after the acceptance in the input still decides RN-3."""
        acc = acceptance("acc", at(0), sender=ABSENT, contract_customer_id="C20000001")
        out = check(replace(journey(), "acc", acc) + [registry("contract_customer", "C20000001", "active", at(-5))])
        assert "RN-3" not in out.rules()

    def test_violation_is_at_the_acceptance(self):
        """RN-3's occurred_at and evidence are the acceptance's, with medium severity."""
        acc = acceptance("acc", at(0, 30, frac="5", tz="Z"), sender=ABSENT, contract_customer_id="C20000001")
        out = check(replace(journey(), "acc", acc))
        assert out.when("RN-3") == utc(0, 30)
        assert out["RN-3"].evidence == ("acc",)
        assert out["RN-3"].severity == "medium"
