"""The pure scoring core: decay, the Beta prior at the regional rate, levels, intervals (no servers)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenshield.risk.model import default_model
from greenshield.risk.score import (
    Incident,
    beta_cdf,
    beta_quantile,
    decay,
    interval,
    level_rank,
    posterior,
    score_kind,
    weighted_of,
)

MODEL = default_model()
HL = MODEL.half_life_s


def incidents(source: str, n: int, weight: float = 1.0, age_h: int = 0, start: int = 0) -> list[Incident]:
    return [Incident(source, ("E1000001", f"W{start + k:08d}"), "XR-1", weight, age_h, f"v{start + k}")
            for k in range(n)]


def world(extra: dict[str, tuple[int, int]] | None = None) -> tuple[dict[str, dict[int, int]], list[Incident]]:
    """40 ordinary sites of 200 parcels with 4 violations each, and any ``extra`` (parcels, violations)."""
    exposure: dict[str, dict[int, int]] = {}
    found: list[Incident] = []
    for k in range(40):
        exposure[f"S{k:08d}"] = {0: 200}
        found += incidents(f"S{k:08d}", 4, start=k * 1000)
    for source, (parcels, bad) in (extra or {}).items():
        exposure[source] = {0: parcels}
        found += incidents(source, bad, start=900_000)
    return exposure, found


class TestDecay:
    def test_half_life(self) -> None:
        """Now counts 1, one half-life ago 1/2, two half-lives 1/4."""
        hours = HL // 3600
        assert decay(0, HL) == 1.0
        assert decay(hours, HL) == pytest.approx(0.5)
        assert decay(2 * hours, HL) == pytest.approx(0.25)

    def test_a_parcel_counts_at_most_once(self) -> None:
        """Three critical violations of one parcel weigh 1, not 3."""
        parcel = [Incident("S1", ("E1000001", "W1"), r, 1.0, 0, r) for r in ("XR-1", "PH-1", "IN-2")]
        assert weighted_of(parcel, HL) == 1.0

    def test_old_violations_weigh_less(self) -> None:
        """The same source scores lower when its violations are a fortnight old than when they are fresh."""
        exposure, base = world()
        fresh = score_kind("site", {**exposure, "S9": {0: 100}}, base + incidents("S9", 30), MODEL)[1]
        old = score_kind("site", {**exposure, "S9": {0: 100}}, base + incidents("S9", 30, age_h=24 * 14), MODEL)[1]
        assert next(s for s in old if s.source == "S9").mean < next(s for s in fresh if s.source == "S9").mean


class TestShrinkage:
    def test_one_parcel_one_violation_does_not_top_the_list(self) -> None:
        """1 parcel with 1 critical violation (a raw rate of 100 %) ranks below the bad site and below
        each of 12 sites with 5 % bad over 200 parcels (the region: 3 %): outside the top 10."""
        exposure, found = world({"S_TINY": (1, 1), "S_BAD": (200, 40)})
        for k in range(12):
            found += incidents(f"S{k:08d}", 6, start=700_000 + k * 10)
        ranked = [s.source for s in score_kind("site", exposure, found, MODEL)[1]]
        assert ranked[0] == "S_BAD"
        assert ranked.index("S_TINY") > 10

    def test_no_level_for_a_tiny_source(self) -> None:
        """The tiny site gets no warning level: its interval reaches below the regional rate."""
        exposure, found = world({"S_TINY": (1, 1)})
        tiny = next(s for s in score_kind("site", exposure, found, MODEL)[1] if s.source == "S_TINY")
        assert tiny.level is None

    @settings(max_examples=60, deadline=None)
    @given(parcels=st.integers(1, 5000), bad=st.integers(0, 5000))
    def test_the_score_lies_between_the_regional_and_the_raw_rate(self, parcels: int, bad: int) -> None:
        """Shrinkage: the posterior mean is between the prior mean and the source's own rate."""
        bad = min(bad, parcels)
        rate = 0.02
        a, b = posterior(float(bad), float(parcels), rate, MODEL.prior_parcels)
        mean, raw = a / (a + b), bad / parcels
        assert min(rate, raw) - 1e-12 <= mean <= max(rate, raw) + 1e-12

    @settings(max_examples=40, deadline=None)
    @given(bad=st.integers(0, 3))
    def test_tiny_volume_is_pulled_toward_the_regional_rate(self, bad: int) -> None:
        """With at most 3 parcels the score stays within 2 % (absolute) of the regional rate."""
        a, b = posterior(float(bad), 3.0, 0.02, MODEL.prior_parcels)
        assert abs(a / (a + b) - 0.02) < 0.02


