"""What the sender check costs per event: the worker's decode with and without it, signing, and the peers.

Method: simulate a day (deterministic seed), keep its parcel events, sign each as its
enterprise; then, in this process, alternating ROUNDS times, time over all events
(a) ``decode_message`` without the sender check (the baseline), (b) with it,
(c) signing (``Signer.headers``, what the SDK adds per event), and the peers:
(d) one bare HMAC-SHA256 of the value (the floor of any keyed check) and
(e) an Ed25519 verify (the public-key design we did not take). Median per round, in
microseconds per event, and as ratios to the baseline decode.
"""

from __future__ import annotations

import argparse
import hmac
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from greenshield.stream.decode import Context, decode_message
from greenshield.sdk.sender import Signer, Verifier

MASTER = b"bench-master-sender-key"


def events(parcels: int, seed: int, out: Path) -> list[bytes]:
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "greenshield.cli", "simulate", "--parcels", str(parcels),
                        "--seed", str(seed), "--fault-rate", "0", "--out", str(out)], check=True)
    lines = [line for line in out.read_bytes().splitlines() if line.strip()]
    return [line for line in lines if b'"registry"' not in line]


def per_event(fn: Callable[[], None], n: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--parcels", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dir", type=Path, default=Path("var/bench"))
    args = ap.parse_args()

    values = events(args.parcels, args.seed, args.dir / f"sender-{args.parcels}-{args.seed}.jsonl")
    signer = Signer.system(MASTER)
    signed = [(v, signer.headers(orjson.loads(v)["enterprise_id"], v)) for v in values]
    hkey = b"bench-hmac-key"
    plain = Context(hkey, "gs.registry.v1", "gs.events.v1")
    checked = Context(hkey, "gs.registry.v1", "gs.events.v1", sender=Verifier(MASTER))
    ed = Ed25519PrivateKey.generate()
    ed_pub = ed.public_key()
    ed_sigs = [ed.sign(v) for v in values]
    enterprises = [orjson.loads(v)["enterprise_id"] for v in values]
    n = len(values)

    def decode(ctx: Context) -> Callable[[], None]:
        def run() -> None:
            for i, (v, h) in enumerate(signed):
                got = decode_message("gs.events.v1", 0, i, None, v, h, ctx)
                assert got is not None and type(got).__name__ == "Candidate", got
        return run

    def sign() -> None:
        for v, e in zip(values, enterprises):
            signer.headers(e, v)

    def bare_hmac() -> None:
        for v in values:
            hmac.digest(MASTER, v, "sha256")

    def ed25519() -> None:
        for v, s in zip(values, ed_sigs):
            ed_pub.verify(s, v)

    results: dict[str, list[float]] = {k: [] for k in ("decode", "decode+check", "sign", "hmac", "ed25519")}
    for _ in range(args.rounds):  # alternate, so drift on a shared machine hits every row alike
        results["decode"].append(per_event(decode(plain), n, 1))
        results["decode+check"].append(per_event(decode(checked), n, 1))
        results["sign"].append(per_event(sign, n, 1))
        results["hmac"].append(per_event(bare_hmac, n, 1))
        results["ed25519"].append(per_event(ed25519, n, 1))
    med = {k: statistics.median(v) for k, v in results.items()}
    base = med["decode"]
    print(f"sender check: {n} parcel events ({args.parcels} parcels, seed {args.seed}), {args.rounds} rounds, "
          f"median; Python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(f"  {'what':<34} {'us/event':>9} {'vs decode':>10}")
    rows = [("decode, no sender check (baseline)", "decode"), ("decode + sender check (worker)", "decode+check"),
            ("signing (SDK, per event)", "sign"), ("peer: one bare HMAC-SHA256", "hmac"),
            ("peer: one Ed25519 verify", "ed25519")]
    for label, k in rows:
        print(f"  {label:<34} {med[k]:>9.2f} {med[k] / base:>9.2f}x")
    print(f"  the check adds {med['decode+check'] - base:.2f} us per event to the worker's decode "
          f"({(med['decode+check'] / base - 1) * 100:.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
