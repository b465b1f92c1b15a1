"""Independent verification of a LipSDP certificate: fixed multipliers, exact smallest bound.

The solver's rho is not trusted (SCS at a loose tolerance can stop at an infeasible point whose value
is below the true optimum). Instead the multipliers it returns are projected onto the valid set
(slope and group multipliers clipped at zero; identity multipliers are free), the matrix M0 of the
certificate without the -rho I term is assembled in numpy, and with x the input block and r the rest:

    M0 - rho E <= 0  <=>  M0_rr < 0  and  rho >= lambda_max(M0_xx - M0_xr M0_rr^-1 M0_rx)

(Schur complement; E = diag(I, 0)). That smallest rho is computed by Cholesky and a symmetric
eigenvalue decomposition, raised by a relative 1e-9 for rounding, and confirmed by a Cholesky
factorisation of -(M0 - rho E). Multipliers that leave M0_rr not negative definite certify nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve, LinAlgError

from games.lipsdp.formulation import Multipliers, Segment, blocks


@dataclass(frozen=True)
class Verified:
    bound: float | None  # sqrt of the smallest certified rho times the segment's scale; None if nothing is certified
    reason: str = ""


def coefficients(theta: np.ndarray, mult: Multipliers) -> tuple:
    a = mult.Ka @ theta
    return (a if mult.Ka.any() else None, mult.Kb @ theta, mult.Kc @ theta)


def project(theta: np.ndarray, mult: Multipliers) -> np.ndarray:
    out = np.array(theta, dtype=float)
    out[:mult.signed] = np.maximum(out[:mult.signed], 0.0)
    return out


def assemble(segment: Segment, thetas: list[np.ndarray], mults: list[Multipliers]) -> np.ndarray:
    """M0 as a dense symmetric matrix."""
    sizes = segment.sizes
    offsets = np.cumsum((0, *sizes))
    M = np.zeros((offsets[-1], offsets[-1]))
    parts = blocks(segment, [coefficients(t, m) for t, m in zip(thetas, mults)], np.diag,
                   lambda T, a: (T.T * a) @ T, lambda T, b: (T.T * b) / 2)
    for (i, j), value in parts.items():
        M[offsets[i]:offsets[i + 1], offsets[j]:offsets[j + 1]] += value
        if i != j:
            M[offsets[j]:offsets[j + 1], offsets[i]:offsets[i + 1]] += np.asarray(value).T
    return M


def certified_bound(segment: Segment, thetas: list[np.ndarray], mults: list[Multipliers]) -> Verified:
    thetas = [project(t, m) for t, m in zip(thetas, mults)]
    M = assemble(segment, thetas, mults)
    n = segment.sizes[0]
    Mxx, Mxr, Mrr = M[:n, :n], M[:n, n:], M[n:, n:]
    try:
        factor = cho_factor(-Mrr)
    except LinAlgError:
        worst = float(np.linalg.eigvalsh(Mrr)[-1])
        return Verified(None, f"the multipliers leave the hidden block not negative definite (largest eigenvalue "
                              f"{worst:.3g}): they certify no bound")
    schur = Mxx + Mxr @ cho_solve(factor, Mxr.T)
    rho = float(np.linalg.eigvalsh((schur + schur.T) / 2)[-1])
    rho = max(rho, 0.0) * (1 + 1e-9) + 1e-12 * max(1.0, float(np.abs(M).max()))
    check = -M
    check[:n, :n] += rho * np.eye(n)
    try:
        cho_factor(check)
    except LinAlgError:
        return Verified(None, "the Schur-complement bound did not survive a Cholesky check of the whole matrix "
                              "(ill-conditioned multipliers)")
    return Verified(math.sqrt(rho) * segment.scale)
