"""Outward rounding for the games' proofs: a float at least one step away, and functions bounded through Arb.

Round-to-nearest errs by at most half an ulp, so any float at or beyond the next one away from the
computed float bounds the exact result of one correctly rounded operation. :func:`up` adds
|x| 2^-52 + 2^-1074 (rounded to nearest): that is at least the gap to the next float above x (the
gap is at most |x| 2^-52 for normal x and 2^-1074 below), and rounding is monotone, so the sum lands
at or above that next float; it is ~9x faster than ``np.nextafter`` (which was two thirds of the
three-point check's time) and wider by an ulp or two at most. Elementary functions are evaluated
in Arb balls at ``ARB_PRECISION`` bits, far narrower than a float64 ulp, so the ball's end point
rounded to a float and stepped once outwards bounds the function (no libm accuracy is assumed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from flint import arb, ctx

ARB_PRECISION = 128


_EPSILON, _TINY = 2.0 ** -52, 2.0 ** -1074


def down(x: np.ndarray) -> np.ndarray:
    """A float at or below the next float below x (elementwise)."""
    return x - (np.abs(x) * _EPSILON + _TINY)


def up(x: np.ndarray) -> np.ndarray:
    """A float at or above the next float above x (elementwise)."""
    return x + (np.abs(x) * _EPSILON + _TINY)


@contextmanager
def arb_precision() -> Iterator[None]:
    """Arb computes at ``ARB_PRECISION`` bits inside, and at what it did before afterwards."""
    old, ctx.prec = ctx.prec, ARB_PRECISION
    try:
        yield
    finally:
        ctx.prec = old


def arb_bounds(values: np.ndarray, f: Callable[[arb], arb], upper: bool) -> np.ndarray:
    """A float above (``upper``) or below f(v) for each v, f written with Arb operations."""
    values = np.asarray(values, dtype=float)
    with arb_precision():
        ends = [f(arb(float(v))) for v in values.ravel()]
        out = np.array([float(b.upper() if upper else b.lower()) for b in ends]).reshape(values.shape)
    return up(out) if upper else down(out)
