"""Cohn–Elkies bounds: known values, soundness of every verified bound, and the game's protocol."""

from __future__ import annotations

import math
from fractions import Fraction

import flint
import mpmath
import numpy as np
import pytest
from scipy import integrate, special

from discover.check import check_game
from discover.types import EvalContext, Outcome, Player, Status
from games.sphere_packing import (
    SpherePackingGame,
    best_known_density,
    cohn_elkies_bound,
    laguerre,
    verify_certificate,
)
from games.sphere_packing.game import lp_formulation

E8 = math.pi ** 4 / 384
LEECH = math.pi ** 12 / math.factorial(12)
HEXAGONAL = math.pi / math.sqrt(12)


def _f(result, radius: float, fourier: bool = False) -> float:
    """f(x) (or f^(y)) at |x| = radius, in 60-digit arithmetic from the exact coefficients."""
    n = result.formulation.dimension
    with mpmath.workdps(60):
        t = 2 * mpmath.pi * mpmath.mpf(radius) ** 2
        alpha = mpmath.mpf(n) / 2 - 1
        total = mpmath.fsum((-1) ** (k * fourier) * mpmath.mpf(a.numerator) / a.denominator * mpmath.laguerre(k, alpha, t)
                            for k, a in enumerate(result.coefficients))
        return float(total * mpmath.exp(-t / 2))


@pytest.fixture(scope="module")
def dimension_two():
    return cohn_elkies_bound(2, 15)


def test_dimension_one_bound_is_one():
    result = cohn_elkies_bound(1, 7)
    assert result.verified, result.reason
    assert 1.0 <= result.density < 1.0 + 1e-5


def test_dimension_two_matches_hexagonal_packing(dimension_two):
    assert dimension_two.verified, dimension_two.reason
    assert HEXAGONAL <= dimension_two.density < HEXAGONAL + 1e-4


def test_dimension_eight_approaches_e8_from_above():
    bounds = []
    for degree in (7, 15, 23):
        result = cohn_elkies_bound(8, degree, radius=math.sqrt(2))
        assert result.verified, result.reason
        bounds.append(result.density)
    assert all(b >= E8 for b in bounds)
    assert bounds[0] > bounds[1] > bounds[2]  # tighter with the degree
    assert bounds[2] - E8 < 5e-4 * E8


def test_dimension_twenty_four_at_the_leech_radius_is_within_half_a_percent():
    """Degree 39 at r = 2 (Leech's minimal distance): the margin must not eat the bound, and HiGHS
    must meet its tolerances (unit-norm Laguerre rows made both fail here)."""
    result = cohn_elkies_bound(24, 39, radius=2.0)
    assert result.verified, result.reason
    assert LEECH <= result.density < 1.005 * LEECH


@pytest.mark.slow
def test_dimension_twenty_four_default_is_within_one_percent_of_leech():
    result = cohn_elkies_bound(24)
    assert result.verified, result.reason
    assert LEECH <= result.density < 1.01 * LEECH


@pytest.mark.parametrize("dimension", [3, 5, 12])
def test_verified_bounds_are_never_below_the_best_known_packing(dimension):
    result = cohn_elkies_bound(dimension, 11)
    assert result.verified, result.reason
    assert result.density >= best_known_density(dimension)


def test_sign_conditions_hold_when_sampled_independently(dimension_two):
    """f <= 0 beyond r and f^ >= 0 everywhere, checked at many points in 60-digit arithmetic."""
    r = dimension_two.radius
    for radius in np.linspace(r, 6 * r, 400):
        assert _f(dimension_two, radius) <= 0
    for radius in np.linspace(0, 6 * r, 400):
        assert _f(dimension_two, radius, fourier=True) >= 0
    assert _f(dimension_two, 0) > 0


