"""Three-point bounds: the kernels, the exact and interval checks, soundness against known packings,
and an independent mpmath re-check of one certificate's conditions."""

from __future__ import annotations

import dataclasses
import json
import math
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import pytest

from games.sphere_packing import best_known_density, gegenbauer
from games.sphere_packing.intervals import Interval, Jet
from games.sphere_packing.three_point import Radii, ThreePointFormulation
from games.sphere_packing.three_point_bound import three_point_bound
from games.sphere_packing.three_point_recheck import recheck_on_grid
from games.sphere_packing.three_point_verify import (
    ThreePointCertificate,
    kernel_polynomial,
    positive_definite,
    verify_three_point,
)

FCC = math.pi / math.sqrt(18)



@pytest.fixture(scope="module")
def bound():
    """Small enough for the default suite (kernel degree 4: f3 barely helps, but every check runs);
    the default radial basis, shifted Legendre."""
    return three_point_bound(3, 7, 4, truncation=1.3)


@pytest.fixture(scope="module")
def power_bound():
    """``bound`` with the kernel's radial basis in monomials (~2 s); margin3 given as the game's
    (the same value ``bound`` takes from ``margin``), so it is also the game's formulation of
    ("three-point", 7, 4, 1.3, "clarabel", 1e-4, 1.0, "triangular") as solved before the Legendre default."""
    from games.sphere_packing.three_point_family import MARGIN3

    return three_point_bound(3, 7, 4, truncation=1.3, margin3=MARGIN3, radial_basis="power")


def _random_blocks(rng, sizes, denominator=None):
    """Positive definite Q_k with exact rational entries (the floats themselves, or limited denominators)."""
    blocks = []
    for size in sizes:
        m = rng.normal(size=(size, size))
        q = m @ m.T + np.eye(size)
        blocks.append(tuple(tuple(Fraction(float(v)) if denominator is None else
                                  Fraction(float(v)).limit_denominator(denominator) for v in row) for row in q))
    return tuple(blocks)


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
    from games.sphere_packing.three_point_verify import _cover, _SideWeights

    mpmath.mp.dps = 50
    rng = np.random.default_rng(3)
    for dimension in (2, 4):  # n = 2: Chebyshev, the recurrence's k = 0 step is never taken
        _assert_gram_form_encloses(dimension, "power", (3, 3, 2, 2, 1), rng)  # kernel degree 4
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


def _assert_gram_form_encloses(dimension, radial_basis, sizes, rng):
    """The verifier's interval Gram form of p at a vertex (value, and the jet's value, gradient and
    Hessian along s1) holds the exact expanded polynomial, evaluated in mpmath, on random boxes."""
    from games.sphere_packing.three_point_verify import (
        ThreePointCertificate,
        _GramKernel,
        _vertex,
        kernel_polynomial,
    )

    blocks = _random_blocks(rng, sizes, denominator=1000)
    cert = ThreePointCertificate(dimension, Fraction(1), Fraction(3, 2), (Fraction(1),), blocks, radial_basis)
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


def test_pair_condition_in_gram_form_encloses_the_exact_function():
    """(ii) times exp(pi s), P(2 pi s) + 2 p(0, s, 0) + p(s, s, s) exp(-pi s), as the verifier evaluates
    it (f2 by the Laguerre recurrence, p in Gram form, rectangular blocks in n = 4) holds the function
    computed independently in mpmath (its Laguerre functions, p's exact monomial expansion) on random
    boxes of |w| = r + (R - r) x, value and derivative in x."""
    from games.sphere_packing.three_point_verify import (
        ThreePointCertificate,
        _GramKernel,
        _LaguerreSum,
        _pair,
        _SideWeights,
    )

    mpmath.mp.dps = 50
    rng = np.random.default_rng(5)
    f2 = tuple(Fraction(float(v)).limit_denominator(1000) for v in rng.normal(size=8))
    cert = ThreePointCertificate(4, Fraction(1), Fraction(3, 2), f2, _random_blocks(rng, (3,) * 5, 1000), "legendre")
    poly = kernel_polynomial(cert)
    lo = np.sort(rng.uniform(0, 1, size=40))
    hi = np.minimum(lo + rng.uniform(0, 0.05, size=40), 1.0)
    box = Interval(lo, hi)
    args = (_GramKernel(cert), _SideWeights(cert), _LaguerreSum(cert), cert)
    value, jet = _pair(*args, box), _pair(*args, Jet.variables([box])[0])

    def g(x):
        s = (1 + x / 2) ** 2
        p = [sum(mpmath.mpf(v.numerator) / v.denominator * s ** (i + j + l) for (i, j, l), v in poly.items()
                 if keep(i, l)) for keep in (lambda i, l: i == 0 and l == 0, lambda i, l: True)]
        big_p = sum(mpmath.mpf(a.numerator) / a.denominator * mpmath.laguerre(k, 1, 2 * mpmath.pi * s)
                    for k, a in enumerate(f2))
        return big_p + 2 * p[0] + p[1] * mpmath.exp(-mpmath.pi * s)

    at_points = _pair(*args, Interval(lo))  # tight: the boxes' enclosures alone would hide a wrong term
    for m in range(40):
        x = mpmath.mpf(lo[m]) + mpmath.mpf(rng.uniform()) * (mpmath.mpf(hi[m]) - mpmath.mpf(lo[m]))
        exact = g(x)
        for enclosure in (value, jet.value):
            assert enclosure.lo[m] <= exact <= enclosure.hi[m]
        assert jet.grad[0].lo[m] <= mpmath.diff(g, x) <= jet.grad[0].hi[m]
        assert at_points.lo[m] <= g(mpmath.mpf(lo[m])) <= at_points.hi[m]
        assert at_points.hi[m] - at_points.lo[m] < 1e-9 * (1 + abs(exact))


