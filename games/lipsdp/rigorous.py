"""Floating-point arithmetic with its rounding bounded: enclosures, upward rounding, positive definiteness.

Every number a certificate rests on is a float64 computed by numpy/LAPACK, so each step carries a
rigorous error bound (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed.):

* a product or sum of floats is exact up to a factor (1 + d), |d| <= u = 2^-53, plus an absolute
  2^-1074 per operation when the result is subnormal;
* an inner product of length k, summed in any order (BLAS, FMA or not): |fl(A B) - A B| <= gamma_k |A| |B|
  with gamma_k = k u / (1 - k u) (Higham (3.5));
* a quantity computed from non-negative floats by at most k operations is below the computed value
  times (1 + gamma_k); the bounds here are therefore inflated by (1 + 2 gamma_{k+4}) and an absolute
  TINY, which also covers the rounding of the inflation itself.

An *enclosure* is a pair (mid, rad) of float arrays with |exact - mid| <= rad entrywise.
Positive definiteness is proven without trusting LAPACK's Cholesky: with R its computed factor of
B = A - c I, the exact identity A = R^T R + c I + (B - R^T R) + (A - c I - B) gives
lambda_min(A) >= c - ||B - R^T R||_F - ||A - c I - B||_2, and the residual's norm is bounded by its
computed value plus the a-priori error of computing it. No property of the factorisation is assumed:
R is just some matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cholesky

U = 2.0 ** -53  # unit roundoff of float64
TINY = 2.0 ** -1000  # covers every subnormal rounding here (at most ~1e6 operations of 2^-1074 each)


def gamma(k: int) -> float:
    """gamma_k = k u / (1 - k u), rounded up (Higham's constant for k roundings)."""
    return k * U / (1 - k * U) * (1 + 8 * U)


def up(x: float) -> float:
    """The next float above x: an upper bound of the exact result of the one correctly rounded operation giving x."""
    return float(np.nextafter(x, np.inf))


def inflate(x: np.ndarray | float, ops: int) -> np.ndarray | float:
    """An upper bound of a non-negative quantity computed with at most ``ops`` roundings."""
    return x * (1 + 2 * gamma(ops + 4)) + TINY


def add_up(*terms: float) -> float:
    """Upper bound of the exact sum of the given floats."""
    return float(inflate(math.fsum(terms), 2)) if any(terms) else 0.0


def mul_up(*factors: float) -> float:
    """Upper bound of the exact product of non-negative floats."""
    out = 1.0
    for f in factors:
        out = up(out * f)
    return out


def sqrt_up(x: float) -> float:
    """Upper bound of sqrt(x) for x >= 0 (math.sqrt is correctly rounded); NaN or inf gives inf, a
    bound that holds (0 for NaN would shrink every rounding radius built on it)."""
    if not math.isfinite(x):
        return math.inf
    return up(math.sqrt(x)) if x > 0 else 0.0


def frobenius_up(X: np.ndarray) -> float:
    """Upper bound of ||X||_F (and so of ||X||_2)."""
    if X.size == 0:
        return 0.0
    return sqrt_up(float(inflate(float(np.sum(np.square(X, dtype=np.float64))), X.size + 2)))


def product(A: np.ndarray, rA: np.ndarray | None, B: np.ndarray, rB: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Enclosure of A_e B_e for every |A_e - A| <= rA, |B_e - B| <= rB (None: exact).

    |A_e B_e - fl(A B)| <= gamma_k |A||B| + rA |B| + |A| rB + rA rB, k the inner dimension.
    """
    C = A @ B
    aA, aB = np.abs(A), np.abs(B)
    rad = gamma(A.shape[-1] + 1) * (aA @ aB)
    if rA is not None:
        rad = rad + rA @ (aB + (rB if rB is not None else 0))
    if rB is not None:
        rad = rad + aA @ rB
    return C, inflate(rad, 3 * A.shape[-1] + 6)


def scaled_columns(T: np.ndarray, rT: np.ndarray | None, v: np.ndarray, rv: np.ndarray | None,
                   halve: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Enclosure of T_e^T diag(v_e) (divided by 2 when ``halve``): one rounded product per entry."""
    out = T.T * v
    av = np.abs(v)
    rad = U * np.abs(out)
    if rT is not None:
        rad = rad + rT.T * (av + (rv if rv is not None else 0))
    if rv is not None:
        rad = rad + np.abs(T.T) * rv
    if halve:
        out, rad = out / 2, rad / 2
    return out, inflate(rad, 6)


@dataclass(frozen=True)
class Enclosure:
    """|exact - mid| <= rad entrywise. Adding two rounds once per entry; 0 is the exact zero."""

    mid: np.ndarray
    rad: np.ndarray

    def __add__(self, other: Enclosure | int) -> Enclosure:
        if isinstance(other, int) and other == 0:
            return self
        mid = self.mid + other.mid
        return Enclosure(mid, inflate(self.rad + other.rad + U * np.abs(mid), 3))

    __radd__ = __add__


def positive_definite(A: np.ndarray, radius: float, shift: float) -> bool:
    """True only if every symmetric matrix within spectral distance ``radius`` of A is positive definite.

    The proof: Cholesky of B = fl(A - shift I), then lambda_min >= shift - (residual bound) - radius > 0.
    """
    n = A.shape[0]
    if not np.all(np.isfinite(A)) or not shift > 0:
        return False
    B = A - shift * np.eye(n)
    shift_error = 2 * U * float(np.max(np.abs(np.diag(B))))  # A - shift I rounds on the diagonal only
    try:
        R = cholesky(B, lower=False, check_finite=True)
    except (LinAlgError, ValueError):
        return False
    if not np.all(np.isfinite(R)):
        return False
    residual = B - R.T @ R
    # |fl(B - fl(R^T R)) - (B - R^T R)| <= u |fl(residual)| + (1 + u) gamma_n |R|^T |R|, and || |R|^T|R| ||_F <= ||R||_F^2
    rounding = float(inflate(gamma(n + 2) * frobenius_up(R) ** 2, 4))
    total = add_up(frobenius_up(residual) * (1 + 2 * U), rounding, radius, shift_error)
    return total < shift


def pd_shift(A: np.ndarray, radius: float) -> float:
    """A shift that covers ``radius`` and the rounding of a Cholesky check of A, with a factor 4 to spare."""
    n = A.shape[0]
    return 4 * (radius + gamma(n + 4) * (frobenius_up(A) + float(np.sum(np.abs(np.diag(A)))))) + TINY


def spectral_norm_up(W: np.ndarray) -> float:
    """Upper bound of ||W||_2: the computed norm raised until sigma^2 I - W^T W is proven positive definite.

    Falls back to the Frobenius norm (always an upper bound) if no raise up to 0.1 % is proven.
    """
    frob = frobenius_up(W)
    if frob == 0.0:
        return 0.0
    sigma = float(np.linalg.norm(W, 2))
    G, rG = product(W.T, None, W, None) if W.shape[1] <= W.shape[0] else product(W, None, W.T, None)
    radius = frobenius_up(rG)
    for raise_by in (1e-12, 1e-9, 1e-6, 1e-3):
        candidate = up(sigma * (1 + raise_by))
        if candidate >= frob:
            break
        A = -G
        A[np.diag_indices_from(A)] += candidate ** 2
        # sigma^2 rounds once and A's diagonal once more: both fold into the radius
        if positive_definite(A, add_up(radius, 4 * U * candidate ** 2), raise_by * sigma ** 2):
            return candidate
    return frob
