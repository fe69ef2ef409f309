"""The CBV 2.0 EPCIS event hash ID: canonical pre-hash string, SHA-256, ``ni:///sha-256;<hex>?ver=CBV2.0`` (pure).

CBV 2.0 §8.9 defines the algorithm: the event's fields in a fixed order as
``name=value`` with no separators, values normalised (instants to UTC at
millisecond precision, CBV bare words to their web URIs, GS1 identifiers to the
constrained canonical Digital Link URI, numbers without redundant zeros), lists
sorted, user extensions last. Where the text leaves room, this follows the
reference implementation (github.com/RalphTro/epcis-event-hash-generator, MIT,
Copyright (c) 2019 RalphTro), which produced the published examples. Its JSON-LD
expansion step is replaced by the CBV's own naming rules for bare words, so no
context document is needed. Its non-standard ``ignoreFields`` extension is not
supported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from greenshield.epcis.digital_link import normalise
from greenshield.errors import EpcisError

Order = list[tuple[Any, Any]]  # (field name, order of its sub-fields or None)
_QUANTITY: Order = [("quantityElement", [("epcClass", None), ("quantity", None), ("uom", None)])]
_EPC: Order = [("epc", None)]
# the field order of the pre-hash string (CBV 2.0 §8.9.2)
PROP_ORDER: Order = [
    ("eventTime", None), ("eventTimeZoneOffset", None), ("certificationInfo", None), ("parentID", None),
    ("epcList", _EPC), ("inputEPCList", _EPC), ("childEPCs", _EPC), ("quantityList", _QUANTITY),
    ("childQuantityList", _QUANTITY), ("inputQuantityList", _QUANTITY), ("outputEPCList", _EPC),
    ("outputQuantityList", _QUANTITY), ("action", None), ("transformationID", None), ("bizStep", None),
    ("disposition", None), ("persistentDisposition", [("set", None), ("unset", None)]),
    ("readPoint", [("id", None)]), ("bizLocation", [("id", None)]),
    # their entries never match (they are pairs by then): the lists land among the remaining fields, as in the reference
    ("bizTransactionList", [(("type", None), ("bizTransaction", None))]),
    ("sourceList", [(("type", None), ("source", None))]),
    ("destinationList", [(("type", None), ("destination", None))]),
    ("sensorElementList", [("sensorElement", [
        ("sensorMetadata", [(n, None) for n in ("time", "startTime", "endTime", "deviceID", "deviceMetadata",
                                                 "rawData", "dataProcessingMethod", "bizRules")]),
        ("sensorReport", [(n, None) for n in (
            "type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "time",
            "microorganism", "chemicalSubstance", "value", "component", "stringValue", "booleanValue",
            "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue",
            "uom", "coordinateReferenceSystem")]),
    ])]),
]
_NOT_HASHED = ("recordTime", "eventID", "type", "errorDeclaration")
_UNSORTED = ("bizTransaction", "source", "destination")
_PAIRED = ("sourceList", "destinationList", "bizTransactionList")
_CBV = "https://ref.gs1.org/cbv/"
_GS1 = "https://gs1.org/voc/"
# CBV web vocabulary: the URI of a bare word, by the field that holds it (CBV 2.0 §6-§7, §8.2)
_VOCAB: dict[tuple[str, ...], str] = {
    ("bizStep",): _CBV + "BizStep-", ("disposition",): _CBV + "Disp-",
    ("persistentDisposition", "set"): _CBV + "Disp-", ("persistentDisposition", "unset"): _CBV + "Disp-",
    ("bizTransactionList", "type"): _CBV + "BTT-", ("sourceList", "type"): _CBV + "SDT-",
    ("destinationList", "type"): _CBV + "SDT-", ("errorDeclaration", "reason"): _CBV + "ER-",
    ("sensorElementList", "sensorReport", "component"): _CBV + "Comp-",
    ("sensorElementList", "sensorReport", "type"): _GS1, ("sensorElementList", "sensorReport", "exception"): _GS1,
}
_URN_VOCAB = (("urn:epcglobal:cbv:bizstep:", "BizStep-"), ("urn:epcglobal:cbv:disp:", "Disp-"),
              ("urn:epcglobal:cbv:btt:", "BTT-"), ("urn:epcglobal:cbv:sdt:", "SDT-"), ("urn:epcglobal:cbv:er:", "ER-"))
_PREFIXES = {"cbv": _CBV, "gs1": _GS1}


@dataclass
class Node:
    """A field: its name, its text, its sub-fields (the reference's XML-like model of an event)."""
    name: str
    value: str = ""
    children: list[Any] = field(default_factory=list)  # Node, or Pair in the three paired lists

    def key(self) -> tuple[Any, ...]:
        return (self.name, self.value, [c.key() for c in self.children])


@dataclass
class Pair:
    """One ``{type, bizTransaction|source|destination}`` entry."""
    first: Node
    second: Node

    def key(self) -> tuple[Any, ...]:
        return (self.first.key(), self.second.key())


class HashInputError(EpcisError, ValueError):
    """The document is not an EPCIS 2.0 JSON document with events."""


# ------------------------------------------------------------------ JSON to the field model

def _namespaces(context: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for entry in context if isinstance(context, list) else []:
        if isinstance(entry, dict):
            found.update({k: v for k, v in entry.items() if isinstance(v, str)})
    return found


def _expand_key(key: str, ns: Mapping[str, str]) -> str:
    head, sep, tail = key.partition(":")
    return "{" + ns[head] + "}" + tail if sep and head in ns else key


def _expand_value(text: str, ns: Mapping[str, str]) -> str:
    head, sep, tail = text.partition(":")
    return ns[head] + tail if sep and head in ns else text


def _to_node(obj: Any, ns: Mapping[str, str]) -> Node:
    if isinstance(obj, list):
        return Node("", "", [_to_node(x, ns) for x in obj])
    if not isinstance(obj, dict):
        text = _expand_value(obj, ns) if isinstance(obj, str) else obj
        return Node("", str(text))
    node = Node(str(obj.get("type", "")), str(obj.get("#text", "")))
    for key, val in obj.items():
        if key in ("#text", "rdfs:comment", "comment"):
            continue
        child, name = _to_node(val, ns), _expand_key(key, ns)
        if isinstance(val, list):
            node.children.extend(Node(name, c.value, c.children) for c in child.children)
        else:
            node.children.append(Node(name, child.value, child.children))
    if not any(k in obj for k in _UNSORTED):
        node.children.sort(key=Node.key)
    return node


def _restructure(node: Node) -> Node:
    """JSON names to the XML model: ``xList: [..]`` to ``xList`` of ``x``, pairs, ``childEPCs``, quantities."""
    kids = list(node.children)
    lists: dict[str, list[Node]] = {}
    for el in [k for k in kids if isinstance(k, Node) and k.name.endswith("List")]:
        lists.setdefault(el.name, []).append(Node(el.name[:-4], el.value, el.children))
        kids.remove(el)
    for name, items in lists.items():
        if name in _PAIRED:
            if any(len(i.children) < 2 for i in items):
                raise HashInputError(f"an entry of {name} lacks its type or its value")
            kids.append(Node(name, "", [Pair(i.children[0], i.children[1]) for i in items]))
        else:
            kids.append(Node(name, "", items))
    epcs = [Node("epc", k.value) for k in kids if k.name == "childEPCs"]
    if epcs:
        kids = [k for k in kids if k.name != "childEPCs"] + [Node("childEPCs", "", epcs)]
    fixed = [k if k.name in _PAIRED else _restructure(k) for k in kids]
    return _rename(Node(node.name, node.value, fixed))


def _rename(node: Node) -> Node:
    if node.name in ("inputEPC", "outputEPC"):
        return Node("epc", node.value, node.children)
    if node.name in ("inputQuantity", "outputQuantity", "childQuantity") or (node.name == "quantity" and node.children):
        return Node("quantityElement", node.value, node.children)
    return node


# ------------------------------------------------------------------ bare CBV words

def _vocabulary(obj: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    """The web URIs the document's CBV words stand for (the reference finds them by JSON-LD expansion)."""
    if isinstance(obj, list):
        for x in obj:
            yield from _vocabulary(x, path)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _vocabulary(v, path + (k,))
    elif isinstance(obj, str):
        yield from _vocab_uri(obj, path)


def _vocab_uri(text: str, path: tuple[str, ...]) -> Iterator[str]:
    head, sep, tail = text.partition(":")
    if sep and head in _PREFIXES:
        yield _PREFIXES[head] + tail
    elif text.startswith((_CBV, _GS1)):
        yield text
    elif not sep:
        prefix = _VOCAB.get(path[-3:]) or _VOCAB.get(path[-2:]) or _VOCAB.get(path[-1:])
        if prefix:
            yield prefix + text


def _replace_bare(obj: Any, uris: set[str]) -> Any:
    if isinstance(obj, list):
        return [_replace_bare(x, uris) for x in obj]
    if isinstance(obj, dict):
        return {k: _replace_bare(v, uris) for k, v in obj.items()}
    if isinstance(obj, str):
        hits = [u for u in uris if u.endswith("-" + obj) or u.endswith("/" + obj)]
        return hits[0] if len(hits) == 1 else obj
    return obj


# ------------------------------------------------------------------ values

def _instant(text: str) -> str:
    """An xsd:dateTime in UTC at millisecond precision (``…T…​.sssZ``); other text unchanged."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return text
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)  # the reference reads it as local time; the examples carry offsets
    at = at.astimezone(timezone.utc)
    ms = round(at.microsecond, -3)
    at = at.replace(microsecond=0) + timedelta(microseconds=ms)
    return at.isoformat(timespec="milliseconds")[:-6] + "Z"


def _numeric(text: str) -> str:
    try:
        number = float(text)
    except ValueError:
        return text
    if number != number or number in (float("inf"), float("-inf")):
        return text
    return str(int(number)) if int(number) == number else str(number)


def canonical_value(text: str) -> str:
    """A value as the pre-hash string holds it: web vocabulary, plain number, or canonical Digital Link."""
    for urn, term in _URN_VOCAB:
        text = text.replace(urn, _CBV + term)
    text = _numeric(text)
    return normalise(text) or text


# ------------------------------------------------------------------ the pre-hash string

def _user_extensions(kids: list[Any]) -> list[Any]:
    if len(kids) <= 1 or any(isinstance(k, Node) and ("eventTime" in k.name or "action" in k.name) for k in kids):
        return []
    found = [k for k in kids if isinstance(k, Node) and "{" in k.name and "/}" in k.name]
    for k in found:
        kids.remove(k)
    return found


def _field(child: Node, sub: Order | None) -> str:
    grand = _ordered(child.children, sub) if sub else ""
    text = child.value.strip()
    if text:
        lower = child.name.lower()
        text = "=" + (_instant(text) if "time" in lower and "offset" not in lower else canonical_value(text))
    return child.name + text + grand if text or grand else ""


def _ordered(kids: list[Any], order: Order) -> str:
    """The fields of ``order`` in that order (each name's values sorted); consumes them from ``kids``."""
    extensions = _user_extensions(kids)
    out = ""
    for name, sub in order:
        values = []
        for child in [k for k in kids if isinstance(k, Node) and k.name == name]:
            text = _field(child, sub)
            if text:
                values.append(text)
            if not child.children:
                kids.remove(child)
        values.sort()
        if "".join(values):
            out = "".join([out, *values])
    return out + _generic(extensions) if extensions else out


def _generic(kids: list[Any]) -> str:
    """Fields outside the order (user extensions, the paired lists): name=value, sorted, depth first."""
    parts = []
    for child in kids:
        if isinstance(child, Pair):
            parts.append(_generic([child.first, child.second]))
            continue
        text = child.value.strip()
        parts.append(child.name + ("=" + canonical_value(text) if text else "") + _generic(child.children))
    if len(kids) > 1 and not any(isinstance(k, Node) and k.name in _UNSORTED for k in kids):
        parts.sort()
    return "".join(parts)


def _prehash(event: Node) -> str:
    head = "eventType=" + event.name + _ordered(event.children, PROP_ORDER)
    rest = [k for k in event.children if not (isinstance(k, Node) and k.name in _NOT_HASHED)]
    return head + (_generic(rest) if rest else "")


def _events(document: Mapping[str, Any]) -> list[Any]:
    body = document.get("epcisBody")
    if not isinstance(body, dict):
        raise HashInputError("no epcisBody")
    if "eventList" in body:
        events = body["eventList"]
    elif "queryResults" in body:
        events = body["queryResults"]["resultsBody"]["eventList"]
    elif "event" in body:
        events = [body["event"]]
    else:
        raise HashInputError("epcisBody holds no events")
    if not isinstance(events, list):
        raise HashInputError("eventList is not a list")
    return events


def prehash_strings(document: Mapping[str, Any]) -> list[str]:
    """The canonical pre-hash string of each event of an EPCIS 2.0 JSON(-LD) document, in document order."""
    context = [c for c in document.get("@context", []) if not isinstance(c, dict) or c] \
        if isinstance(document.get("@context"), list) else document.get("@context")
    ns = _namespaces(context)
    events = _events(document)
    uris = set(_vocabulary(events))
    events = _replace_bare(events, uris)
    return [_prehash(_restructure(_to_node(ev, ns))) for ev in events]


def hash_id(prehash: str) -> str:
    """The event hash ID of a pre-hash string."""
    return f"ni:///sha-256;{hashlib.sha256(prehash.encode('utf-8')).hexdigest()}?ver=CBV2.0"


def document_hash_ids(document: Mapping[str, Any]) -> list[str]:
    """The event hash ID of each event of a document, in document order."""
    return [hash_id(p) for p in prehash_strings(document)]


def event_hash_id(event: Mapping[str, Any], context: Any = None) -> str:
    """The event hash ID of one event (with the ``@context`` of its document, for namespaced extensions)."""
    return document_hash_ids({"@context": context or [], "epcisBody": {"eventList": [dict(event)]}})[0]