def test_legendre_radial_basis_expands_exactly_to_the_solver_rows():
    """The verifier's exact rewriting of phi_i = P_i(2u - 1) in monomials (integer coefficients) agrees
    with numpy's Legendre values, and the exact expansion of p with a Legendre certificate agrees
    with the solver's rows (the same Q_k) at random points, to ~1e-12 of the terms' size; the
    "power" rows and expansion agree likewise."""
    from games.sphere_packing.three_point import ThreePointSDP, radial_values
    from games.sphere_packing.three_point_verify import (
        ThreePointCertificate,
        kernel_polynomial,
        radial_coefficients,
    )

    rng = np.random.default_rng(11)
    u = rng.uniform(0, 1, 200)
    coefficients = radial_coefficients("legendre", 9)
    assert coefficients[8][4] == math.comb(8, 4) * math.comb(12, 4)
    values = radial_values("legendre", u, 9)
    exact = [[float(sum(c * Fraction(x) ** m for m, c in enumerate(row))) for row in coefficients] for x in u]
    assert np.allclose(exact, values, rtol=0, atol=1e-13)  # (in floats the monomial form loses 6e-12)
    assert np.all(np.abs(values) <= 1 + 1e-12)  # |P_i| <= 1 on [-1, 1]: phi stays of size 1
    for radial_basis in ("power", "legendre"):
        form = ThreePointFormulation(4, 7, 8, radial_basis=radial_basis)
        sdp = ThreePointSDP(form, Radii(1.0, 1.5))
        blocks = _random_blocks(rng, form.block_sizes())
        cert = ThreePointCertificate(4, Fraction(1), Fraction(3, 2), (Fraction(1),), blocks, radial_basis)
        poly = kernel_polynomial(cert)
        z = np.concatenate([np.zeros(sdp.n_f2)] + [np.array(q, dtype=float).ravel(order="F") for q in blocks])
        vectors = rng.uniform(-1, 1, size=(2, 30, 4))
        vectors *= rng.uniform(0, 1.5, size=(2, 30, 1)) / np.linalg.norm(vectors, axis=2, keepdims=True)
        a, b = (vectors ** 2).sum(axis=2)
        c = (vectors[0] * vectors[1]).sum(axis=1)
        rows = sdp.kernel_rows(a, b, c)
        numeric, size = rows @ z, np.abs(rows) @ np.abs(z)
        for m in range(30):
            fa, fb, fc = Fraction(a[m]), Fraction(b[m]), Fraction(c[m])
            exact = float(sum(v * fa ** i * fb ** j * fc ** l for (i, j, l), v in poly.items()))
            assert abs(numeric[m] - exact) <= 1e-12 * size[m], (radial_basis, m)