class TestMonotonicity:
    @settings(max_examples=50, deadline=None)
    @given(parcels=st.integers(10, 400), bad=st.integers(0, 9), more=st.integers(1, 5),
           weight=st.sampled_from([0.3, 0.6, 1.0]))
    def test_more_violations_never_lower_a_score(self, parcels: int, bad: int, more: int, weight: float) -> None:
        """Adding violations to a source (the regional rate moving with them) never lowers its score."""
        exposure, found = world()
        exposure["S_X"] = {0: parcels}
        before = incidents("S_X", bad, weight, start=500_000)
        after = incidents("S_X", bad + more, weight, start=500_000)

        def score(extra: list[Incident]) -> float:
            return next(s.mean for s in score_kind("site", exposure, found + extra, MODEL)[1] if s.source == "S_X")

        assert score(after) >= score(before)

    @settings(max_examples=40, deadline=None)
    @given(bad=st.integers(1, 50))
    def test_levels_never_fall_with_more_violations(self, bad: int) -> None:
        """A source's level rank is monotone in its violations."""
        exposure, found = world()
        exposure["S_X"] = {0: 300}
        ranks = []
        for n in (bad, bad + 10):
            scored = score_kind("site", exposure, found + incidents("S_X", n, start=500_000), MODEL)[1]
            ranks.append(level_rank(next(s.level for s in scored if s.source == "S_X")))
        assert ranks[1] >= ranks[0]


class TestLevelsAndIntervals:
    def test_a_clearly_bad_source_is_red_and_an_ordinary_one_has_no_level(self) -> None:
        """40 % bad over 200 parcels against a 2 % region is red (蓝 黄 橙 红: the highest); 2 % is none."""
        exposure, found = world({"S_BAD": (200, 80)})
        scored = {s.source: s for s in score_kind("site", exposure, found, MODEL)[1]}
        assert scored["S_BAD"].level == "red"
        assert scored["S00000000"].level is None

    def test_the_interval_holds_the_score(self) -> None:
        exposure, found = world({"S_BAD": (200, 40)})
        bad = next(s for s in score_kind("site", exposure, found, MODEL)[1] if s.source == "S_BAD")
        lo, hi = interval(bad, 0.9)
        assert lo < bad.mean < hi

    @pytest.mark.parametrize("a, b", [(1.0, 1.0), (2.0, 5.0), (0.5, 0.5), (30.0, 900.0), (4.0, 20000.0)])
    def test_beta_quantile_inverts_the_cdf(self, a: float, b: float) -> None:
        """quantile(cdf(x)) = x; Beta(1, 1) is uniform; the median of Beta(a, a) is 1/2."""
        for p in (0.05, 0.5, 0.95):
            assert beta_cdf(beta_quantile(p, a, b), a, b) == pytest.approx(p, abs=1e-9)
        assert beta_quantile(0.3, 1.0, 1.0) == pytest.approx(0.3)
        assert beta_quantile(0.5, 3.0, 3.0) == pytest.approx(0.5)
        assert math.isclose(beta_cdf(0.25, 2.0, 2.0), 3 * 0.25**2 - 2 * 0.25**3)

    def test_ranking_is_deterministic(self) -> None:
        """The same inputs in another order give the same ranking and numbers."""
        exposure, found = world({"S_BAD": (200, 40), "S_TINY": (1, 1)})
        one = score_kind("site", exposure, found, MODEL)[1]
        two = score_kind("site", dict(reversed(list(exposure.items()))), list(reversed(found)), MODEL)[1]
        assert [(s.source, s.mean, s.level, s.ids) for s in one] == [(s.source, s.mean, s.level, s.ids) for s in two]


def test_the_early_stopped_bisection_answers_as_the_full_quantile() -> None:
    """``quantile_above`` is ``beta_quantile(...) > x`` for any x, at the quantile itself and one ulp either side."""
    import random

    from greenshield.risk.score import quantile_above
    rng = random.Random(5)
    cases = 0
    for _ in range(150):
        a, b = rng.uniform(0.01, 40.0), rng.uniform(1.0, 5000.0)
        p = rng.choice((0.05, 0.025, 0.5, 0.95))
        q = beta_quantile(p, a, b)
        for x in (q, math.nextafter(q, 0.0), math.nextafter(q, 1.0), q * 0.999, q * 1.001, rng.random() * 0.02,
                  0.0, 1.0):
            assert quantile_above(p, a, b, x) == (q > x), (p, a, b, x)
            cases += 1
    assert cases == 1200
