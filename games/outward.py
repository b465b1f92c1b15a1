"""Outward rounding for the games' proofs: a float one step away, and functions bounded through Arb.

Round-to-nearest errs by at most half an ulp, so one ``np.nextafter`` step away from the computed
float bounds the exact result of one correctly rounded operation. Elementary functions are evaluated
in Arb balls at ``ARB_PRECISION`` bits, far narrower than a float64 ulp, so the ball's end point
rounded to a float and stepped once outwards bounds the function (no libm accuracy is assumed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from flint import arb, ctx

ARB_PRECISION = 128


def down(x: np.ndarray) -> np.ndarray:
    return np.nextafter(x, -np.inf)


def up(x: np.ndarray) -> np.ndarray:
    return np.nextafter(x, np.inf)


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
