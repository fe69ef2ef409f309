"""Simulated Yangtze Delta express traffic: a day of contract events with injected faults.

``generate(parcels, seed)`` yields event dicts in time order; ``generate_lines``
yields the same as JSON Lines bytes; :class:`Simulation` also gives timed
iterators and the fault manifest. Output is deterministic per arguments.
"""

from greenshield.simulate.day import DEFAULT_START, Simulation, generate, generate_lines, parse_start

__all__ = ["DEFAULT_START", "Simulation", "generate", "generate_lines", "parse_start"]
