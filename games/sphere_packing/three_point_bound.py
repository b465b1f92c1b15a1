"""``three_point_bound``: one truncated three-point formulation solved, rounded to exact data, verified.

The radii: r defaults to the Cohn–Elkies optimum at the same f2 degree (the three-point function then
has the LP function's geometry to improve on; in n = 3 at degree 15, D = 8, moving r by -3% / +3%
changed the numerical bound by +1.3e-4 / -0.9e-4), R to ``truncation`` * r. ``margin`` is the margin
of the sampled univariate conditions and ``margin3`` (None: ``margin``) that of the 3-d ones; the
defaults are the sphere-packing game's, the best bounds come from margin=1e-7, margin3=1e-4 (see
:mod:`.three_point`; benchmarks/three_point.py uses those). A certificate that fails the
rigorous check at a point of a region is re-solved with that point added (an exchange driven by the
verifier), up to ``VERIFY_ROUNDS`` times.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from games.sphere_packing.bound import cohn_elkies_bound
from games.sphere_packing.solve import SolveError
from games.sphere_packing.three_point import (
    NumericalSolution,
    Radii,
    ThreePointFormulation,
    ThreePointSDP,
)
from games.sphere_packing.three_point_verify import (
    ThreePointCertificate,
    verify_three_point,
)

DEFAULT_TRUNCATION = 1.3  # R / r; with degree 7 and kernel degree 6 (the defaults) verified in n = 3, 4, 5 in under a minute
VERIFY_ROUNDS = 4
LEAD_FLOOR = 1e-6  # the top Laguerre coefficient's floor (unit-size row) once it verified <= 0: Clarabel left -5e-9 at a floor of 1e-8
INTERIOR = 1e-9  # Q_k's eigenvalues are lifted to at least this (relative) before rounding: positive definite


@dataclass(frozen=True)
class ThreePointResult:
    """A three-point bound: verified, or the reason it is not."""

    formulation: ThreePointFormulation
    verified: bool
    density: float | None  # rigorous upper bound on the packing density (rounded up)
    radius: float  # r: the minimal distance the bound is for (sphere radius r/2)
    truncation_radius: float  # R
    certificate: ThreePointCertificate | None
    reason: str = ""
    numerical_density: float | None = None  # the solver's claim, before rounding and verification
    seconds: float = 0.0
    verify_seconds: float = 0.0
    boxes: int = 0

    def artifacts(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("certificate", "formulation")}
        out["formulation"] = asdict(self.formulation)
        out["certificate"] = self.certificate.artifacts() if self.certificate else None
        return out


def certificate_from(form: ThreePointFormulation, sdp: ThreePointSDP, solution: NumericalSolution) -> ThreePointCertificate:
    """Exact data for the solver's answer: Q_k lifted inside the cone, symmetrised, then read exactly."""
    blocks = []
    for q in solution.blocks:
        w, v = np.linalg.eigh(q)
        w = np.maximum(w, INTERIOR * max(1.0, float(np.abs(w).max())))
        lifted = (v * w) @ v.T
        size = len(q)
        exact = [[Fraction(float(lifted[min(i, j), max(i, j)])) for j in range(size)] for i in range(size)]
        blocks.append(tuple(tuple(row) for row in exact))
    return ThreePointCertificate(form.dimension, Fraction(sdp.radii.r), Fraction(sdp.radii.big),
                                 tuple(sdp.basis.laguerre_coefficients(solution.f2)), tuple(blocks),
                                 form.radial_basis)


def three_point_bound(dimension: int, degree: int = 7, kernel_degree: int = 6, radius: float | None = None,
                      truncation: float = DEFAULT_TRUNCATION, *, solver: str = "clarabel",
                      margin: float = 1e-4, margin3: float | None = None,
                      radial_basis: str = "legendre", blocks: str = "triangular") -> ThreePointResult:
    """The truncated three-point upper bound on the sphere-packing density of R^``dimension``.

    ``degree``: Laguerre degree of f2 (odd); ``kernel_degree``: the largest Gegenbauer degree D of the
    three-point polynomial; ``radius``: r (None: the Cohn–Elkies optimum at ``degree``); ``truncation``:
    R / r in (1, 2): of the ratios tried, 1.45-1.6 did best in n = 3-7 but 1.2-1.225 in n = 12 and 16,
    where 1.3 lost 2.1-2.4% (benchmarks/three_point.py); ``radial_basis``: the kernel's phi, "legendre"
    (shifted Legendre, the default) or "power" (monomials); ``blocks``: which radial functions go with
    each Gegenbauer degree, "triangular" (p of degree <= D in each vector) or "rectangular" (degree D // 2
    in |u|^2 at every Gegenbauer degree; see ``ThreePointFormulation.block_sizes``). Failures of the SDP
    or of the verification are returned with ``verified=False`` and the reason; only the Cohn–Elkies
    start (radius=None) raises SolveError when it finds no radius.
    """
    start = time.perf_counter()
    form = ThreePointFormulation(dimension, degree, kernel_degree, solver, margin, margin3, radial_basis, blocks)
    if not 1 < truncation < 2:
        raise ValueError(f"truncation R / r must lie in (1, 2), got {truncation!r}")
    if radius is None:
        lp = cohn_elkies_bound(dimension, degree)
        if not lp.verified:
            raise SolveError(f"no Cohn–Elkies radius to start from: {lp.reason}")
        radius = lp.radius
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius!r}")
    radii = Radii(radius, truncation * radius)
    sdp = ThreePointSDP(form, radii)
    extra: dict[str, np.ndarray] = {}
    lead_floor = 0.0
    claimed, reason, verify_seconds, boxes, cert = None, "", 0.0, 0, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(VERIFY_ROUNDS):
            try:
                solution = sdp.solve(extra, lead_floor)
            except SolveError as exc:
                reason = str(exc)
                break
            claimed = _volume(dimension, radius) * solution.objective
            cert = certificate_from(form, sdp, solution)
            check = verify_three_point(cert)
            verify_seconds += check.seconds
            boxes += check.boxes
            if check.verified:
                return ThreePointResult(form, True, check.density, radius, truncation * radius, cert,
                                        numerical_density=claimed, seconds=time.perf_counter() - start,
                                        verify_seconds=verify_seconds, boxes=boxes)
            reason = f"the certificate does not verify: {check.reason}"
            if check.violation is None:
                break
            name, point = check.violation  # re-solve with the failing point sampled
            if name == "lead":  # the top coefficient rounded to the wrong side of 0: keep it off 0
                if lead_floor:  # already floored: the same solve again would fail the same way
                    break
                lead_floor = LEAD_FLOOR
                continue
            extra[name] = point if name not in extra else np.concatenate([extra[name], point], axis=-1)
    return ThreePointResult(form, False, None, radius, truncation * radius, cert, reason, claimed,
                            time.perf_counter() - start, verify_seconds, boxes)


def _volume(dimension: int, radius: float) -> float:
    """vol(B(r/2)) in floating point (for the solver's claim only)."""
    return math.pi ** (dimension / 2) / math.gamma(dimension / 2 + 1) * (radius / 2) ** dimension