def test_laguerre_functions_are_fourier_eigenfunctions():
    """The Fourier transform of a verified f, by numerical Hankel transform, equals the q-side series."""
    result = cohn_elkies_bound(3, 7, radius=1.0)
    assert result.verified
    n, nu = 3, 0.5
    for rho in (0.3, 0.8, 1.4):
        def integrand(s, rho=rho):
            return _f(result, s) * special.jv(nu, 2 * math.pi * rho * s) * s ** (n / 2)
        transform, _ = integrate.quad(integrand, 0, 8, limit=400, epsabs=1e-12)
        transform *= 2 * math.pi * rho ** (1 - n / 2)
        assert transform == pytest.approx(_f(result, rho, fourier=True), rel=1e-7, abs=1e-10)


def test_verifier_rejects_a_function_whose_transform_goes_negative():
    check = verify_certificate(4, [1, 2])  # q = 1 - 2 (2 - t) is negative at 0
    assert not check.verified and "f^(0)" in check.reason
    # a bound that only holds numerically: push a verified certificate below the margin it needs
    result = cohn_elkies_bound(8, 15, radius=math.sqrt(2))
    coefficients = list(result.coefficients)
    coefficients[0] -= Fraction(1, 10 ** 4)
    broken = verify_certificate(8, coefficients, 2 * math.pi * result.radius ** 2)
    assert not broken.verified and broken.violation_t is not None


def test_exact_and_floating_point_laguerre_agree():
    polys = laguerre.exact_polynomials(12, Fraction(5, 2))
    t = np.array([0.0, 0.7, 5.0, 30.0])
    floats = laguerre.values(12, 2.5, t)
    exact = np.array([[float(p(flint.fmpq(round(10 * x), 10))) for p in polys] for x in t])
    assert np.allclose(floats, exact, rtol=1e-10, atol=1e-10)


def test_bad_formulations_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="odd"):
        cohn_elkies_bound(4, 10)
    with pytest.raises(ValueError, match="basis"):
        cohn_elkies_bound(4, 7, basis="hermite")
    with pytest.raises(ValueError, match="solver"):
        cohn_elkies_bound(4, 7, solver="sdpa-gmp")
    with pytest.raises(ValueError, match="dimension"):
        cohn_elkies_bound(0, 7)


@pytest.fixture(scope="module")
def evaluated():
    game = SpherePackingGame(dimension=2, max_degree=11)
    state = ("cohn-elkies", 7, "laguerre", "highs", 1e-8)
    return game, state, game.evaluate(state, EvalContext())


def test_game_protocol_and_one_verified_evaluation(evaluated):
    game, state, outcome = evaluated
    check_game(game, evaluate=False)
    assert outcome.status is Status.OK, outcome.message
    assert -outcome.value >= HEXAGONAL
    assert "density <=" in outcome.artifacts["summary"]
    assert game.verify(state, outcome) is None
    weaker = Outcome.ok(outcome.value - 0.01, outcome.artifacts, outcome.cost_seconds)  # a weaker bound is true
    assert game.verify(state, weaker) is None


def test_verify_refuses_a_bound_lowered_by_one_ulp(evaluated):
    game, state, outcome = evaluated
    lowered = Outcome.ok(math.nextafter(outcome.value, math.inf), outcome.artifacts, outcome.cost_seconds)
    assert "below the re-verified" in game.verify(state, lowered)


@pytest.mark.parametrize("field", ["density", "center_density", "radius"])
def test_verify_refuses_any_forged_claim_in_the_artifacts(evaluated, field):
    game, state, outcome = evaluated
    forged = {**outcome.artifacts, field: math.nextafter(outcome.artifacts[field], 0.0)}
    assert field in game.verify(state, Outcome.ok(outcome.value, forged, outcome.cost_seconds))


def test_verify_refuses_forged_coefficients_formulation_and_summary(evaluated):
    game, state, outcome = evaluated
    art = outcome.artifacts

    def refused(**changes) -> str | None:
        return game.verify(state, Outcome.ok(outcome.value, {**art, **changes}, outcome.cost_seconds))

    shifted = [str(Fraction(a) - Fraction(1, 100) * (k == 0)) for k, a in enumerate(art["coefficients"])]
    assert refused(coefficients=shifted) is not None
    assert "coefficients" in refused(coefficients=art["coefficients"][:-2])
    assert "formulation" in refused(formulation={**art["formulation"], "dimension": 3})
    assert "summary" in refused(summary=art["summary"].replace("density <= 0.9", "density <= 0.8"))
    assert "verified" in refused(verified=False)
    assert "radius" in refused(radius=None)
    assert "certificate field" in refused(coefficients=["not a number"])


