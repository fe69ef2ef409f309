"""Scoring risk sources: time decay, a Beta prior at the regional rate, credible intervals, warning levels.

Pure: no I/O, no clock. A source's *exposure* is the decayed count of parcels it
handled; its *weighted violations* the decayed sum, per parcel, of its incidents'
weights (a parcel counts at most 1, so the rate is a share of parcels). With the
regional rate ``r`` of its kind and the prior strength ``k`` (in parcels), the
posterior is ``Beta(r·k + V, (1 - r)·k + E - V)`` and the score its mean: a source
with few parcels stays near ``r``, one with many shows its own rate. Its level is the
highest threshold the mean reaches, given that the interval's lower end is above ``r``.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from greenshield.risk.model import LEVELS, RiskModel

HOUR = 3600
_EPS = 1e-6


@dataclass(frozen=True)
class Incident:
    """One violation (or prohibited finding) attributed to a source: its parcel, rule, weight and age."""

    source: str
    parcel: tuple[str, str]
    rule_id: str
    weight: float
    age_h: int
    ident: str


@dataclass
class SourceScore:
    """A scored source; ``mean`` is the score as a rate per parcel (shown per 1,000 parcels)."""

    source: str
    parcels: int
    exposure: float
    weighted: float
    alpha: float
    beta: float
    mean: float
    level: str | None
    by_rule: dict[str, int] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)


def decay(age_h: int, half_life_s: int) -> float:
    """The weight of something ``age_h`` whole hours old: 1 now, 1/2 one half-life ago."""
    return float(0.5 ** (max(age_h, 0) * HOUR / half_life_s))


def exposure_of(buckets: Mapping[int, int], half_life_s: int) -> float:
    """Decayed parcel count of ``{age in hours: parcels}``."""
    return sum(n * decay(age, half_life_s) for age, n in sorted(buckets.items()))


def weighted_of(incidents: Iterable[Incident], half_life_s: int) -> float:
    """Decayed weighted violations: per parcel, its weights summed (at most 1), at its newest incident's age."""
    per: dict[tuple[str, str], list[Incident]] = defaultdict(list)
    for inc in incidents:
        per[inc.parcel].append(inc)
    total = 0.0
    for parcel in sorted(per):
        found = per[parcel]
        total += min(1.0, sum(i.weight for i in found)) * decay(min(i.age_h for i in found), half_life_s)
    return total


def regional_rate(exposure: float, weighted: float) -> float:
    """The kind's rate over the whole region, kept inside (0, 1) so the prior is proper."""
    if exposure <= 0:
        return _EPS
    return min(max(weighted / exposure, _EPS), 1 - _EPS)


def posterior(weighted: float, exposure: float, rate: float, prior_parcels: float) -> tuple[float, float]:
    """Beta parameters after ``weighted`` violations in ``exposure`` parcels, prior mean ``rate``."""
    return rate * prior_parcels + weighted, (1 - rate) * prior_parcels + max(exposure - weighted, 0.0)


def level_of(alpha: float, beta: float, rate: float, weighted: float, model: RiskModel) -> str | None:
    """The warning level of a posterior: the highest threshold its mean reaches.

    None without any violation, and none unless the credible interval's lower end is
    above the regional rate: a level needs evidence that the source is worse than the region.
    """
    mean = alpha / (alpha + beta)
    value = mean / rate if model.level_basis == "ratio" else mean * 1000
    reached = [lv for lv in LEVELS if value >= model.levels[lv]]
    if weighted <= 0 or not reached:
        return None
    if not quantile_above((1 - model.interval) / 2, alpha, beta, rate):
        return None
    return reached[-1]


def level_rank(level: str | None) -> int:
    """0 for no level, 1 blue ... 4 red."""
    return LEVELS.index(level) + 1 if level in LEVELS else 0


def score_kind(kind: str, exposure: Mapping[str, Mapping[int, int]], incidents: Iterable[Incident],
               model: RiskModel) -> tuple[float, list[SourceScore]]:
    """Every source of a kind with parcels, ranked (highest score first); and the regional rate."""
    by_source: dict[str, list[Incident]] = defaultdict(list)
    for inc in incidents:
        if inc.source in exposure:
            by_source[inc.source].append(inc)
    hl = model.half_life_s
    exp = {s: exposure_of(b, hl) for s, b in exposure.items()}
    wtd = {s: weighted_of(by_source[s], hl) if s in by_source else 0.0 for s in exposure}
    rate = regional_rate(sum(exp.values()), sum(wtd.values()))
    out = []
    for source in sorted(exposure):
        a, b = posterior(wtd[source], exp[source], rate, model.prior_parcels)
        mean = a / (a + b)
        found = by_source.get(source)
        if not found:  # most sources: no incident, no level (what the general path gives them, sooner)
            out.append(SourceScore(source, sum(exposure[source].values()), exp[source], 0.0, a, b, mean, None))
            continue
        rules: dict[str, int] = defaultdict(int)
        for inc in found:
            rules[inc.rule_id] += 1
        out.append(SourceScore(source, sum(exposure[source].values()), exp[source], wtd[source], a, b, mean,
                               level_of(a, b, rate, wtd[source], model), dict(sorted(rules.items())),
                               sorted({i.ident for i in found})))
    out.sort(key=lambda s: (-s.mean, -s.parcels, s.source))
    return rate, out


# --- the Beta distribution's quantiles (for the interval of the sources shown)

def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 20_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d, c = 1.0 + aa * d, 1.0 + aa / c
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d, c = 1.0 + aa * d, 1.0 + aa / c
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-12:
            break
    return h


def beta_cdf(x: float, a: float, b: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    ln = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(ln) * _betacf(a, b, x) / a
    return 1.0 - math.exp(ln) * _betacf(b, a, 1 - x) / b


@functools.lru_cache(maxsize=4096)
def beta_quantile(p: float, a: float, b: float) -> float:
    """The ``p``-quantile of Beta(a, b), by bisection (deterministic, 60 steps; remembered, as a
    level and an interval ask for the same lower end)."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if beta_cdf(mid, a, b) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def quantile_above(p: float, a: float, b: float, x: float) -> bool:
    """Whether ``beta_quantile(p, a, b) > x``, by the same bisection stopped once ``x`` is outside it.

    The same steps as :func:`beta_quantile` until the bracket ``[lo, hi]`` no longer holds ``x``
    (the result lies in the bracket), so the same answer, mostly after a few steps, not 60.
    """
    lo, hi = 0.0, 1.0
    for _ in range(60):
        if hi <= x:
            return False
        if lo > x:
            return True
        mid = (lo + hi) / 2
        if beta_cdf(mid, a, b) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2 > x


def interval(score: SourceScore, mass: float) -> tuple[float, float]:
    """The central credible interval of ``mass`` around a score (rates per parcel)."""
    tail = (1 - mass) / 2
    return beta_quantile(tail, score.alpha, score.beta), beta_quantile(1 - tail, score.alpha, score.beta)
