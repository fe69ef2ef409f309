"""EPC URIs and GS1 Digital Link URIs to one constrained canonical GS1 Digital Link URI (pure).

The CBV 2.0 event hash ID compares identifiers in this form. The conversion
follows the reference implementation of the hash ID (``dl_normaliser.py`` of
github.com/RalphTro/epcis-event-hash-generator), whose outputs the CBV examples
were computed with, quirks included.

Ported from epcis-event-hash-generator, MIT License, Copyright (c) 2019 RalphTro.
Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in the
Software without restriction, subject to the following condition: the above
copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT
WARRANTY OF ANY KIND.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_XC = r"(?:%2[125-9A-Fa-f]|%3[0-9A-Fa-f]|%4[1-9A-Fa-f]|%5[0-9AaFf]|%6[1-9A-Fa-f]|%7[0-9Aa]|[!')(*+,.0-9:;=A-Za-z_-])"
_CPI = r"(?:%2[3dfDF]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9Aa]|[0-9A-Z-])"
_DL_SAFE = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"


def _split(total: int, last: str = "") -> str:
    """``gcp.ref`` alternatives: a company prefix of 6-12 digits and a reference making ``total`` digits."""
    alts = []
    for gcp in range(6, 13):
        ref = total - gcp
        alts.append(rf"\d{{{gcp}}}\.\d{{{ref}}}" if ref > 0 else rf"\d{{{gcp}}}\.{last}")
    return "(?:" + "|".join(alts) + ")"


def _free(max_total: int, chars: str = _XC) -> str:
    """``gcp.free-text`` alternatives whose text is at most ``max_total - gcp`` characters."""
    return "(?:" + "|".join(rf"\d{{{g}}}\.{chars}{{1,{max_total - g}}}" for g in range(6, 13)) + ")"


def check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit of a key without its check digit (GS1 General Specifications 7.9.1)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def _pct(text: str) -> str:
    """Percent-encode the characters Digital Link requires encoded that an EPC URI may hold."""
    for ch, enc in (("!", "%21"), ("(", "%28"), (")", "%29"), ("*", "%2A"), ("+", "%2B"), (",", "%2C"), (":", "%3A")):
        text = text.replace(ch, enc)
    return text


def _key(digits: str) -> str:
    return digits + str(check_digit(digits))


def _gtin(gcp: str, rest: str) -> str:
    item = rest[:13 - len(gcp)]
    return _key(item[:1] + gcp + item[1:])


def _parts(uri: str, head: int) -> tuple[str, str]:
    """The company prefix and what follows its dot, of an EPC URI whose prefix starts at ``head``."""
    dot = uri.index(".")
    return uri[head:dot], uri[dot + 1:]


def _sgtin(u: str) -> str:
    gcp, rest = _parts(u, 17)
    return f"https://id.gs1.org/01/{_gtin(gcp, rest)}/21/{_pct(u[32:])}"


def _sscc(u: str) -> str:
    gcp, rest = _parts(u, 16)
    return "https://id.gs1.org/00/" + _key(rest[:1] + gcp + rest[1:])


def _sgln(u: str) -> str:
    gcp, rest = _parts(u, 16)
    gln = _key(gcp + rest[:12 - len(gcp)])
    ext = u[30:]
    return f"https://id.gs1.org/414/{gln}" + ("" if ext == "0" else f"/254/{_pct(ext)}")


def _grai(u: str) -> str:
    gcp, rest = _parts(u, 16)
    return "https://id.gs1.org/8003/" + _key("0" + gcp + rest[:12 - len(gcp)]) + _pct(u[30:])


def _giai(u: str) -> str:
    gcp, rest = _parts(u, 16)
    return "https://id.gs1.org/8004/" + gcp + _pct(rest)


def _gsrn(u: str, head: int, ai: str) -> str:
    gcp, rest = _parts(u, head)
    return f"https://id.gs1.org/{ai}/" + _key(gcp + rest)


def _gdti(u: str) -> str:
    gcp, rest = _parts(u, 16)
    return "https://id.gs1.org/253/" + _key(gcp + rest[:12 - len(gcp)]) + _pct(u[30:])


def _cpi(u: str) -> str:
    gcp, rest = _parts(u, 15)
    ref, serial = rest.rsplit(".", 1)
    return f"https://id.gs1.org/8010/{_pct(gcp + ref)}/8011/{serial}"


def _sgcn(u: str) -> str:
    gcp, rest = _parts(u, 16)
    return "https://id.gs1.org/255/" + _key(gcp + rest[:12 - len(gcp)]) + u[30:]


def _ginc(u: str) -> str:
    gcp, rest = _parts(u, 16)
    return "https://id.gs1.org/401/" + gcp + _pct(rest)


def _itip(u: str) -> str:
    gcp, rest = _parts(u, 16)
    return f"https://id.gs1.org/8006/{_gtin(gcp, rest)}{u[31:33]}{u[34:36]}/21/{_pct(u[37:])}"


def _upui(u: str) -> str:
    gcp, rest = _parts(u, 16)
    return f"https://id.gs1.org/01/{_gtin(gcp, rest)}/235/{_pct(u[31:])}"


def _pgln(u: str) -> str:
    gcp, rest = _parts(u, 16)
    return "https://id.gs1.org/417/" + _key(gcp + rest[:12 - len(gcp)])


def _lgtin(u: str) -> str:
    gcp, rest = _parts(u, 20)
    return f"https://id.gs1.org/01/{_gtin(gcp, rest)}/10/{_pct(u[35:])}"


def _pat_gtin(u: str) -> str:
    gcp, rest = _parts(u, 20 if u.startswith("urn:epc:idpat:sgtin:") else 19)
    return "https://id.gs1.org/01/" + _gtin(gcp, rest)


def _pat_grai(u: str) -> str:
    gcp, rest = _parts(u, 19)
    return "https://id.gs1.org/8003/" + _key("0" + gcp + rest[:12 - len(gcp)])


def _pat_12(ai: str) -> Callable[[str], str]:
    def convert(u: str) -> str:
        gcp, rest = _parts(u, 19)
        return f"https://id.gs1.org/{ai}/" + _key(gcp + rest[:12 - len(gcp)])
    return convert


def _pat_cpi(u: str) -> str:
    gcp, rest = _parts(u, 18)
    return "https://id.gs1.org/8010/" + _pct(gcp + rest[:rest.rfind(".")])


def _pat_itip(u: str) -> str:
    gcp, rest = _parts(u, 19)
    return f"https://id.gs1.org/8006/{_gtin(gcp, rest)}{u[34:36]}{u[37:39]}"


_S12DOT = _split(12, r"\.")
_EPC: list[tuple[re.Pattern[str], Callable[[str], str]]] = [(re.compile(p), f) for p, f in (
    (rf"^urn:epc:id:sgtin:{_split(13)}\.{_XC}{{1,20}}$", _sgtin),
    (rf"^urn:epc:id:sscc:{_split(17)}$", _sscc),
    (rf"^urn:epc:id:sgln:{_split(12)}\.{_XC}{{1,20}}$", _sgln),
    (rf"^urn:epc:id:grai:{_S12DOT}\.{_XC}{{1,16}}$", _grai),
    (rf"^urn:epc:id:giai:{_free(30)}$", _giai),
    (rf"^urn:epc:id:gsrn:{_split(17)}$", lambda u: _gsrn(u, 16, "8018")),
    (rf"^urn:epc:id:gsrnp:{_split(17)}$", lambda u: _gsrn(u, 17, "8017")),
    (rf"^urn:epc:id:gdti:{_S12DOT}{_XC}{{1,20}}$", _gdti),
    (rf"^urn:epc:id:cpi:{_free(30, _CPI)}\.\d{{1,12}}$", _cpi),
    (rf"^urn:epc:id:sgcn:{_split(12)}\.\d{{1,12}}$", _sgcn),
    (rf"^urn:epc:id:ginc:{_free(30)}$", _ginc),
    (rf"^urn:epc:id:gsin:{_split(16)}$", lambda u: _gsrn(u, 16, "402")),
    (rf"^urn:epc:id:itip:{_split(13)}\.\d{{2}}\.\d{{2}}\.{_XC}{{1,20}}$", _itip),
    (rf"^urn:epc:id:upui:{_split(13)}\.{_XC}{{1,28}}$", _upui),
    (rf"^urn:epc:id:pgln:{_split(12)}$", _pgln),
    (rf"^urn:epc:class:lgtin:{_split(13)}\.{_XC}{{1,20}}$", _lgtin),
    (rf"^urn:epc:idpat:sgtin:{_split(13)}\.\*$", _pat_gtin),
    (rf"^urn:epc:idpat:grai:{_S12DOT}\.\*$", _pat_grai),
    (rf"^urn:epc:idpat:gdti:{_S12DOT}\.\*$", _pat_12("253")),
    (rf"^urn:epc:idpat:sgcn:{_S12DOT}\.\*$", _pat_12("255")),
    (rf"^urn:epc:idpat:cpi:{_free(30, _CPI)}\.\*$", _pat_cpi),
    (rf"^urn:epc:idpat:itip:{_split(13)}\.\d{{2}}\.\d{{2}}\.\*$", _pat_itip),
    (rf"^urn:epc:idpat:upui:{_split(13)}\.\*$", _pat_gtin),
)]

_KEYS = "01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti|401|ginc|402|gsin|8003|grai|8004|giai"
_DL_ANY = re.compile(r"^https?:(//((([^/?#]*)@)?([^/?#:]*)(:([^/?#]*))?))?((([^?#]*)(/(" + _KEYS
                     + r")/)(\d{4}[^/]+)(/[^/]+/[^/]+)?[/]?(\?([^?\n]*))?(#([^\n]*))?)|(/[A-Za-z_-]{10}$))")
_DL_CANON = re.compile(r"^https://id.gs1.org/(01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)/"
                       r"(\d{4}[^/]+)(/[^/]+/[^/]+)?[/]?(\?([^?\n]*))?(#([^\n]*))?|(/[A-Za-z_-]{10}$)")
_SHORT = (("gtin", "01"), ("itip", "8006"), ("cpid", "8010"), ("gln", "414"), ("party", "417"), ("gsrnp", "8017"),
          ("gsrn", "8018"), ("gcn", "255"), ("sscc", "00"), ("gdti", "253"), ("ginc", "401"), ("gsin", "402"),
          ("grai", "8003"), ("giai", "8004"), ("cpv", "22"), ("lot", "10"), ("ser", "21"))
_PRIMARY = ("00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004", "8006", "8010", "8017", "8018")
_VALID = [re.compile(p + "$") for p in (
    r"https://id.gs1.org/00/(\d{18})", rf"https://id.gs1.org/01/(\d{{14}})/21/({_DL_SAFE}{{0,20}})",
    rf"https://id.gs1.org/01/(\d{{14}})/10/({_DL_SAFE}{{0,20}})", r"https://id.gs1.org/01/(\d{14})",
    rf"https://id.gs1.org/01/(\d{{14}})/235/({_DL_SAFE}{{0,28}})", rf"https://id.gs1.org/253/(\d{{13}})({_DL_SAFE}{{0,17}})",
    r"https://id.gs1.org/255/(\d{13})(\d{0,12})", rf"https://id.gs1.org/401/({_DL_SAFE}{{0,30}})",
    r"https://id.gs1.org/402/(\d{17})", r"https://id.gs1.org/414/(\d{13})",
    rf"https://id.gs1.org/414/(\d{{13}})/254/({_DL_SAFE}{{0,20}})", r"https://id.gs1.org/417/(\d{13})",
    rf"https://id.gs1.org/8003/(\d{{14}})({_DL_SAFE}{{0,16}})", rf"https://id.gs1.org/8004/({_DL_SAFE}{{0,30}})",
    rf"https://id.gs1.org/8006/(\d{{18}})/21/({_DL_SAFE}{{0,20}})", rf"https://id.gs1.org/8006/(\d{{18}})/10/({_DL_SAFE}{{0,20}})",
    r"https://id.gs1.org/8006/(\d{18})", r"https://id.gs1.org/8010/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})/8011/(\d{0,12})",
    r"https://id.gs1.org/8010/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})", r"https://id.gs1.org/8017/(\d{18})",
    r"https://id.gs1.org/8018/(\d{18})")]
_CPV_END = re.compile(rf"https://id.gs1.org/(8006/\d{{18}}|01/\d{{14}})/22/({_DL_SAFE}{{0,20}})$")
_CPV_MORE = re.compile(rf"https://id.gs1.org/(8006/\d{{18}}|01/\d{{14}})/22/([\x2F\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{{0,20}})$")
_LOT_SER = re.compile(rf"https://id.gs1.org/(8006/\d{{18}}|01/\d{{14}})/10/({_DL_SAFE}{{0,20}})/21/({_DL_SAFE}{{0,20}})$")


def _digital_link(uri: str) -> str | None:
    if _DL_ANY.match(uri) is None:
        return None
    uri = uri.split("?", 1)[0]
    for short, ai in _SHORT:
        uri = uri.replace(f"/{short}/", f"/{ai}/")
    if _DL_CANON.match(uri) is None:
        for ai in _PRIMARY:
            at = uri.find(f"/{ai}/")
            if at != -1:
                uri = "https://id.gs1.org" + uri[at:]
                break
    uri = _pad_gtin(uri)
    uri = _drop_cpv(uri)
    if _LOT_SER.match(uri):
        lot = uri[uri.find("/10/") + 4:]
        uri = uri[:uri.find("/10/")] + lot[lot.find("/"):]
    return uri if any(p.match(uri) for p in _VALID) else None


def _pad_gtin(uri: str) -> str:
    if re.match(r"^https://id.gs1.org/01/\d{14}", uri) is None:
        for digits, pad in ((13, "0"), (12, "00"), (8, "000000")):
            if re.match(rf"^https://id.gs1.org/01/\d{{{digits}}}", uri):
                return uri.replace("/01/", "/01/" + pad)
    return uri


def _drop_cpv(uri: str) -> str:
    after = uri[uri.find("/22/") + 4:]
    if _CPV_END.match(uri):
        uri = uri[:uri.find("/22/")] + after[after.find("/"):-1]
    if _CPV_MORE.match(uri):
        uri = uri[:uri.find("/22/")] + after[after.find("/"):]
    return uri


def normalise(uri: str) -> str | None:
    """The constrained canonical GS1 Digital Link URI of an EPC (class, pattern) URI or a DL URI; else ``None``."""
    if "." not in uri:
        return None
    for pattern, convert in _EPC:
        if pattern.match(uri):
            return convert(uri)
    return _digital_link(uri)
