"""Three-point bounds: the kernels, the exact and interval checks, soundness against known packings,
and an independent mpmath re-check of one certificate's conditions."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from games.sphere_packing import best_known_density, gegenbauer
from games.sphere_packing.intervals import Interval, Jet
from games.sphere_packing.three_point import Radii, ThreePointFormulation
from games.sphere_packing.three_point_bound import three_point_bound
from games.sphere_packing.three_point_recheck import recheck_on_grid
from games.sphere_packing.three_point_verify import (
    positive_definite,
    verify_three_point,
)

FCC = math.pi / math.sqrt(18)



@pytest.fixture(scope="module")
def bound():
    """Small enough for the default suite (kernel degree 4: f3 barely helps, but every check runs)."""
    return three_point_bound(3, 7, 4, truncation=1.3)


@pytest.fixture(scope="module")
def gaining():
    """Kernel degree 6: f3 carries weight and the bound drops below the LP bound (~15 s)."""
    return three_point_bound(3, 7, 6, truncation=1.3)


def test_zonal_kernels_exact_and_float_agree_and_are_positive_semidefinite():
    rng = np.random.default_rng(1)
    for n in (2, 3, 5):
        u = rng.normal(size=(25, n))
        a = (u ** 2).sum(1)
        aa, bb, cc = np.repeat(a, 25), np.tile(a, 25), (u @ u.T).ravel()
        values = gegenbauer.zonal_values(6, n, aa, bb, cc)
        for k, poly in enumerate(gegenbauer.zonal_exact(6, n)):
            exact = sum(float(v) * aa ** i * bb ** j * cc ** l for (i, j, l), v in poly.items())
            assert np.allclose(exact, values[:, k], rtol=1e-9, atol=1e-9)
            gram = values[:, k].reshape(25, 25)
            assert np.linalg.eigvalsh(gram).min() > -1e-8 * np.abs(gram).max()
    # h_2 for n = 3 is |u|^2 |v|^2 P_2(cos) with P_2 = (3t^2 - 1)/2
    assert gegenbauer.zonal_exact(2, 3)[2] == {(0, 0, 2): Fraction(3, 2), (1, 1, 0): Fraction(-1, 2)}


def test_exact_positive_definiteness():
    assert positive_definite(((Fraction(2), Fraction(1)), (Fraction(1), Fraction(1))))
    assert not positive_definite(((Fraction(1), Fraction(1)), (Fraction(1), Fraction(1))))  # singular
    assert not positive_definite(((Fraction(1), Fraction(2)), (Fraction(2), Fraction(1))))  # indefinite
    assert not positive_definite(((Fraction(2), Fraction(1)), (Fraction(0), Fraction(1))))  # not symmetric


def test_outward_steps_reach_past_the_neighbouring_floats():
    """up / down (|x| 2^-52 + 2^-1074 added or taken away) land at or beyond np.nextafter, across
    every exponent, the binade edges, zero and the subnormals."""
    from games.outward import down, up

    rng = np.random.default_rng(5)
    x = rng.normal(size=50_000) * 10.0 ** rng.integers(-320, 300, 50_000)
    edges = [0.0, 5e-324, 2.0 ** -1022, 2.0 ** -1021 - 5e-324, 1.0, 2.0, 0.5, 1.5, np.finfo(float).max / 4]
    x = np.concatenate([x, edges, np.negative(edges)])
    assert np.all(up(x) >= np.nextafter(x, np.inf))
    assert np.all(down(x) <= np.nextafter(x, -np.inf))


def test_intervals_enclose_the_exact_values():
    rng = np.random.default_rng(2)
    lo = rng.uniform(-2, 2, 200)
    hi = lo + rng.uniform(0, 1, 200)
    x, y = Interval(lo, hi), Interval(lo[::-1], hi[::-1])
    t = rng.uniform(0, 1, 200)
    px, py = lo + t * (hi - lo), lo[::-1] + t * (hi[::-1] - lo[::-1])
    base = np.abs(lo) + 0.1
    positive = Interval(base, base + 1)
    for got, want in ((x * y, px * py), (x + y, px + py), (x - y, px - py), (x ** 2, px ** 2),
                      (positive.reciprocal(), 1 / (base + t))):
        assert np.all(got.lo <= want) and np.all(want <= got.hi)
    # the jet of f = x^2 y / (x^2 + 1) encloses f's gradient and Hessian at every point of the box
    jx, jy, _ = Jet.variables([x, y, x])
    f = jx ** 2 * jy * (jx * jx + 1).reciprocal()
    q = 1 / (px ** 2 + 1)
    exact = {"x": 2 * px * py * q ** 2, "xx": 2 * py * q ** 2 - 8 * px ** 2 * py * q ** 3,
             "xy": 2 * px * q ** 2, "yy": 0 * px}
    got = {"x": f.grad[0], "xx": f.hess[0], "xy": f.hess[1], "yy": f.hess[3]}
    for name, want in exact.items():
        assert np.all(got[name].lo <= want + 1e-12) and np.all(want - 1e-12 <= got[name].hi), name


def test_verifier_enclosures_hold_the_exact_values_and_the_cover_decides_signs():
    """The Gram form of p at a vertex equals the exact expanded polynomial (mpmath, 50 digits) and its
    enclosures (value, gradient) hold it on boxes; the cached per-side Gaussian factors enclose exact
    values and derivatives; the adaptive cover accepts a function < 0 on the cube and reports a point
    where one is > 0."""
    from games.sphere_packing.three_point_verify import (
        ThreePointCertificate,
        _cover,
        _GramKernel,
        _SideWeights,
        _vertex,
        kernel_polynomial,
    )

    mpmath.mp.dps = 50
    rng = np.random.default_rng(3)
    for dimension in (2, 4):  # n = 2: Chebyshev, the recurrence's k = 0 step is never taken
        blocks = []
        for size in (3, 3, 2, 2, 1):  # kernel degree 4
            m = rng.normal(size=(size, size))
            blocks.append(tuple(tuple(Fraction(float(v)).limit_denominator(1000) for v in row) for row in m @ m.T + np.eye(size)))
        cert = ThreePointCertificate(dimension, Fraction(1), Fraction(3, 2), (Fraction(1),), tuple(blocks))
        poly, kernel = kernel_polynomial(cert), _GramKernel(cert)
        lo = rng.uniform(1, 1.4, size=(3, 50))
        hi = lo + rng.uniform(0, 0.1, size=(3, 50))
        box = [Interval(lo[i], hi[i]) for i in range(3)]  # two side lengths and the third (squared below)

        def at_vertex(s1, s2, s3):
            return _vertex(kernel, s1, s2, s3 * s3)

        value, jet = at_vertex(*box), at_vertex(*Jet.variables(box))
        t = rng.uniform(size=(3, 50))
        for m in range(50):
            s1, s2, s3 = [mpmath.mpf(lo[i, m]) + mpmath.mpf(t[i, m]) * (mpmath.mpf(hi[i, m]) - mpmath.mpf(lo[i, m]))
                          for i in range(3)]

            def p(s1):
                a, b, c = s1 ** 2, s2 ** 2, (s1 ** 2 + s2 ** 2 - s3 ** 2) / 2
                return sum(mpmath.mpf(v.numerator) / v.denominator * a ** i * b ** j * c ** l for (i, j, l), v in poly.items())

            exact = p(s1)
            for enclosure in (value, jet.value):
                assert enclosure.lo[m] <= exact <= enclosure.hi[m]
            assert jet.grad[0].lo[m] <= mpmath.diff(p, s1) <= jet.grad[0].hi[m]
            assert jet.hess[0].lo[m] <= mpmath.diff(p, s1, 2) <= jet.hess[0].hi[m]
    weights = _SideWeights(ThreePointCertificate(3, Fraction(1), Fraction(3, 2), (Fraction(1),), (((Fraction(1),),),)))
    ends = np.sort(rng.integers(0, 2 ** 10, size=(2, 40)), axis=0) / 2 ** 10
    box = Interval(ends[0], ends[1])
    factor, jet = weights(box), weights(Jet.variables([box, box, box])[0])
    for m in range(40):
        for s in (ends[0, m], (ends[0, m] + ends[1, m]) / 2, ends[1, m]):
            side = 1 + mpmath.mpf(s) / 2
            exact = mpmath.exp(-mpmath.pi * side ** 2)
            assert factor.lo[m] <= exact <= factor.hi[m]
            assert jet.grad[0].lo[m] <= -mpmath.pi * side * exact <= jet.grad[0].hi[m]
            curvature = mpmath.pi / 2 * (2 * mpmath.pi * side ** 2 - 1) * exact
            assert jet.hess[0].lo[m] <= curvature <= jet.hess[0].hi[m]
    assert _cover(lambda x, y, z: x * y + z * z * 0.5 - 1.51, 10 ** 5)[0] is None
    failure, _ = _cover(lambda x, y, z: x * y + z * z * 0.5 - 1.49, 10 ** 5)
    assert failure is not None and "fails at cube point" in failure[0]
    assert np.all(failure[1] > 0.9)  # near the corner (1, 1, 1), the only place it is > 0


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        ThreePointFormulation(3, 8, 4)  # even degree
    with pytest.raises(ValueError):
        ThreePointFormulation(1, 7, 4)
    with pytest.raises(ValueError):
        Radii(1.0, 2.5)  # R >= 2r
    with pytest.raises(ValueError):
        three_point_bound(3, 7, 4, truncation=2.0)


def test_three_point_bound_verifies_and_is_sound(bound):
    assert bound.verified, bound.reason
    assert bound.density >= best_known_density(3) >= FCC - 1e-12
    # the rigorous bound is the solver's claim up to rounding and the pushed-inside Q_k
    assert bound.density == pytest.approx(bound.numerical_density, rel=1e-6)


def test_a_top_coefficient_of_the_wrong_sign_is_handed_back_and_kept_off_zero(bound):
    """The exact check names a top Laguerre coefficient <= 0 as the "lead" violation, and a re-solve
    with a floor keeps that coefficient strictly positive (the solver's tolerance alone may not)."""
    from games.sphere_packing.three_point import ThreePointSDP
    from games.sphere_packing.three_point_bound import LEAD_FLOOR

    cert = bound.certificate
    flipped = dataclasses.replace(cert, f2=cert.f2[:-1] + (-abs(cert.f2[-1]) - Fraction(1, 10 ** 6),))
    check = verify_three_point(flipped)
    assert not check.verified and check.violation[0] == "lead"
    sdp = ThreePointSDP(bound.formulation, Radii(bound.radius, bound.truncation_radius))
    solution = sdp.solve(lead_floor=LEAD_FLOOR)
    top = sdp.basis.laguerre_coefficients(solution.f2)[-1]
    assert top > 0


def test_the_exchange_keeps_searching_where_the_verifier_found_a_violation(bound, monkeypatch):
    """Every exchange round also searches from a point the verifier handed back: a narrow peak the
    dense grid misses may move a little with each new solution (in n = 6 at kernel degree 12 one
    survived 4 re-solves until the exchange searched there)."""
    from games.sphere_packing.three_point import ThreePointSDP

    sdp = ThreePointSDP(bound.formulation, Radii(bound.radius, bound.truncation_radius))
    watched = np.array([[0.000244], [0.5], [0.25]])
    starts: list[np.ndarray] = []
    search = ThreePointSDP._refine

    def recording(self, name, start, z, step):
        if name == "wedge":
            starts.append(start)
        return search(self, name, start, z, step)

    monkeypatch.setattr(ThreePointSDP, "_refine", recording)
    sdp.solve(extra={"wedge": watched})
    assert starts and all(np.isclose(s, watched).all(axis=0).any() for s in starts)


@pytest.mark.slow
def test_three_point_beats_the_linear_programming_bound_in_dimension_3(gaining):
    from games.sphere_packing import cohn_elkies_bound

    assert gaining.verified, gaining.reason
    lp = cohn_elkies_bound(3, 7)
    assert FCC < gaining.density < lp.density
    assert gaining.certificate.blocks[0][0][0] > Fraction(1, 10 ** 3)  # f3(0, 0) carries weight


def test_perturbed_certificates_are_rejected(bound):
    cert = bound.certificate
    assert verify_three_point(cert).verified
    # raise f2 everywhere a little: f2 > 0 just beyond R, or the pair condition fails
    f2 = list(cert.f2)
    f2[0] += Fraction(1, 100)
    assert not verify_three_point(dataclasses.replace(cert, f2=tuple(f2))).verified
    # make the kernel more positive (still positive definite): a triangle / pair / wedge condition fails
    blocks = [list(map(list, q)) for q in cert.blocks]
    blocks[2][0][0] += Fraction(1, 10)
    bumped = tuple(tuple(map(tuple, q)) for q in blocks)
    check = verify_three_point(dataclasses.replace(cert, blocks=bumped))
    assert not check.verified and check.reason
    # a Q_k that is not positive definite
    blocks = [list(map(list, q)) for q in cert.blocks]
    blocks[1][0][0] = -blocks[1][0][0] - 1
    negative = tuple(tuple(map(tuple, q)) for q in blocks)
    assert "positive definite" in verify_three_point(dataclasses.replace(cert, blocks=negative)).reason


@pytest.mark.parametrize("name", ["bound", pytest.param("gaining", marks=pytest.mark.slow)])
def test_independent_mpmath_recheck_of_the_certificate(name, request):
    """Conditions (ii), (iv), (v) and the bound, recomputed in 40 digits from the structured form
    (mpmath's Gegenbauer and Laguerre functions; no code shared with the verifier)."""
    bound = request.getfixturevalue(name)
    assert bound.verified, bound.reason
    check = recheck_on_grid(bound.certificate)
    assert check.holds, check
    assert check.density <= bound.density <= check.density * (1 + 1e-12)


def test_three_point_game_protocol_evaluation_and_verify():
    import json

    from discover.check import check_game
    from discover.types import EvalContext, Status
    from games.sphere_packing import ThreePointGame

    game = ThreePointGame(dimension=3, max_kernel_degree=6)
    check_game(game, playouts=10, evaluate=False)
    state = ("three-point", 7, 4, 1.3, "clarabel", 1e-4)
    outcome = game.evaluate(state, EvalContext())
    assert outcome.status is Status.OK, outcome.message
    assert -outcome.value >= best_known_density(3)
    stored = json.loads(json.dumps(outcome.artifacts))  # what the store keeps
    outcome = dataclasses.replace(outcome, artifacts=stored)
    assert game.verify(state, outcome) is None
    stronger = dataclasses.replace(outcome, value=outcome.value + 1e-9)  # claims a smaller density
    assert "below the re-verified" in game.verify(state, stronger)
    assert game.verify(("three-point", 11, 4, 1.3, "clarabel", 1e-4), outcome) is not None  # another formulation


@pytest.mark.slow
@pytest.mark.parametrize("dimension, optimum", [(2, math.pi / math.sqrt(12)), (8, math.pi ** 4 / 384)])
def test_three_point_bound_stays_above_proven_optima(dimension, optimum):
    """Where the optimum is a theorem (hexagonal, E8) a bound below it would be a bug, whatever the LP does."""
    res = three_point_bound(dimension, 11, 6, truncation=1.3)
    assert res.verified, res.reason
    assert res.density >= optimum
