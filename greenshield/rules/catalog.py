"""The rule registry: one line per rule id. Adding a rule is a function plus one line here."""

from __future__ import annotations

from greenshield.rules import inspection, prohibited, realname, responsibility, screening, tracking
from greenshield.rules.view import Rule

RULES: dict[str, Rule] = {
    "RN-1": realname.rn1_no_identity,
    "RN-2": realname.rn2_bad_document,
    "RN-3": realname.rn3_inactive_customer,
    "IN-1": inspection.in1_not_inspected,
    "IN-2": inspection.in2_refused_but_shipped,
    "XR-1": screening.xr1_unscreened,
    "XR-2": screening.xr2_inactive_machine,
    "XR-3": screening.xr3_suspicious_unchecked,
    "XR-4": screening.xr4_not_screened_in_time,
    "PH-1": prohibited.ph1_prohibited_moved_on,
    "PH-2": prohibited.ph2_not_intercepted,
    "TR-1": tracking.tr1_no_acceptance,
    "TK-1": tracking.tk1_vehicle,
    "TK-2": tracking.tk2_path_breaks,
    "PR-1": responsibility.pr1_unknown_person,
    "PR-2": responsibility.pr2_inactive_person,
    "PR-3": responsibility.pr3_blacklisted_person,
}

# the safety system (or traceability goal) each rule belongs to, for dashboards
SYSTEMS: dict[str, str] = {
    "RN": "实名收寄 real-name", "IN": "收寄验视 inspection", "XR": "过机安检 X-ray",
    "PH": "禁寄物品 prohibited", "TR": "可追溯 traceable", "TK": "可追踪 trackable",
    "PR": "可倒查 accountable",
}
