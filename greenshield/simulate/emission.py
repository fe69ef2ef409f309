"""The simulated day's events as contract events: each enterprise's event ids and timestamp styles, and the
noise lines (duplicates, malformed JSON, a missing offset) with what the pipeline should do with each."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson

from greenshield.simulate import faults
from greenshield.simulate.entities import Enterprise
from greenshield.simulate.model import CST_OFFSET_MS, Ev, format_ts

Payload = dict[str, Any] | bytes  # an event, or a malformed line (noise)

# per enterprise: (share written in Z, share written with +00:00, share with a fraction)
_TS_STYLE: dict[str, tuple[float, float, float]] = {
    "E3100001": (0.05, 0.0, 0.02),
    "E3100002": (0.10, 0.05, 0.0),
    "E3200001": (0.10, 0.0, 0.5),
    "E3300001": (0.15, 0.02, 0.03),
    "E3300002": (0.0, 0.0, 0.05),
}

NOISE_EXPECT = {
    "exact_duplicate": "drop",
    "conflicting_duplicate": "reject",
    "malformed_json": "reject",
    "no_offset": "reject",
}



def _identity(d: dict[str, Any]) -> dict[str, Any]:
    return d


_OPT = orjson.OPT_APPEND_NEWLINE


def _dumps(d: dict[str, Any]) -> bytes:
    # copied: orjson's own result object keeps a buffer several times its length
    return bytes(memoryview(orjson.dumps(d, option=_OPT)))



class Emitter:
    """Renders parcels' events (as dicts, or as JSON lines when ``as_bytes``) and injects noise at ``noise_rate``."""

    def __init__(self, rng: random.Random, as_bytes: bool, noise_rate: float, event_counter: dict[str, int],
                 manifest: list[dict[str, Any]]) -> None:
        self.rng = rng
        # bytes: events are rendered as soon as made (compact, and invisible to the
        # garbage collector while they wait); dicts: malformed-JSON noise is left out
        self.as_bytes = as_bytes
        self.render: Callable[[dict[str, Any]], Payload] = _dumps if as_bytes else _identity
        self.noise_rate = noise_rate
        self.event_counter = event_counter
        self.manifest = manifest

    def emit(self, e: Enterprise, waybill: str, evs: list[Ev]) -> list[tuple[int, Payload]]:
        """A parcel's events as ``(time, payload)``: contract events in the enterprise's own styles, and noise."""
        rng = self.rng
        ent = e.spec.id
        p_z, p_utc, p_frac = _TS_STYLE.get(ent, (0.0, 0.0, 0.0))
        noise_at = -1
        noise_kind = ""
        if rng.random() < self.noise_rate and evs:
            noise_kind = faults.NOISE_KINDS[int(rng.random() * len(faults.NOISE_KINDS))]
            noise_at = int(rng.random() * len(evs))
        out: list[tuple[int, Payload]] = []
        append = out.append
        render = self.render
        random_ = rng.random
        p_zu = p_z + p_utc
        style = e.spec.event_id_style
        base = self.event_counter[ent]
        self.event_counter[ent] = base + len(evs)
        dotted = f"{ent.lower()}.ev."
        for k, ev in enumerate(evs):
            t = ev.t
            if p_frac and random_() < p_frac:
                t += 1 + int(random_() * 999)
            if p_zu:
                r = random_()
                if r < p_z:
                    ts = format_ts(t, 0, "Z")
                elif r < p_zu:
                    ts = format_ts(t, 0, "+00:00")
                else:
                    ts = format_ts(t)
            else:
                ts = format_ts(t)
            if style == "waybill":
                eid = f"{waybill}-{k + 1:02d}"
            elif style == "counter":
                eid = f"EV{base + k + 1:011d}"
            else:
                eid = f"{dotted}{base + k + 1:09d}"
            d: dict[str, Any] = {
                "v": 1,
                "event_id": eid,
                "type": ev.type,
                "enterprise_id": ent,
                "waybill_no": waybill,
                "occurred_at": ts,
                "site_id": ev.site,
            }
            if ev.staff is not None:
                d["staff_id"] = ev.staff
            if ev.extra:
                d.update(ev.extra)
            append((t, render(d)))
            if k == noise_at:
                noisy = self._noise(noise_kind, d, t)
                if noisy is not None:
                    append((t, noisy))
                self.manifest.append(
                    {
                        "kind": "noise",
                        "waybill_no": waybill,
                        "enterprise_id": ent,
                        "event_id": eid,
                        "noise": noise_kind,
                        "expect": NOISE_EXPECT[noise_kind],
                    }
                )
        return out

    def _noise(self, kind: str, d: dict[str, Any], t: int) -> Payload | None:
        rng = self.rng
        copy: dict[str, Any] = orjson.loads(orjson.dumps(d))
        if kind == "exact_duplicate":
            return self.render(copy)
        if kind == "conflicting_duplicate":
            # same key, different content, and no difference to any rule
            if copy["type"] == "acceptance":
                copy["weight_g"] = int(copy["weight_g"]) + 1 + int(rng.random() * 50)
            elif copy["type"] == "xray":
                copy["image_ref"] = f"xr/retry/{t // 1000}"
            else:
                copy["retransmit"] = 1
            return self.render(copy)
        if kind == "no_offset":
            copy["occurred_at"] = format_ts(t, CST_OFFSET_MS, "")
            return self.render(copy)
        text = orjson.dumps(d).decode()
        cut = text[: 10 + int(rng.random() * (len(text) - 12))]
        return (cut + "\n").encode() if self.as_bytes else None