def test_every_move_is_a_sampled_lp_formulation():
    """The sum-of-squares moves are gone (no candidate of theirs ever verified): every terminal state
    is a degree, a basis, an LP solver and a margin."""
    game = SpherePackingGame(dimension=2, max_degree=11)
    frontier, terminal = [game.initial_state()], []
    while frontier:
        state = frontier.pop()
        if game.to_move(state) is Player.TERMINAL:
            terminal.append(lp_formulation(game.dimension, state[1:]))
        else:
            frontier.extend(game.apply(state, a) for a in game.actions(state))
    assert len(terminal) == 2 * 3 * 3 * 3
    assert {f.solver for f in terminal} == {"highs", "clarabel", "scs"}


def test_families_bring_their_own_slots_and_a_mixed_game_encodes_from_the_tree():
    """One game, two families: the family move decides which slots follow; with both, the game offers
    no fixed-length features (the surrogates then encode the conditional space from the tree)."""
    from games.sphere_packing import FAMILIES, ThreePointGame

    both = SpherePackingGame(dimension=3, max_degree=11, max_kernel_degree=6, families="cohn-elkies,three-point")
    check_game(both, playouts=20, evaluate=False)
    assert both.actions(()) == ("cohn-elkies", "three-point") and both.features() == ()
    assert [s.name for s in both.slots_of(("cohn-elkies",))] == ["family", "degree", "basis", "solver", "margin"]
    assert [s.name for s in both.slots_of(("three-point",))] == [
        "family", "degree", "kernel_degree", "truncation", "solver", "margin", "radius_scale", "blocks"]
    assert both.default_timeout == max(f.timeout for f in FAMILIES.values())
    alone = ThreePointGame(dimension=3, max_kernel_degree=6)
    assert alone.actions(()) == ("three-point",) and len(alone.features()) == 8
    assert SpherePackingGame().actions(()) == ("cohn-elkies",) and SpherePackingGame().default_timeout == 45.0
    with pytest.raises(ValueError, match="families"):
        SpherePackingGame(families="cohn-elkies,four-point")


def test_the_three_point_f2_degrees_reach_what_higher_dimensions_need_only_when_asked():
    """f2 degree 15 is 1.5% above CdLS in n = 12 where 31 is below it (README): ``max_f2_degree`` opens
    23 and 31; the default keeps the space (and the campaigns measured on it) as it was."""
    from games.sphere_packing import ThreePointGame

    def degrees(game):
        return game.slots_of(("three-point",))[1].choices

    assert degrees(ThreePointGame(dimension=12)) == (7, 11, 15)
    assert degrees(ThreePointGame(dimension=12, max_f2_degree=31)) == (7, 11, 15, 23, 31)
    assert degrees(SpherePackingGame(families="three-point", max_f2_degree=23)) == (7, 11, 15, 23)
    check_game(ThreePointGame(dimension=12, max_kernel_degree=6, max_f2_degree=31), playouts=10, evaluate=False)
    with pytest.raises(ValueError, match="max_f2_degree"):
        ThreePointGame(max_f2_degree=5)


def test_a_failing_formulation_is_recorded_not_raised():
    game = SpherePackingGame(dimension=8, max_degree=31)
    outcome = game.evaluate(("cohn-elkies", 31, "chebyshev", "highs", 1e-8), EvalContext())
    assert outcome.status is Status.FAILED and outcome.message


def test_time_limit_stops_the_radius_search_and_says_so():
    result = cohn_elkies_bound(4, 11, time_limit=1e-9)
    assert not result.verified and "time limit" in result.reason
    quick = cohn_elkies_bound(4, 11, time_limit=0.5)  # a few radii only: still a verified bound
    full = cohn_elkies_bound(4, 11)
    assert quick.verified and quick.density >= full.density - 1e-12