def test_legendre_gram_form_encloses_the_exact_kernel():
    """With radial_basis="legendre" (kernel degree 8: P_0 .. P_4), the interval Legendre recurrence holds
    mpmath's Legendre values on random boxes of u, and the interval Gram form of p holds the exact
    expanded polynomial (as for "power" above)."""
    from games.sphere_packing.three_point_verify import (
        ThreePointCertificate,
        _GramKernel,
    )

    mpmath.mp.dps = 50
    rng = np.random.default_rng(13)
    blocks = _random_blocks(rng, (5, 5, 4, 4, 3, 3, 2, 2, 1), denominator=1000)
    kernel = _GramKernel(ThreePointCertificate(3, Fraction(1), Fraction(3, 2), (Fraction(1),), blocks, "legendre"))
    lo = rng.uniform(0, 0.95, 100)
    hi = lo + rng.uniform(0, 0.05, 100)
    box = Interval(lo, hi)
    values, jets = kernel._radial(box), kernel._radial(Jet.variables([box, box, box])[0])
    for m in range(100):
        u = mpmath.mpf(lo[m]) + mpmath.mpf(rng.uniform()) * (mpmath.mpf(hi[m]) - mpmath.mpf(lo[m]))
        for i in range(1, 5):
            exact = mpmath.legendre(i, 2 * u - 1)
            assert values[i].lo[m] <= exact <= values[i].hi[m], i
            assert jets[i].value.lo[m] <= exact <= jets[i].value.hi[m], i
            slope = 2 * mpmath.diff(lambda x, i=i: mpmath.legendre(i, x), 2 * u - 1)  # d/du P_i(2u - 1)
            assert jets[i].grad[0].lo[m] <= slope <= jets[i].grad[0].hi[m], i
    for dimension in (3, 4):
        _assert_gram_form_encloses(dimension, "legendre", (5, 5, 4, 4, 3, 3, 2, 2, 1), rng)


def test_an_overflowing_certificate_is_not_verified():
    """Entries near the largest double overflow the interval evaluation to inf, and 0 * inf = NaN;
    a NaN enclosure must leave a box undecided. This certificate (n = 3, f2 = (4 - t) e^(-t/2) up to
    the basis, a huge Q_1 that p(0, 0, 0) never sees) once "verified" a density of 0.2618, below the
    face-centred cubic packing's 0.7405, because NaN > 0 is False."""
    huge = Fraction(15 * 10**307)
    blocks = (((Fraction(1, 10**6),),), ((huge, huge - 1), (huge - 1, huge)))
    cert = ThreePointCertificate(3, Fraction(1, 2), Fraction(7, 8), (Fraction(5, 2), Fraction(1)), blocks, "power")
    with np.errstate(all="ignore"):
        result = verify_three_point(cert, max_boxes=2000)
    assert not result.verified and "pair" in result.reason


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        ThreePointFormulation(3, 8, 4)  # even degree
    with pytest.raises(ValueError):
        ThreePointFormulation(1, 7, 4)
    with pytest.raises(ValueError, match="radial_basis"):
        ThreePointFormulation(3, 7, 4, radial_basis="chebyshev")
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
    assert gaining.certificate.radial_basis == "legendre"  # the default; phi(0) = (1, -1, 1, ...)
    assert kernel_polynomial(gaining.certificate)[0, 0, 0] > Fraction(1, 10 ** 3)  # f3(0, 0) = p(0, 0, 0) carries weight


def test_perturbed_certificates_are_rejected(bound):
    _assert_perturbations_rejected(bound.certificate)


def _assert_perturbations_rejected(cert):
    assert verify_three_point(cert).verified
    # raise f2 everywhere a little: f2 > 0 just beyond R, or the pair condition fails
    f2 = list(cert.f2)
    f2[0] += Fraction(1, 100)
    assert not verify_three_point(dataclasses.replace(cert, f2=tuple(f2))).verified
    # raise f3(0, w) and f3(w, w) through Q_0's constant entry: the pair condition, checked first,
    # fails, and hands the solver distances squared in [r^2, R^2]
    blocks = [list(map(list, q)) for q in cert.blocks]
    blocks[0][0][0] += Fraction(1, 10)
    check = verify_three_point(dataclasses.replace(cert, blocks=tuple(tuple(map(tuple, q)) for q in blocks)))
    assert not check.verified and "(pair)" in check.reason and check.violation[0] == "pair"
    assert np.all((check.violation[1] >= cert.r2) & (check.violation[1] <= cert.big2))
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


def test_radial_bases_certificates_verify_and_perturbations_are_rejected(bound, power_bound):
    """The default radial basis is shifted Legendre; the same formulation with phi in monomials
    ("power"): each certificate carries its basis, verifies (the same polynomial space, so the same
    bound up to the solver's tolerance), passes the independent mpmath re-check (mpmath's own Legendre
    functions for the default), and is rejected when perturbed, relabelled as the other basis or given
    an unknown basis."""
    assert ThreePointFormulation(3, 7, 4).radial_basis == "legendre"
    for res, basis, other in ((bound, "legendre", "power"), (power_bound, "power", "legendre")):
        assert res.verified, res.reason
        cert = res.certificate
        assert cert.radial_basis == basis and cert.artifacts()["radial_basis"] == basis
        assert res.formulation.radial_basis == basis and res.artifacts()["formulation"]["radial_basis"] == basis
        assert res.density == pytest.approx(res.numerical_density, rel=1e-6)
        check = recheck_on_grid(cert)
        assert check.holds, check
        assert check.density <= res.density <= check.density * (1 + 1e-12)
        assert not verify_three_point(dataclasses.replace(cert, radial_basis=other)).verified
    assert power_bound.density == pytest.approx(bound.density, rel=1e-6)
    _assert_perturbations_rejected(power_bound.certificate)  # the default's: test_perturbed_certificates_are_rejected


