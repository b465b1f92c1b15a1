"""The O(n)-invariant positive definite kernels behind the three-point bound: Gegenbauer zonal kernels.

For u, v in R^n (n >= 2) let a = |u|^2, b = |v|^2, c = <u, v>, and let P_k be the Gegenbauer
polynomial of degree k for R^n normalised by P_k(1) = 1 (Legendre for n = 3, Chebyshev for n = 2):

    P_0 = 1,  P_1 = t,  P_{k+1}(t) = ((2k + n - 2) t P_k(t) - k P_{k-1}(t)) / (k + n - 2).

The zonal kernel h_k(u, v) = (|u| |v|)^k P_k(<u, v> / (|u| |v|)) is, up to a positive factor, the
reproducing kernel sum_i Y_i(u) Y_i(v) of the harmonic polynomials of degree k (Stein & Weiss,
Introduction to Fourier Analysis on Euclidean Spaces, IV.2), hence a positive semidefinite kernel.
P_k has the parity of k, so h_k is a polynomial in (a, b, c); multiplying the recurrence by
(|u| |v|)^(k+1) gives it without square roots:

    h_0 = 1,  h_1 = c,  h_{k+1} = ((2k + n - 2) c h_k - k a b h_{k-1}) / (k + n - 2).

Schur products and sums of positive semidefinite kernels are positive semidefinite, so for radial
vectors phi(a) and matrices Q_k >= 0, sum_k phi(a)^T Q_k phi(b) h_k(a, b, c) is one: this is the
standard sufficient parametrisation (Bachoc & Vallentin, JAMS 2008, for the sphere; Cohn, de Laat &
Salmon, arXiv 2206.15373, Section 3, for R^n).

Exact polynomials are dicts {(i, j, l): Fraction} meaning sum coef a^i b^j c^l.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

Poly3 = dict[tuple[int, int, int], Fraction]


def _check(dimension: int) -> None:
    if dimension < 2:
        raise ValueError(f"the three-point kernels need dimension >= 2, got {dimension}")


def zonal_exact(max_k: int, dimension: int) -> list[Poly3]:
    """h_0 .. h_max_k as exact polynomials in (a, b, c)."""
    _check(dimension)
    out: list[Poly3] = [{(0, 0, 0): Fraction(1)}]
    if max_k >= 1:
        out.append({(0, 0, 1): Fraction(1)})
    for k in range(1, max_k):
        nxt: Poly3 = {}
        for (i, j, l), v in out[k].items():
            key = (i, j, l + 1)
            nxt[key] = nxt.get(key, Fraction(0)) + Fraction(2 * k + dimension - 2) * v
        for (i, j, l), v in out[k - 1].items():
            key = (i + 1, j + 1, l)
            nxt[key] = nxt.get(key, Fraction(0)) - k * v
        out.append({key: v / (k + dimension - 2) for key, v in nxt.items() if v})
    return out[: max_k + 1]


def zonal_values(max_k: int, dimension: int, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """h_k(a, b, c) for k = 0..max_k at points, shape (len(a), max_k + 1), by the same recurrence."""
    _check(dimension)
    a, b, c = (np.asarray(v, dtype=float) for v in (a, b, c))
    out = np.empty((a.size, max_k + 1))
    out[:, 0] = 1.0
    if max_k >= 1:
        out[:, 1] = c
    for k in range(1, max_k):
        out[:, k + 1] = ((2 * k + dimension - 2) * c * out[:, k] - k * a * b * out[:, k - 1]) / (k + dimension - 2)
    return out
