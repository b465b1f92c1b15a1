"""Independent, rigorous verification of a LipSDP certificate: fixed multipliers, smallest provable bound.

The solver's rho is not trusted (SCS at a loose tolerance can stop at an infeasible point whose value
is below the true optimum). What is proven, for one segment, is: for these multipliers (projected onto
the valid set: slope and group multipliers clipped at zero, identity multipliers free) and this rho,
the matrix of the certificate satisfies M(multipliers) - rho E < 0 (E = diag(I, 0) on the input
block), where M is built from the *exact* encoded, power-of-two-scaled maps of the network and the
exact QC coefficients. Then the segment's Lipschitz constant is at most ``Segment.bound(rho)``.

How: M is assembled as an enclosure (float mid, entrywise radius covering every rounding and the
irrational Helmert entries; :mod:`games.lipsdp.rigorous`). A candidate rho comes from the Schur
complement of the hidden block, computed in floats with a shift (no rigour needed there), and the
claim -(M - rho E) > 0 is then *proven* by :func:`~games.lipsdp.rigorous.positive_definite` for every
matrix within the radius. Multipliers that leave the hidden block not negative definite certify nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve

from games.lipsdp.formulation import Multipliers, Segment, blocks
from games.lipsdp.rigorous import (
    Enclosure,
    U,
    add_up,
    frobenius_up,
    inflate,
    pd_shift,
    positive_definite,
    product,
    scaled_columns,
)


@dataclass(frozen=True)
class Verified:
    bound: float | None  # the segment's certified Lipschitz bound (rounded up); None if nothing is certified
    reason: str = ""
    rho: float | None = None


def coefficients(theta: np.ndarray, mult: Multipliers) -> tuple:
    """Enclosures of the QC coefficients a = Ka theta, b, c (Ka's entries -alpha beta, alpha + beta rounded once)."""
    def apply(K: np.ndarray) -> Enclosure:
        return Enclosure(*product(K, inflate(U * np.abs(K), 1), theta, None))
    return (apply(mult.Ka) if mult.Ka.any() else None, apply(mult.Kb), apply(mult.Kc))


def project(theta: np.ndarray, mult: Multipliers) -> np.ndarray:
    out = np.array(theta, dtype=float)
    out[:mult.signed] = np.maximum(out[:mult.signed], 0.0)
    return out


def assemble(segment: Segment, thetas: list[np.ndarray], mults: list[Multipliers]) -> tuple[np.ndarray, np.ndarray]:
    """M0 (without -rho E) as a dense symmetric enclosure: (mid, radius)."""
    sizes = segment.sizes
    offsets = np.cumsum((0, *sizes))
    M, R = np.zeros((offsets[-1], offsets[-1])), np.zeros((offsets[-1], offsets[-1]))
    maps, radii = segment.maps, segment.radii

    def quad(h: int, a: Enclosure) -> Enclosure:
        left = scaled_columns(maps[h], radii[h], a.mid, a.rad)
        return Enclosure(*product(*left, maps[h], radii[h]))

    def cross(h: int, b: Enclosure) -> Enclosure:
        return Enclosure(*scaled_columns(maps[h], radii[h], b.mid, b.rad, halve=True))

    def gram() -> Enclosure:
        return Enclosure(*product(segment.out.T, segment.out_radius.T, segment.out, segment.out_radius))

    parts = blocks(len(maps), [coefficients(t, m) for t, m in zip(thetas, mults)],
                   lambda c: Enclosure(np.diag(c.mid), np.diag(c.rad)), quad, cross, gram)
    for (i, j), value in parts.items():
        if isinstance(value, int):
            continue
        for mid, rad, rows, cols in ((value.mid, value.rad, slice(offsets[i], offsets[i + 1]), slice(offsets[j], offsets[j + 1])),
                                     (value.mid.T, value.rad.T, slice(offsets[j], offsets[j + 1]), slice(offsets[i], offsets[i + 1]))):
            M[rows, cols], R[rows, cols] = mid, rad
    return M, R


def certified_bound(segment: Segment, thetas: list[np.ndarray], mults: list[Multipliers]) -> Verified:
    """The smallest bound these multipliers provably certify (rho chosen a little above the Schur complement's)."""
    thetas = [project(t, m) for t, m in zip(thetas, mults)]
    if not all(np.all(np.isfinite(t)) for t in thetas):
        return Verified(None, "the multipliers contain NaN or infinity")
    M, R = assemble(segment, thetas, mults)
    n = segment.sizes[0]
    Mxx, Mxr, Mrr = M[:n, :n], M[:n, n:], M[n:, n:]
    radius = frobenius_up(R)
    shift = pd_shift(M, radius)
    for _ in range(3):
        try:
            factor = cho_factor(-Mrr - 2 * shift * np.eye(len(Mrr)))
        except (LinAlgError, ValueError):
            worst = float(np.linalg.eigvalsh(Mrr)[-1]) if np.all(np.isfinite(Mrr)) else float("nan")
            return Verified(None, f"the multipliers leave the hidden block not negative definite beyond rounding "
                                  f"(largest eigenvalue {worst:.3g}, margin needed {2 * shift:.3g}): they certify no bound")
        schur = Mxx + Mxr @ cho_solve(factor, Mxr.T)
        top = float(np.linalg.eigvalsh((schur + schur.T) / 2)[-1])
        rho = max(top, 0.0) + 2 * shift + 8 * n * U * float(np.linalg.norm(schur))
        check = -M
        check[:n, :n] += rho * np.eye(n)
        needed = pd_shift(check, radius)
        if needed <= shift:
            break
        shift = needed
    # -M + rho E rounds once more on the input block's diagonal
    if not positive_definite(check, add_up(radius, 2 * U * float(np.max(np.abs(np.diag(check))))), shift):
        return Verified(None, "the Schur-complement bound was not proven by the rigorous positive-definiteness check "
                              "(ill-conditioned multipliers)")
    return Verified(segment.bound(rho), rho=rho)