@pytest.mark.parametrize("name", ["bound", pytest.param("gaining", marks=pytest.mark.slow)])
def test_independent_mpmath_recheck_of_the_certificate(name, request):
    """Conditions (ii), (iv), (v) and the bound, recomputed in 40 digits from the structured form
    (mpmath's Gegenbauer and Laguerre functions; no code shared with the verifier)."""
    bound = request.getfixturevalue(name)
    assert bound.verified, bound.reason
    check = recheck_on_grid(bound.certificate)
    assert check.holds, check
    assert check.density <= bound.density <= check.density * (1 + 1e-12)


def test_three_point_game_protocol_evaluation_and_verify(power_bound):
    import json

    from discover.check import check_game
    from discover.types import EvalContext, Status
    from games.sphere_packing import ThreePointGame
    from games.sphere_packing.family import bound_outcome

    game = ThreePointGame(dimension=3, max_kernel_degree=6)
    check_game(game, playouts=10, evaluate=False)
    state = ("three-point", 7, 4, 1.3, "clarabel", 1e-4, 1.0, "triangular")
    for stored in (state[:-2], state[:-1], state):  # stored before the radius scale, the block shape, now
        assert game.upgrade_state(stored) == state
    outcome = game.evaluate(state, EvalContext())
    assert outcome.status is Status.OK, outcome.message
    assert -outcome.value >= best_known_density(3)
    stored = json.loads(json.dumps(outcome.artifacts))  # what the store keeps
    outcome = dataclasses.replace(outcome, artifacts=stored)
    assert game.verify(state, outcome) is None
    assert stored["formulation"]["radial_basis"] == stored["certificate"]["radial_basis"] == "legendre"  # the default
    # solved in monomials (as before the Legendre default): accepted with the field, and without it
    # (stored before the field existed: read as monomials); a certificate relabelled is not
    power = json.loads(json.dumps(bound_outcome(3, power_bound, 1.0, power_bound.artifacts()).artifacts))
    assert power["formulation"]["radial_basis"] == power["certificate"]["radial_basis"] == "power"
    assert game.verify(state, dataclasses.replace(outcome, artifacts=power)) is None
    legacy = json.loads(json.dumps(power))
    del legacy["formulation"]["radial_basis"], legacy["certificate"]["radial_basis"]
    assert game.verify(state, dataclasses.replace(outcome, artifacts=legacy)) is None
    unlabelled = json.loads(json.dumps(stored))  # a Legendre certificate read as monomials
    del unlabelled["formulation"]["radial_basis"], unlabelled["certificate"]["radial_basis"]
    assert game.verify(state, dataclasses.replace(outcome, artifacts=unlabelled)) is not None
    mixed = json.loads(json.dumps(stored))
    mixed["formulation"]["radial_basis"] = "power"  # the formulation and the certificate disagree
    assert "not the one" in game.verify(state, dataclasses.replace(outcome, artifacts=mixed))
    unknown = json.loads(json.dumps(stored))
    unknown["formulation"]["radial_basis"] = unknown["certificate"]["radial_basis"] = "chebyshev"
    assert "not the one" in game.verify(state, dataclasses.replace(outcome, artifacts=unknown))
    stronger = dataclasses.replace(outcome, value=outcome.value + 1e-9)  # claims a smaller density
    assert "below the re-verified" in game.verify(state, stronger)
    assert game.verify(("three-point", 11, 4, 1.3, "clarabel", 1e-4, 1.0, "triangular"), outcome) is not None
    for other in (("three-point", 7, 4, 1.3, "clarabel", 1e-4, 1.02, "triangular"),
                  ("three-point", 7, 4, 1.4, "clarabel", 1e-4, 1.0, "triangular")):
        assert "radii" in game.verify(other, outcome)  # solved at another r or R
    rectangular = json.loads(json.dumps(stored))  # the state's blocks, not the certificate's
    rectangular["formulation"]["blocks"] = "rectangular"
    assert "sizes" in game.verify((*state[:-1], "rectangular"), dataclasses.replace(outcome, artifacts=rectangular))
    legacy_blocks = json.loads(json.dumps(stored))  # stored before the field: triangular
    del legacy_blocks["formulation"]["blocks"]
    assert game.verify(state, dataclasses.replace(outcome, artifacts=legacy_blocks)) is None


