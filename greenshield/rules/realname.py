"""实名收寄 real-name posting: rules RN-1..RN-3 (they read the acceptances only)."""

from __future__ import annotations

from greenshield.rules.view import Hit, ParcelView


def rn1_no_identity(view: ParcelView) -> Hit | None:
    """RN-1: an acceptance with neither a complete sender nor a contract customer.

    快递暂行条例 art. 22; 反恐怖主义法 art. 20: verify and register the sender's identity.
    """
    for e in view.acceptances():
        a = e.acceptance
        if a is not None and not a.sender_complete and a.contract_customer_id is None:
            return Hit(e.at, (e.event_id,), "acceptance without a complete sender or a contract customer")
    return None


def rn2_bad_document(view: ParcelView) -> Hit | None:
    """RN-2: a complete sender whose id_type is unknown or id_number ill-formed.

    邮件快件实名收寄管理办法: record the document type and number truthfully (GB 11643-1999).
    """
    for e in view.acceptances():
        a = e.acceptance
        if a is not None and a.sender_complete and not a.sender_document_ok:
            return Hit(e.at, (e.event_id,), "sender's identity document is of an unknown type or ill-formed")
    return None


def rn3_inactive_customer(view: ParcelView) -> Hit | None:
    """RN-3: reliance on a contract customer not active at the acceptance.

    快递暂行条例 art. 22: the exemption holds only for senders with a signed safety agreement.
    """
    for e in view.acceptances():
        a = e.acceptance
        if a is None or a.sender_complete or a.contract_customer_id is None:
            continue
        status = view.registry.status("contract_customer", a.contract_customer_id, e.at)
        if status != "active":
            return Hit(e.at, (e.event_id,), f"contract customer {a.contract_customer_id} is {status} at acceptance")
    return None
