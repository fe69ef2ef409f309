"""The CBV 2.0 event hash ID against the reference implementation's examples, and the GS1 example documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from greenshield.epcis.digital_link import check_digit, normalise
from greenshield.epcis.hashid import document_hash_ids, event_hash_id, prehash_strings

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "epcis"  # CI has ../shared

# The reference tool's own ``ignoreFields`` document extension (not part of CBV 2.0) removes the named fields
# from the pre-hash string; a standard implementation hashes them, so these two expected values cannot match.
IGNORE_FIELDS = {"epcisDocHavingEventWithIgnoreFields", "epcisQueryDocHavingEventWithIgnoreFields"}
NAMES = sorted(p.stem for p in (DATA / "hash-vectors").glob("*.jsonld"))


def _load(name: str) -> dict[str, Any]:
    return json.loads((DATA / "hash-vectors" / f"{name}.jsonld").read_text(encoding="utf-8"))


def test_all_22_examples_are_there() -> None:
    assert len(NAMES) == 22


@pytest.mark.parametrize("name", NAMES)
def test_hash_ids_match_the_reference(name: str) -> None:
    if name in IGNORE_FIELDS:
        pytest.skip("uses the reference tool's non-standard ignoreFields extension")
    folder = DATA / "hash-vectors"
    expected = (folder / f"{name}.hashes").read_text(encoding="utf-8").split()
    assert document_hash_ids(_load(name)) == expected
    pre = folder / f"{name}.prehashes"
    if pre.exists():
        assert prehash_strings(_load(name)) == pre.read_text(encoding="utf-8").splitlines()


def test_the_ignore_fields_examples_differ_only_by_the_ignored_fields() -> None:
    """Without the extension the ignored fields stay in the pre-hash string (and only they make the difference)."""
    for name in IGNORE_FIELDS:
        got = prehash_strings(_load(name))
        want = (DATA / "hash-vectors" / f"{name}.prehashes").read_text(encoding="utf-8").splitlines()
        assert got != want and all(g.startswith(w) for g, w in zip(got, want))


def test_a_change_of_any_hashed_field_changes_the_hash() -> None:
    doc = _load("epcisDocWithSingleEvent")
    event = doc["epcisBody"]["eventList"][0]
    base = event_hash_id(event, doc["@context"])
    assert base == document_hash_ids(doc)[0]
    assert event_hash_id({**event, "bizStep": "receiving"}, doc["@context"]) != base
    assert event_hash_id({**event, "eventTime": "2022-02-16T20:33:31.117-06:00"}, doc["@context"]) != base
    # the same instant written in another zone, and list order, do not matter
    same = {**event, "eventTime": "2022-02-17T02:33:31.116Z", "epcList": event["epcList"][::-1]}
    assert event_hash_id(same, doc["@context"]) == base
    assert event_hash_id({**event, "eventID": "urn:uuid:1", "recordTime": "2030-01-01T00:00:00Z"},
                         doc["@context"]) == base


def test_digital_link_normaliser() -> None:
    assert check_digit("04012345000000111") == 2  # SSCC 040123450000001112 (GS1 GenSpecs example)
    assert normalise("urn:epc:id:sscc:4012345.0000000111") == "https://id.gs1.org/00/040123450000001112"
    assert normalise("https://example.com/gtin/09780345418913/21/765tz?abc=1") == \
        "https://id.gs1.org/01/09780345418913/21/765tz"
    assert normalise("https://greenshield.example/id/parcel/E1000001/YT0000000001") is None


@pytest.mark.parametrize("path", sorted((DATA / "examples").glob("*.jsonld")), ids=lambda p: p.stem)
def test_the_gs1_examples_are_valid(validator: Any, path: Path) -> None:
    """The validator accepts the known-good GS1 documents (so a rejection of ours means something)."""
    validator.validate(json.loads(path.read_text(encoding="utf-8")))
