"""The demo's options (no heavy imports: the CLI reads the defaults when it builds its parser)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DemoOptions:
    embedded: bool = False
    parcels: int = 5000
    rate: float = 100.0
    fault_rate: float = 0.05
    noise_rate: float = 0.01
    duration: float | None = None  # seconds of streaming; None: the whole day, then until Ctrl-C
    seed: int = 7
    data_dir: Path = Path("var/demo")
    port: int | None = None  # None: GREENSHIELD_API_PORT (8000), or a free port if that is taken; 0: a free port
    bootstrap: str | None = None  # a broker to use (never started or stopped by the demo)
    host: str = "127.0.0.1"

    @property
    def mode(self) -> str:
        return "embedded" if self.embedded else "kafka"
