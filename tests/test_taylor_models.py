"""Taylor models (games/sphere_packing/taylor_models.py): enclosures that hold, and that stay tight
where terms cancel."""

from fractions import Fraction

import flint
import numpy as np
import pytest

from games.sphere_packing.intervals import Interval, Jet
from games.sphere_packing.taylor_models import TaylorSpace
from games.sphere_packing.three_point_verify import _SideWeights


def _boxes(rng: np.random.Generator, count: int, axes: int = 3) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Dyadic boxes in the unit cube, as the check makes them: (centres, half widths)."""
    half = [2.0 ** -rng.integers(3, 9, count) for _ in range(axes)]
    centre = [(np.floor(rng.random(count) / (2 * h)) * 2 + 1) * h for h in half]
    return centre, half


def _rational(x, y, z):
    """Products, a reciprocal and terms that cancel, in any arithmetic with +, -, * and reciprocal()."""
    s = x * y + 2
    big = (x + 100) * (x + 100) - (x + 99) * (x + 99) - x * 2  # = 199 exactly
    return s * s * s - z * (s.reciprocal() if hasattr(s, "reciprocal") else 1 / s) + big * y


@pytest.mark.parametrize("order", [1, 2, 3])
def test_the_model_holds_pointwise_at_sampled_points_in_exact_arithmetic(order):
    rng = np.random.default_rng(order)
    centre, half = _boxes(rng, 100)
    space = TaylorSpace(half, order)
    model = _rational(*space.variables(centre))
    whole = model.range()
    for _ in range(8):
        u = rng.uniform(-1, 1, (3, 100))
        for b in range(100):
            h = [Fraction(float(u[i, b] * half[i][b])) for i in range(3)]
            point = [Fraction(float(centre[i][b])) + h[i] for i in range(3)]
            exact = _rational(*point)
            assert whole.lo[b] <= exact <= whole.hi[b]
            # the stronger statement: the polynomial at this h plus the remainder holds f(m + h)
            low = high = Fraction(0)
            for m, alpha in enumerate(space.monomials):
                power = Fraction(1)
                for hi, a in zip(h, alpha):
                    power *= hi ** a
                ends = (Fraction(model.coefficients.lo[m, b]) * power, Fraction(model.coefficients.hi[m, b]) * power)
                low, high = low + min(ends), high + max(ends)
            assert low + Fraction(model.remainder.lo[b]) <= exact <= high + Fraction(model.remainder.hi[b])


def test_cancelling_terms_cancel_in_the_model_and_not_in_intervals():
    rng = np.random.default_rng(5)
    centre, half = _boxes(rng, 100, axes=1)
    x = TaylorSpace(half, 2).variables(centre)[0]
    model = (x + 100) * (x + 100) - (x + 99) * (x + 99) - x * 2  # 199 everywhere
    tight = model.range()
    assert np.all(tight.lo <= 199) and np.all(tight.hi >= 199)
    assert np.max(tight.hi - tight.lo) < 1e-9
    box = Interval(centre[0] - half[0], centre[0] + half[0])
    loose = (box + 100) * (box + 100) - (box + 99) * (box + 99) - box * 2
    assert np.min(loose.hi - loose.lo) > 1.0
    jet = Jet.variables([box], order=2)[0]
    jet = (jet + 100) * (jet + 100) - (jet + 99) * (jet + 99) - jet * 2
    assert np.min(jet.value.hi - jet.value.lo) > 1.0


def test_the_gaussian_side_weight_model_holds_exp_at_sampled_points():
    from games.sphere_packing.three_point_verify import ThreePointCertificate

    cert = ThreePointCertificate(4, Fraction(5, 4), Fraction(2), (Fraction(1),), ((Fraction(1),),))
    weights = _SideWeights(cert)
    rng = np.random.default_rng(2)
    centre, half = _boxes(rng, 50)
    space = TaylorSpace(half, 2)
    models = [weights(v) for v in space.variables(centre)]
    flint.ctx.prec = 200
    try:
        for axis, model in enumerate(models):
            whole = model.range()
            for b in range(50):
                for u in (-1.0, -0.3, 0.0, 0.7, 1.0):
                    t = flint.arb(float(centre[axis][b] + u * half[axis][b]))
                    side = flint.arb(1.25) + flint.arb(0.75) * t
                    value = (-flint.arb.pi() * side * side).exp()
                    assert whole.lo[b] <= float(value.lower()) and float(value.upper()) <= whole.hi[b]
    finally:
        flint.ctx.prec = 53


def test_a_model_that_is_not_a_coordinate_is_refused_as_a_weight_argument():
    from games.sphere_packing.three_point_verify import ThreePointCertificate

    cert = ThreePointCertificate(4, Fraction(5, 4), Fraction(2), (Fraction(1),), ((Fraction(1),),))
    x = TaylorSpace([np.array([0.125])], 2).variables([np.array([0.375])])[0]
    with pytest.raises(ValueError, match="coordinate"):
        _SideWeights(cert)(x * 2)


def test_a_reciprocal_through_zero_bounds_nothing():
    x = TaylorSpace([np.array([0.25, 0.25])], 2).variables([np.array([0.5, 0.25])])[0]
    whole = (x - 0.125).reciprocal().range()  # positive on the first box, reaching 0 on the second
    assert np.isfinite(whole.hi[0]) and whole.lo[0] <= 1 / 0.625 and whole.hi[0] >= 1 / 0.375
    assert np.isnan(whole.hi[1])


def test_halving_a_subnormal_end_point_rounds_outwards():
    tiny = Interval(np.array([-5e-324, 5e-324]), np.array([5e-324, 5e-324]))
    half = tiny / 2
    assert np.all(half.hi > 0) and half.lo[0] < 0


def test_an_integer_beyond_float_precision_is_enclosed_not_rounded():
    space = TaylorSpace([np.array([0.125])], 2)
    whole = (space.constant(Interval(np.array([-2.0 ** 53]))) + (2 ** 53 + 1)).range()
    assert whole.lo[0] <= 1 <= whole.hi[0]
