"""A registry record's ``person`` (revision 2 §8.2): reduced to its keyed hash and masked number.

From input it must be a well-formed document, else ``person_invalid``; :data:`PROCESS_KEY`
keys the hashes when the caller has no key of its own.
"""

from __future__ import annotations

import secrets
from typing import Any

from greenshield.rules.documents import DOCUMENTS, document_well_formed, trim
from greenshield.rules.exact_json import Invalid
from greenshield.rules.privacy import id_hash, mask_id_number
from greenshield.rules.reasons import describe, type_name
from greenshield.rules.timestamps import local_date

#: the key of the rule core's person hashes when the caller has none (``check``, the worker's registry
#: feed): they are only compared with each other, never written; the store keeps the configured key's
PROCESS_KEY = secrets.token_bytes(32)
PERSON_INVALID = "person_invalid"


def _person_string(person: dict[str, Any], name: str) -> str:
    value = person.get(name)
    if type(value) is not str or not trim(value):
        got = describe(value) if type(value) is str else type_name(value)
        raise Invalid(f"{PERSON_INVALID}: field 'person.{name}': expected a non-empty string, got {got}")
    return value


def person_of(obj: dict[str, Any], text: str, stored: bool) -> tuple[str | None, str | None] | None:
    """A record's ``person`` (revision 2 §8.2) as (keyed hash, masked number); None when it has none.

    From input it must be a well-formed document (RN-2's test, on the record's date), else
    ``person_invalid``; a stored (redacted) person gives back the hash kept at intake.
    """
    person = obj.get("person")
    if person is None:
        return None
    if type(person) is not dict:
        raise Invalid(f"{PERSON_INVALID}: field 'person': expected an object, got {type_name(person)}")
    if stored:
        h, masked = person.get("id_hash"), person.get("id_number_masked")
        return (h if type(h) is str else None), (masked if type(masked) is str else None)
    kind, number = _person_string(person, "id_type"), _person_string(person, "id_number")
    if trim(kind) not in DOCUMENTS:
        raise Invalid(f"{PERSON_INVALID}: field 'person.id_type': {describe(kind)} is not a known document type")
    if not document_well_formed(kind, number, local_date(text)):
        raise Invalid(f"{PERSON_INVALID}: field 'person.id_number': {describe(number)} is not well-formed "
                      "for its id_type")
    return id_hash(PROCESS_KEY, kind, number), mask_id_number(trim(number))