@pytest.mark.slow
@pytest.mark.parametrize("dimension, optimum", [(2, math.pi / math.sqrt(12)), (8, math.pi ** 4 / 384)])
def test_three_point_bound_stays_above_proven_optima(dimension, optimum):
    """Where the optimum is a theorem (hexagonal, E8) a bound below it would be a bug, whatever the LP does."""
    res = three_point_bound(dimension, 11, 6, truncation=1.3)
    assert res.verified, res.reason
    assert res.density >= optimum


def test_rectangular_blocks_give_every_gegenbauer_degree_the_full_radial_degree():
    """The building block "rectangular": Q_k of size D // 2 + 1 for every k (triangular: (D - k) // 2 + 1);
    the certificate verifies exactly and stays above the densest packing."""
    assert ThreePointFormulation(3, 7, 4).block_sizes() == (3, 2, 2, 1, 1)
    assert ThreePointFormulation(3, 7, 4, blocks="rectangular").block_sizes() == (3,) * 5
    with pytest.raises(ValueError, match="blocks"):
        ThreePointFormulation(3, 7, 4, blocks="square")
    res = three_point_bound(3, 7, 4, truncation=1.3, blocks="rectangular")
    assert res.verified, res.reason
    assert [len(q) for q in res.certificate.blocks] == [3] * 5
    assert res.density >= best_known_density(3)
    assert verify_three_point(res.certificate).verified


def _stored(name: str) -> tuple[ThreePointCertificate, float]:
    """A certificate of the README in tests/data, and its verified density: "three_point_rect4" (n = 4,
    rectangular blocks, 3-d margin 1e-3) or "three_point_n12" (n = 12, f2 degree 31, R = 1.225 r)."""
    data = json.loads((Path(__file__).parent / "data" / f"{name}.json").read_text())
    c = data["certificate"]
    blocks = tuple(tuple(tuple(Fraction(v) for v in row) for row in q) for q in c["blocks"])
    cert = ThreePointCertificate(c["dimension"], Fraction(c["r"]), Fraction(c["R"]),
                                 tuple(Fraction(v) for v in c["f2"]), blocks, c["radial_basis"])
    return cert, data["density"]


def test_taylor_models_decide_the_near_tight_triangle_boxes_of_a_rectangular_certificate():
    """That certificate's triangle condition lies within ~1e-4 of 0 over the whole cube: before Taylor
    models, no box of side 1/64 was decided (3.9 million boxes, undecided). Now most are, and the bound
    holds the function at points inside each box."""
    from games.sphere_packing.three_point_verify import _GramKernel, _SideWeights, _triangle, _upper

    cert, _ = _stored("three_point_rect4")
    kernel, weights = _GramKernel(cert), _SideWeights(cert)

    def triangle(*xyz):
        return _triangle(kernel, weights, cert, *xyz)

    rng = np.random.default_rng(0)
    lo = np.floor(rng.random((3, 48)) * 64) / 64
    width = np.full_like(lo, 1 / 64)
    upper, _ = _upper(triangle, lo, width)
    assert np.mean(upper <= 0) >= 0.9
    for _ in range(4):
        inside = triangle(*[Interval(row) for row in lo + rng.random(lo.shape) * width])
        assert np.all(inside.lo <= upper)
        assert np.all(inside.hi > -1e-3)  # near-tight indeed: the condition is within 1e-3 of 0 there


@pytest.mark.slow
@pytest.mark.parametrize("name, cdls", [
    # ~7-10 minutes on one core (past the suite's 300 s per test); below CdLS's Table 6.1 value in n = 4
    pytest.param("three_point_rect4", 0.636107333, marks=pytest.mark.timeout(1800), id="n4-rectangular"),
    # ~20-40 s; below CdLS's Δ3⁺ in n = 12 (their Table 1.1)
    pytest.param("three_point_n12", 0.079712, id="n12"),
])
def test_a_stored_certificate_verifies_below_cdls_and_above_the_best_packing(name, cdls):
    """The whole check of a stored bound below Cohn, de Laat and Salmon's, which must stay above the
    best packing known (D4 in n = 4, the Coxeter–Todd K12 in n = 12)."""
    cert, density = _stored(name)
    result = verify_three_point(cert)
    assert result.verified, result.reason
    assert result.density == density
    assert best_known_density(cert.dimension) < result.density < cdls
